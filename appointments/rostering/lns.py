"""Large-neighbourhood search around the CP-SAT model.

Each step copies the model, fixes every cell outside a neighbourhood to the incumbent roster and
lets CP-SAT re-optimise the rest from a hint. Neighbourhoods: a few whole employees (swap their
patterns against each other), a window of days for everybody (move cover between people), a
mix, people around a badly covered shift and people around an unmet request
(neighbourhoods.py). Sizes adapt: a neighbourhood solved to optimality grows, one that times
out shrinks. Kinds are drawn uniformly (drawing them by recent gain per second cost Instance10
about 2 %, bench/README.md).

Runs ``threads`` searches side by side, each with a one-worker CP-SAT, since small sub-problems
use one core well and the native solver releases the GIL.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from .model import RosterModel
from .neighbourhoods import Neighbourhoods

# Time limit of one step; sizes adapt so that about half the steps finish sooner (bench/README).
STEP_SECONDS = 2.0


@dataclass
class Incumbent:
    """Best roster so far as a complete solution vector (one value per model variable)."""

    objective: int
    values: list[int]


@dataclass
class _Size:
    """Adaptive neighbourhood size for one neighbourhood kind."""

    value: float
    low: float
    high: float

    def update(self, solved: bool) -> None:
        factor = 1.15 if solved else 0.85
        self.value = min(self.high, max(self.low, self.value * factor))


class LargeNeighbourhoodSearch:
    """Improve an incumbent until a deadline; see module docstring."""

    def __init__(
        self,
        roster: RosterModel,
        incumbent: Incumbent,
        *,
        on_improve: Callable[[Incumbent], None],
        seed: int = 0,
        step_seconds: float | None = None,
    ):
        self.roster = roster
        self.incumbent = incumbent
        self.on_improve = on_improve
        self.seed = seed
        self.step_seconds = step_seconds or STEP_SECONDS
        self.lock = threading.Lock()
        self.base = roster.model.proto
        inst = roster.instance
        self.staff, self.horizon = len(inst.employees), inst.horizon
        self.cells = {
            (e, d): [roster.x[e, d, s].index for s in range(len(inst.shifts))]
            for e in range(self.staff)
            for d in range(self.horizon)
        }
        self.neighbourhoods = Neighbourhoods(roster)
        self.sizes = {
            kind: _Size(*self.neighbourhoods.initial_size(kind))
            for kind in self.neighbourhoods.kinds
        }
        self.steps = 0
        self.improvements = 0

    def run(self, deadline: float, threads: int, lower_bound: int | None = None) -> Incumbent:
        """Search until ``deadline`` (time.monotonic()) with ``threads`` parallel searches, or
        until the incumbent reaches ``lower_bound`` (then it is optimal)."""
        self.lower_bound = lower_bound if lower_bound is not None else -(10**18)
        workers = [
            threading.Thread(target=self._loop, args=(deadline, self.seed + i), daemon=True)
            for i in range(max(1, threads))
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return self.incumbent

    def _loop(self, deadline: float, seed: int) -> None:
        rng = random.Random(seed)
        while (left := deadline - time.monotonic()) > 0.05:
            if self.incumbent.objective <= self.lower_bound:
                return
            kind = rng.choice(list(self.sizes))
            seconds = min(left, self.step_seconds)
            with self.lock:
                start = self.incumbent
                free = self.neighbourhoods.draw(kind, self.sizes[kind].value, start.values, rng)
            status, objective, values = self._solve(start, free, seconds, rng.randrange(1 << 30))
            with self.lock:
                self.steps += 1
                self.sizes[kind].update(status == cp_model.OPTIMAL)
                if values is not None and objective <= self.incumbent.objective:
                    better = objective < self.incumbent.objective
                    self.incumbent = Incumbent(objective, values)
                    if better:
                        self.improvements += 1
                        self.on_improve(self.incumbent)

    def _solve(self, start: Incumbent, free: set, seconds: float, seed: int = 0):
        fixed = {
            index: start.values[index]
            for cell, indexes in self.cells.items()
            if cell not in free
            for index in indexes
        }
        return solve_fixed(self.base, fixed, start.values, seconds, seed)


def solve_fixed(base, fixed: dict[int, int], hint: list[int] | None, seconds: float, seed: int = 0):
    """Solve a copy of ``base`` with the ``fixed`` variables (proto index -> value) pinned.

    ``hint`` is a complete solution vector: a complete hint is taken as the first solution at
    once, while a partial one makes CP-SAT search for a completion first, wasting most of a
    short step. Returns (status, objective, full solution vector or None).
    """
    sub = cp_model.CpModel()
    sub.proto.copy_from(base)
    variables = sub.proto.variables
    for index, value in fixed.items():
        domain = variables[index].domain
        domain[0] = domain[1] = value
    sub.proto.clear_solution_hint()
    if hint is not None:
        sub.proto.solution_hint.vars.extend(range(len(hint)))
        sub.proto.solution_hint.values.extend(hint)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    # The full LP relaxation proves small neighbourhoods optimal ~10x faster (bench/README).
    solver.parameters.linearization_level = 2
    status = solver.solve(sub)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return status, None, None
    return status, round(solver.objective_value), list(solver.response_proto.solution)
