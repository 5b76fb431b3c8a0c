"""Fast first roster: one employee at a time, each against the cover still missing.

CP-SAT on the whole model can take most of a minute to find any roster when contracts are tight
(Instance8: 17 s). Cover is the only link between employees, so solving each employee alone
against the cover left by those before always finds a feasible roster in a few hundred
milliseconds, and a fair one: each person fills the gaps that are still open.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from ortools.sat.python import cp_model

from .instance import Assignment, CoverRequirement, Employee, Instance
from .model import build_model


def construct(
    instance: Instance,
    *,
    fixed: Assignment | None = None,
    previous: Assignment | None = None,
    change_weight: int = 0,
    seconds_per_employee: float = 0.5,
) -> dict[tuple[str, int], str | None] | None:
    """A feasible roster built greedily, or None when some employee has no feasible pattern
    (the instance is then infeasible). Raises TimeoutError if an employee could not be decided
    (never seen on the benchmark: each takes milliseconds)."""
    staffed: Counter[tuple[int, str]] = Counter()
    roster: dict[tuple[str, int], str | None] = {}
    for employee in instance.employees:
        single = _single(instance, employee, staffed)
        mine = {k: v for k, v in (fixed or {}).items() if k[0] == employee.id}
        model = build_model(single, fixed=mine, previous=previous, change_weight=change_weight)
        status, solver = _solve(model.model, seconds_per_employee)
        if status == cp_model.UNKNOWN:
            model.model.proto.clear_objective()  # any feasible pattern will do
            status, solver = _solve(model.model, 10 * seconds_per_employee)
        if status == cp_model.INFEASIBLE:
            return None
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise TimeoutError(f"no pattern found in time for employee {employee.id}")
        for (employee_id, day), shift in model.assignment(solver.value).items():
            roster[employee_id, day] = shift
            staffed[day, shift] += 1
    return roster


def _solve(model: cp_model.CpModel, seconds: float):
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 1
    solver.parameters.linearization_level = 2
    return solver.solve(model), solver


def _single(instance: Instance, employee: Employee, staffed: Counter) -> Instance:
    """The instance seen by one employee: own requests, cover reduced by who already works."""
    cover = tuple(
        CoverRequirement(
            c.day,
            c.shift,
            max(0, c.requirement - staffed[c.day, c.shift]),
            c.under_weight,
            # once the slot is full every extra person is "over"; requirement 0 prices that
            c.over_weight,
        )
        for c in instance.cover
    )
    return dataclasses.replace(
        instance,
        employees=(employee,),
        on_requests=tuple(r for r in instance.on_requests if r.employee == employee.id),
        off_requests=tuple(r for r in instance.off_requests if r.employee == employee.id),
        cover=cover,
        fairness=dataclasses.replace(instance.fairness, nights_weight=0, weekends_weight=0),
    )
