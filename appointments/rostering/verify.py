"""Independent checker for rosters: objective and hard-constraint violations.

Written straight from the benchmark's rule text, sharing no code with the CP-SAT model (and not
importing OR-Tools), so tests and benchmarks can trust a solver result only after this module
agrees with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .instance import Assignment, Employee, Instance


@dataclass(frozen=True)
class Evaluation:
    """What a roster costs and which hard rules it breaks (empty ``violations`` = feasible)."""

    objective: int
    violations: tuple[str, ...]
    request_cost: int
    cover_cost: int
    fairness_cost: int

    @property
    def feasible(self) -> bool:
        """True when no hard constraint is broken."""
        return not self.violations


def evaluate(instance: Instance, assignment: Assignment) -> Evaluation:
    """Objective and hard-constraint violations of ``assignment`` ({(employee, day): shift})."""
    violations = _unknown_cells(instance, assignment)
    known = {shift.id for shift in instance.shifts}
    # Unknown shifts are reported above and otherwise read as days off.
    rows = {
        employee.id: [
            shift if (shift := assignment.get((employee.id, day))) in known else None
            for day in range(instance.horizon)
        ]
        for employee in instance.employees
    }
    for employee in instance.employees:
        violations.extend(_employee_violations(instance, employee, rows[employee.id]))
    request_cost = _request_cost(instance, rows)
    cover_cost = _cover_cost(instance, rows)
    fairness_cost = _fairness_cost(instance, rows)
    return Evaluation(
        objective=request_cost + cover_cost + fairness_cost,
        violations=tuple(violations),
        request_cost=request_cost,
        cover_cost=cover_cost,
        fairness_cost=fairness_cost,
    )


def _unknown_cells(instance: Instance, assignment: Assignment) -> list[str]:
    employees = {e.id for e in instance.employees}
    shifts = {s.id for s in instance.shifts}
    problems = []
    for (employee, day), shift in assignment.items():
        if employee not in employees:
            problems.append(f"unknown employee {employee!r} on day {day}")
        if not 0 <= day < instance.horizon:
            problems.append(f"{employee}: day {day} is outside the horizon")
        if shift is not None and shift not in shifts:
            problems.append(f"{employee}: unknown shift {shift!r} on day {day}")
    return problems


def _employee_violations(instance: Instance, employee: Employee, row: list) -> list[str]:
    name = employee.id
    problems = []
    for day, shift in enumerate(row):
        if shift is not None and day in employee.days_off:
            problems.append(f"{name}: works {shift} on day {day}, a day off")
    for day in range(len(row) - 1):
        today, tomorrow = row[day], row[day + 1]
        if today is not None and tomorrow is not None:
            if tomorrow in instance.shift(today).forbidden_next:
                problems.append(f"{name}: {tomorrow} on day {day + 1} may not follow {today}")
    counts = Counter(shift for shift in row if shift is not None)
    for shift, count in sorted(counts.items()):
        limit = employee.max_shifts.get(shift)
        if limit is not None and count > limit:
            problems.append(f"{name}: {count} {shift} shifts, at most {limit} allowed")
    minutes = sum(instance.shift(shift).minutes for shift in row if shift is not None)
    if minutes > employee.max_total_minutes:
        problems.append(f"{name}: works {minutes} min, more than {employee.max_total_minutes}")
    if minutes < employee.min_total_minutes:
        problems.append(f"{name}: works {minutes} min, less than {employee.min_total_minutes}")
    problems.extend(_block_violations(employee, row))
    weekends = sum(1 for days in instance.weekends() if any(row[day] is not None for day in days))
    if weekends > employee.max_weekends:
        problems.append(f"{name}: works {weekends} weekends, at most {employee.max_weekends}")
    return problems


def _blocks(row: list) -> list[tuple[bool, int, int]]:
    """Maximal runs of working / resting days as (working, first day, length)."""
    blocks: list[tuple[bool, int, int]] = []
    for day, shift in enumerate(row):
        working = shift is not None
        if blocks and blocks[-1][0] == working:
            kind, start, length = blocks[-1]
            blocks[-1] = (kind, start, length + 1)
        else:
            blocks.append((working, day, 1))
    return blocks


def _block_violations(employee: Employee, row: list) -> list[str]:
    name = employee.id
    last = len(row) - 1
    problems = []
    for working, start, length in _blocks(row):
        end = start + length - 1
        inner = start > 0 and end < last  # blocks touching either end are exempt from minimums
        if working and length > employee.max_consecutive_shifts:
            problems.append(
                f"{name}: {length} working days in a row from day {start}, "
                f"at most {employee.max_consecutive_shifts}"
            )
        if working and inner and length < employee.min_consecutive_shifts:
            problems.append(
                f"{name}: only {length} working days in a row from day {start}, "
                f"at least {employee.min_consecutive_shifts}"
            )
        if not working and inner and length < employee.min_consecutive_days_off:
            problems.append(
                f"{name}: only {length} days off in a row from day {start}, "
                f"at least {employee.min_consecutive_days_off}"
            )
    return problems


def _request_cost(instance: Instance, rows: dict[str, list]) -> int:
    cost = 0
    for request in instance.on_requests:
        if rows[request.employee][request.day] != request.shift:
            cost += request.weight
    for request in instance.off_requests:
        if rows[request.employee][request.day] == request.shift:
            cost += request.weight
    return cost


def _cover_cost(instance: Instance, rows: dict[str, list]) -> int:
    cost = 0
    for cover in instance.cover:
        staffed = sum(1 for row in rows.values() if row[cover.day] == cover.shift)
        cost += cover.under_weight * max(0, cover.requirement - staffed)
        cost += cover.over_weight * max(0, staffed - cover.requirement)
    return cost


def _fairness_cost(instance: Instance, rows: dict[str, list]) -> int:
    fairness = instance.fairness
    if not fairness.active or not rows:
        return 0
    nights = [sum(1 for s in row if s in fairness.night_shifts) for row in rows.values()]
    weekends = [
        sum(1 for days in instance.weekends() if any(row[d] is not None for d in days))
        for row in rows.values()
    ]
    cost = fairness.nights_weight * (max(nights) - min(nights)) if fairness.night_shifts else 0
    return cost + fairness.weekends_weight * (max(weekends) - min(weekends))
