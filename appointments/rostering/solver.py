"""Public entry point of the rostering optimiser: ``solve(instance, ...) -> Result``.

Three phases, all on the same CP-SAT model (model.py):

1. a greedy roster built one employee at a time (construct.py), unless a hint is given;
2. CP-SAT on the whole model from that hint, for a slice of the time: it proves small
   instances optimal and supplies the lower bound;
3. large-neighbourhood search (lns.py) for the rest of the time.

The Django layer only sees dataclasses in and out; ``on_solution(objective, bound, elapsed)`` is
called for every improving roster so that progress can be streamed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from .construct import construct
from .explain import explain_infeasibility
from .instance import Assignment, Instance
from .lns import Incumbent, LargeNeighbourhoodSearch, solve_fixed
from .model import RosterModel, build_model

ProgressCallback = Callable[[int, int, float], None]

# Share of the time limit given to the whole-model search before LNS takes over.
# It proves small instances optimal within a second or two; on large ones LNS from the greedy
# roster does better with the time (Instance8: 15% share 1454-1726, 3% share 1338-1432).
WHOLE_MODEL_SHARE = 0.03
WHOLE_MODEL_MIN_S = 2.0


@dataclass(frozen=True)
class Result:
    """Outcome of a solve.

    ``status`` is "optimal", "feasible", "infeasible" or "unknown" (no roster in time).
    ``objective`` is the minimised value: the instance objective plus ``change_weight`` per
    changed cell in a minimal-change re-solve (``changes`` counts them). ``explanation`` lists
    the hard rules that conflict when infeasible.
    """

    status: str
    objective: int | None
    best_bound: int | None
    seconds: float
    assignment: dict[tuple[str, int], str] = field(default_factory=dict)
    changes: int | None = None
    explanation: tuple[str, ...] = ()


def solve(
    instance: Instance,
    *,
    time_limit_s: float = 60.0,
    workers: int = 2,
    hint: Assignment | None = None,
    on_solution: ProgressCallback | None = None,
    fixed: Assignment | None = None,
    previous: Assignment | None = None,
    change_weight: int = 0,
    seed: int = 0,
) -> Result:
    """Find a roster of minimum cost within ``time_limit_s`` using ``workers`` threads.

    ``hint``: a roster to start from (e.g. last month's). ``fixed``: cells that must keep the
    given shift (``None`` = day off). ``previous`` + ``change_weight``: minimal-change re-solve,
    paying ``change_weight`` for every cell that differs from ``previous``.
    ``on_solution`` may be called from a search thread, never concurrently with itself.
    """
    started = time.monotonic()
    deadline = started + time_limit_s
    _check_cells(instance, hint, fixed, previous)
    roster = build_model(instance, fixed=fixed, previous=previous, change_weight=change_weight)
    tracker = _Tracker(started, on_solution)
    first = _complete(roster, hint) if hint is not None else None
    if first is None:  # no hint, or one that breaks a hard rule now (e.g. a new day off)
        start = construct(instance, fixed=fixed, previous=previous, change_weight=change_weight)
        if start is None:
            return _infeasible(instance, fixed, started)
        first = _complete(roster, start)
    if first is not None:
        tracker.improved(first.objective)
        _add_complete_hint(roster, first)
    whole_seconds = min(
        deadline - time.monotonic(), max(WHOLE_MODEL_MIN_S, time_limit_s * WHOLE_MODEL_SHARE)
    )
    status, incumbent = _solve_whole(roster, tracker, whole_seconds, workers, seed)
    if status == cp_model.INFEASIBLE:
        return _infeasible(instance, fixed, started)
    if incumbent is None or (first is not None and first.objective < incumbent.objective):
        incumbent = first
    if incumbent is None and time.monotonic() < deadline:
        # Only if the greedy roster could not be completed: keep the whole model searching.
        status, incumbent = _solve_whole(
            roster, tracker, deadline - time.monotonic(), workers, seed
        )
    if incumbent is None:
        return Result("unknown", None, tracker.bound, time.monotonic() - started)
    if status != cp_model.OPTIMAL and time.monotonic() < deadline - 0.1:
        search = LargeNeighbourhoodSearch(
            roster, incumbent, on_improve=lambda inc: tracker.improved(inc.objective), seed=seed
        )
        incumbent = search.run(deadline, workers, lower_bound=tracker.bound)
    return _result(roster, incumbent, tracker, previous, started)


class _Tracker:
    """Best objective and bound seen so far; forwards improvements to ``on_solution``."""

    def __init__(self, started: float, on_solution: ProgressCallback | None):
        self.started = started
        self.on_solution = on_solution
        self.objective: int | None = None
        self.bound: int | None = None

    def bound_seen(self, bound: float) -> None:
        self.bound = max(self.bound or 0, math.ceil(bound - 1e-6))

    def improved(self, objective: int, bound: float | None = None) -> None:
        if bound is not None:
            self.bound_seen(bound)
        if self.objective is not None and objective >= self.objective:
            return
        self.objective = objective
        if self.on_solution is not None:
            self.on_solution(objective, self.bound or 0, time.monotonic() - self.started)


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, tracker: _Tracker):
        super().__init__()
        self.tracker = tracker

    def on_solution_callback(self) -> None:
        self.tracker.improved(round(self.objective_value), self.best_objective_bound)


def _solve_whole(roster: RosterModel, tracker: _Tracker, seconds: float, workers: int, seed: int):
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, seconds)
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    solver.parameters.linearization_level = 2
    status = solver.solve(roster.model, _Callback(tracker))
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        tracker.improved(round(solver.objective_value), solver.best_objective_bound)
        values = list(solver.response_proto.solution)
        return status, Incumbent(round(solver.objective_value), values)
    if status == cp_model.UNKNOWN:
        tracker.bound_seen(solver.best_objective_bound)
    return status, None


def _complete(roster: RosterModel, start: Assignment) -> Incumbent | None:
    """The full solution vector (work days, weekends, cover slack...) of a roster, or None if
    it breaks a hard rule."""
    fixed = {var.index: value for var, value in _cell_values(roster, start)}
    status, objective, values = solve_fixed(roster.model.proto, fixed, None, 5.0)
    return None if values is None else Incumbent(objective, values)


def _cell_values(roster: RosterModel, start: Assignment):
    shift_ids = [shift.id for shift in roster.instance.shifts]
    for (e, d, s), var in roster.x.items():
        chosen = start.get((roster.instance.employees[e].id, d))
        yield var, int(chosen == shift_ids[s])


def _add_complete_hint(roster: RosterModel, incumbent: Incumbent) -> None:
    roster.model.proto.solution_hint.vars.extend(range(len(incumbent.values)))
    roster.model.proto.solution_hint.values.extend(incumbent.values)


def _result(roster, incumbent: Incumbent, tracker: _Tracker, previous, started) -> Result:
    assignment = roster.assignment(lambda var: incumbent.values[var.index])
    bound = tracker.bound
    if bound is not None:
        bound = min(bound, incumbent.objective)
    changes = None
    if previous is not None:
        cells = {
            (e.id, d) for e in roster.instance.employees for d in range(roster.instance.horizon)
        }
        changes = sum(1 for cell in cells if assignment.get(cell) != previous.get(cell))
    status = "optimal" if bound == incumbent.objective else "feasible"
    return Result(
        status, incumbent.objective, bound, time.monotonic() - started, assignment, changes
    )


def _infeasible(instance: Instance, fixed: Assignment | None, started: float) -> Result:
    explanation = explain_infeasibility(instance, fixed=fixed)
    return Result("infeasible", None, None, time.monotonic() - started, explanation=explanation)


def _check_cells(instance: Instance, *rosters: Assignment | None) -> None:
    """Reject rosters naming unknown employees, days or shifts (a programming error upstream)."""
    employees = {e.id for e in instance.employees}
    shifts = {s.id for s in instance.shifts}
    for roster in rosters:
        for (employee, day), shift in (roster or {}).items():
            if employee not in employees or not 0 <= day < instance.horizon:
                raise ValueError(f"unknown cell ({employee!r}, {day})")
            if shift is not None and shift not in shifts:
                raise ValueError(f"unknown shift {shift!r} for ({employee!r}, {day})")
