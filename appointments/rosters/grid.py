"""What the roster page shows, read in one pass."""

from dataclasses import dataclass, field
from datetime import date

from ..models import RosterPeriod, RosterStaff
from ..rostering.verify import Evaluation, evaluate
from .messages import describe, violation_cells
from .problem import assignment_of, problem_for


@dataclass
class GridCell:
    """One person's day: the shift (None: off), its request penalty, whether it differs from
    the previous version, and the hard rules broken on it (sentences)."""

    day: date
    shift: object  # ShiftType | None
    penalty: int = 0
    changed: bool = False
    violations: list[str] = field(default_factory=list)


@dataclass
class GridRow:
    member: RosterStaff
    cells: list[GridCell]
    minutes: int = 0
    nights: int = 0
    weekends: int = 0
    violations: list[str] = field(default_factory=list)


@dataclass
class Grid:
    period: RosterPeriod
    days: list[date]
    rows: list[GridRow]
    cover: list  # (ShiftType, [(day, staffed, required, penalty) per day])
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
    penalty = _cell_penalties(problem.instance, cells)
    weekends = problem.instance.weekends()
    names = {str(m.user_id): m.user.display_name for m in problem.staff}
    described = [describe(v, names=names, first_day=period.start) for v in evaluation.violations]
    on_cells: dict[tuple[str, int], list[str]] = {}
    on_rows: dict[str, list[str]] = {}
    for violation, text in zip(evaluation.violations, described, strict=True):
        employee, days = violation_cells(violation)
        on_rows.setdefault(employee, []).append(text)
        for i in days:
            on_cells.setdefault((employee, i), []).append(text)
    rows = []
    for member in problem.staff:
        employee = str(member.user_id)
        row = GridRow(member=member, cells=[], violations=on_rows.get(employee, []))
        for i, day in enumerate(problem.days):
            code = cells.get((employee, i))
            shift = problem.shifts.get(code) if code else None
            row.cells.append(
                GridCell(
                    day=day,
                    shift=shift,
                    penalty=penalty.get((employee, i), 0),
                    changed=before is not None and before.get((employee, i)) != code,
                    violations=on_cells.get((employee, i), []),
                )
            )
            if shift is not None:
                row.minutes += shift.minutes
                row.nights += shift.night
        row.weekends = sum(1 for days in weekends if any(cells.get((employee, d)) for d in days))
        rows.append(row)
    return Grid(
        period=period,
        days=problem.days,
        rows=rows,
        cover=_cover_rows(problem, cells),
        evaluation=evaluation,
        shift_types=list(problem.shifts.values()),
        changed=sum(1 for row in rows for cell in row.cells if cell.changed),
        violations=described,
        explanation=[describe(e, names=names, first_day=period.start) for e in period.explanation],
    )


def _cell_penalties(instance, cells) -> dict[tuple[str, int], int]:
    """Each cell's share of the request penalty: wishes to work a shift not met there, wishes
    not to work one that is."""
    penalty: dict[tuple[str, int], int] = {}
    for request in instance.on_requests:
        if cells.get((request.employee, request.day)) != request.shift:
            key = (request.employee, request.day)
            penalty[key] = penalty.get(key, 0) + request.weight
    for request in instance.off_requests:
        if cells.get((request.employee, request.day)) == request.shift:
            key = (request.employee, request.day)
            penalty[key] = penalty.get(key, 0) + request.weight
    return penalty


def _cover_rows(problem, cells) -> list:
    """(shift type, [(day, staffed, required, penalty)]) for each shift type in use."""
    cover = []
    requirements = {(c.day, c.shift): c for c in problem.instance.cover}
    for code, shift in problem.shifts.items():
        per_day = []
        for i, day in enumerate(problem.days):
            staffed = sum(1 for (_e, d), c in cells.items() if d == i and c == code)
            need = requirements.get((i, code))
            required = need.requirement if need else 0
            cost = (
                need.under_weight * max(0, required - staffed)
                + need.over_weight * max(0, staffed - required)
                if need
                else 0
            )
            per_day.append((day, staffed, required, cost))
        if any(s or r for _d, s, r, _c in per_day):
            cover.append((shift, per_day))
    return cover
