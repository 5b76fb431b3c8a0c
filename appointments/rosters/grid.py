"""What the roster page shows, read in one pass."""

from dataclasses import dataclass, field
from datetime import date

from ..models import RosterPeriod, RosterStaff
from ..rostering.verify import Evaluation, evaluate
from .messages import describe
from .problem import assignment_of, problem_for


@dataclass
class GridRow:
    member: RosterStaff
    cells: list  # (date, ShiftType | None, penalty, changed)
    minutes: int = 0
    nights: int = 0
    weekends: int = 0
    violations: list[str] = field(default_factory=list)


@dataclass
class Grid:
    period: RosterPeriod
    days: list[date]
    rows: list[GridRow]
    cover: list  # (ShiftType, [(staffed, required, penalty) per day])
    evaluation: Evaluation
    shift_types: list
    changed: int = 0
    violations: list[str] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)

    @property
    def fairness(self) -> dict:
        """Spread between the most and least loaded person: the fairness summary."""
        if not self.rows:
            return {}

        def spread(values):
            return {"min": min(values), "max": max(values), "spread": max(values) - min(values)}

        return {
            "hours": spread([round(r.minutes / 60) for r in self.rows]),
            "nights": spread([r.nights for r in self.rows]),
            "weekends": spread([r.weekends for r in self.rows]),
        }


def roster_grid(period: RosterPeriod) -> Grid:
    """Everything the roster page shows: the staff × days grid with each cell's soft penalty,
    cover per shift and day, hours, nights and weekends per person (fairness), each person's
    hard-rule violations, and the cells changed from the previous version."""
    problem = problem_for(period)
    cells = assignment_of(period, problem)
    evaluation = evaluate(problem.instance, cells)
    before = assignment_of(period.based_on, problem) if period.based_on_id else None
    penalty: dict[tuple[str, int], int] = {}
    for request in problem.instance.on_requests:
        if cells.get((request.employee, request.day)) != request.shift:
            key = (request.employee, request.day)
            penalty[key] = penalty.get(key, 0) + request.weight
    for request in problem.instance.off_requests:
        if cells.get((request.employee, request.day)) == request.shift:
            key = (request.employee, request.day)
            penalty[key] = penalty.get(key, 0) + request.weight
    weekends = problem.instance.weekends()
    names = {str(m.user_id): m.user.display_name for m in problem.staff}
    rows = []
    for member in problem.staff:
        employee = str(member.user_id)
        row = GridRow(member=member, cells=[])
        for i, day in enumerate(problem.days):
            code = cells.get((employee, i))
            shift = problem.shifts.get(code) if code else None
            changed = before is not None and before.get((employee, i)) != code
            row.cells.append((day, shift, penalty.get((employee, i), 0), changed))
            if shift is not None:
                row.minutes += shift.minutes
                row.nights += shift.night
        row.weekends = sum(1 for days in weekends if any(cells.get((employee, d)) for d in days))
        row.violations = [
            describe(v, names=names, first_day=period.start)
            for v in evaluation.violations
            if v.startswith(f"{employee}:")
        ]
        rows.append(row)
    cover = []
    requirements = {(c.day, c.shift): c for c in problem.instance.cover}
    for code, shift in problem.shifts.items():
        per_day = []
        for i in range(len(problem.days)):
            staffed = sum(1 for (e, d), c in cells.items() if d == i and c == code)
            need = requirements.get((i, code))
            required = need.requirement if need else 0
            cost = (
                (
                    need.under_weight * max(0, required - staffed)
                    + need.over_weight * max(0, staffed - required)
                )
                if need
                else 0
            )
            per_day.append((staffed, required, cost))
        if any(s or r for s, r, _c in per_day):
            cover.append((shift, per_day))
    return Grid(
        period=period,
        days=problem.days,
        rows=rows,
        cover=cover,
        evaluation=evaluation,
        shift_types=list(problem.shifts.values()),
        changed=sum(1 for row in rows for cell in row.cells if cell[3]),
        violations=[
            describe(v, names=names, first_day=period.start) for v in evaluation.violations
        ],
        explanation=[describe(e, names=names, first_day=period.start) for e in period.explanation],
    )
