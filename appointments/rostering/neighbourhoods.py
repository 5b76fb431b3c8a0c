"""Which cells an LNS step sets free.

Kinds, each with its own adaptive size (see lns.py):

- ``employees``: a few whole rows (the people swap patterns);
- ``days``: a window of days for everybody (cover moves between people);
- ``mixed``: more people over half the horizon;
- ``cover``: people able to work a badly covered shift, around that day. Random neighbourhoods
  rarely hit the few night slots left uncovered on Instance8; aiming at them does.
"""

from __future__ import annotations

import random

from .model import RosterModel

Cells = set[tuple[int, int]]


class Neighbourhoods:
    """Draws neighbourhoods for one model; cells are (employee index, day)."""

    kinds = ("employees", "days", "mixed", "cover")

    def __init__(self, roster: RosterModel):
        inst = roster.instance
        self.staff, self.horizon = len(inst.employees), inst.horizon
        shift_index = {shift.id: s for s, shift in enumerate(inst.shifts)}
        self.x = {key: var.index for key, var in roster.x.items()}
        self.cover = [
            (c.day, shift_index[c.shift], c.requirement, c.under_weight, c.over_weight)
            for c in inst.cover
        ]
        self.able = {
            s: [e for e, emp in enumerate(inst.employees) if emp.allows(shift.id)]
            for s, shift in enumerate(inst.shifts)
        }

    def initial_size(self, kind: str) -> tuple[float, float, float]:
        """(start, low, high) size of a kind."""
        return {
            "employees": (3.0, 2.0, float(self.staff)),
            "days": (5.0, 2.0, float(self.horizon)),
            "mixed": (6.0, 3.0, float(self.staff)),
            "cover": (6.0, 2.0, float(self.staff)),
        }[kind]

    def draw(self, kind: str, size: float, values: list[int], rng: random.Random) -> Cells:
        """The free cells of one step of ``kind`` around the incumbent ``values``."""
        count = max(1, min(self.staff, round(size)))
        if kind == "cover":
            cells = self._cover(count, values, rng)
            if cells:
                return cells
            kind = "employees"
        everybody, days = range(self.staff), range(self.horizon)
        if kind == "employees":
            return {(e, d) for e in rng.sample(everybody, count) for d in days}
        if kind == "days":
            length = max(1, min(self.horizon, round(size)))
            first = rng.randrange(self.horizon - length + 1)
            return {(e, d) for e in everybody for d in range(first, first + length)}
        length = min(self.horizon, max(7, self.horizon // 2))
        first = rng.randrange(self.horizon - length + 1)
        return {(e, d) for e in rng.sample(everybody, count) for d in range(first, first + length)}

    def _cover(self, count: int, values: list[int], rng: random.Random) -> Cells:
        slots, weights = [], []
        for day, s, requirement, under, over in self.cover:
            staffed = sum(values[self.x[e, day, s]] for e in range(self.staff))
            cost = under * max(0, requirement - staffed) + over * max(0, staffed - requirement)
            if cost:
                slots.append((day, s))
                weights.append(cost)
        if not slots:
            return set()
        day, s = rng.choices(slots, weights=weights)[0]
        people = self.able[s] or list(range(self.staff))
        chosen = rng.sample(people, min(len(people), count))
        reach = rng.choice((3, 7, self.horizon))
        days = range(max(0, day - reach), min(self.horizon, day + reach + 1))
        return {(e, d) for e in chosen for d in days}
