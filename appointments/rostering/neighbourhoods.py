"""Which cells an LNS step sets free.

Kinds, each with its own adaptive size (see lns.py):

- ``employees``: a few whole rows (the people swap patterns);
- ``days``: a window of days for everybody (cover moves between people), half of the time over
  the day of an unmet request;
- ``mixed``: more people over half the horizon;
- ``cover``: people able to work a badly covered shift, around that day. Random neighbourhoods
  rarely hit the few night slots left uncovered on Instance8; aiming at them does. Half of the
  people are off that day (they could take the shift); half of the time one more person, who
  works an over-covered slot, joins them and all are freed over the days between the two slots,
  to move a wasted shift over (Instance5's last uncovered shift needs that).
- ``requests``: the owner of an unmet shift request, drawn by weight, with others able to work
  that shift, around that day: once cover is settled (Instances 7 and 9) the rest of the cost is
  requests that need a swap with someone working that day.
"""

from __future__ import annotations

import random

from .model import RosterModel

Cells = set[tuple[int, int]]


class Neighbourhoods:
    """Draws neighbourhoods for one model; cells are (employee index, day)."""

    kinds = ("employees", "days", "mixed", "cover", "requests")

    def __init__(self, roster: RosterModel):
        inst = roster.instance
        self.staff, self.horizon = len(inst.employees), inst.horizon
        shift_index = {shift.id: s for s, shift in enumerate(inst.shifts)}
        self.x = {key: var.index for key, var in roster.x.items()}
        self.cover = [
            (c.day, shift_index[c.shift], c.requirement, c.under_weight, c.over_weight)
            for c in inst.cover
        ]
        employees = {employee.id: e for e, employee in enumerate(inst.employees)}
        # (employee, day, shift, weight, wanted): costs when the cell's value != wanted
        self.requests = [
            (employees[r.employee], r.day, shift_index[r.shift], r.weight, 1)
            for r in inst.on_requests
        ] + [
            (employees[r.employee], r.day, shift_index[r.shift], r.weight, 0)
            for r in inst.off_requests
        ]
        self.shifts = range(len(inst.shifts))
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
            "requests": (6.0, 2.0, float(self.staff)),
        }[kind]

    def draw(self, kind: str, size: float, values: list[int], rng: random.Random) -> Cells:
        """The free cells of one step of ``kind`` around the incumbent ``values``."""
        count = max(1, min(self.staff, round(size)))
        if kind == "cover":
            cells = self._cover(count, values, rng)
            if cells:
                return cells
            kind = "employees"
        if kind == "requests":
            cells = self._requests(count, values, rng)
            if cells:
                return cells
            kind = "days"
        everybody, days = range(self.staff), range(self.horizon)
        if kind == "employees":
            return {(e, d) for e in rng.sample(everybody, count) for d in days}
        if kind == "days":
            length = max(1, min(self.horizon, round(size)))
            first = rng.randrange(self.horizon - length + 1)
            unmet = self._unmet(values)
            if unmet and rng.random() < 0.5:  # a window over an unmet request
                day = rng.choices(unmet, weights=[r[3] for r in unmet])[0][1]
                low, high = max(0, day - length + 1), min(day, self.horizon - length)
                first = rng.randint(low, max(low, high))
            return {(e, d) for e in everybody for d in range(first, first + length)}
        length = min(self.horizon, max(7, self.horizon // 2))
        first = rng.randrange(self.horizon - length + 1)
        return {(e, d) for e in rng.sample(everybody, count) for d in range(first, first + length)}

    def _cover(self, count: int, values: list[int], rng: random.Random) -> Cells:
        slots, weights, surplus = [], [], []
        for day, s, requirement, under, over in self.cover:
            staffed = sum(values[self.x[e, day, s]] for e in range(self.staff))
            cost = under * max(0, requirement - staffed) + over * max(0, staffed - requirement)
            if cost:
                slots.append((day, s))
                weights.append(cost)
            if staffed > requirement:
                surplus.append((day, s))
        if not slots:
            return set()
        day, s = rng.choices(slots, weights=weights)[0]
        people = self.able[s] or list(range(self.staff))
        # half of them off that day: the ones who could take the missing shift
        off = [e for e in people if not any(values[self.x[e, day, t]] for t in self.shifts)]
        chosen = rng.sample(off, min(len(off), (count + 1) // 2))
        if surplus and rng.random() < 0.5:
            # a shift wasted on an over-covered slot: move it over, through the days between
            other_day, t = rng.choice(surplus)
            wasted = [e for e in range(self.staff) if values[self.x[e, other_day, t]]]
            chosen.append(rng.choice([e for e in wasted if e not in chosen] or wasted))
            first, last = sorted((day, other_day))
            days = range(max(0, first - 3), min(self.horizon, last + 4))
        else:
            days = None
        rest = [e for e in people if e not in chosen]
        chosen += rng.sample(rest, max(0, min(len(rest), count - len(chosen))))
        if days is not None:
            return {(e, d) for e in chosen for d in days}
        return self._around(chosen, day, rng)

    def _requests(self, count: int, values: list[int], rng: random.Random) -> Cells:
        unmet = self._unmet(values)
        if not unmet:
            return set()
        e, day, s, _, _ = rng.choices(unmet, weights=[r[3] for r in unmet])[0]
        others = [other for other in (self.able[s] or range(self.staff)) if other != e]
        # someone on that shift that day, to swap with
        on_it = [other for other in others if values[self.x[other, day, s]]]
        chosen = [e] + rng.sample(on_it, min(len(on_it), 1))
        others = [other for other in others if other not in chosen]
        chosen += rng.sample(others, max(0, min(len(others), count - len(chosen))))
        return self._around(chosen, day, rng)

    def _unmet(self, values: list[int]) -> list:
        return [r for r in self.requests if values[self.x[r[0], r[1], r[2]]] != r[4]]

    def _around(self, chosen: list[int], day: int, rng: random.Random) -> Cells:
        reach = rng.choice((3, 7, self.horizon))
        days = range(max(0, day - reach), min(self.horizon, day + reach + 1))
        return {(e, d) for e in chosen for d in days}
