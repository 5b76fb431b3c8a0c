"""Comparing two versions of a roster: the versions of a department's roster for the same days
(each a ``RosterPeriod``: a fresh draft, a "new version" of a published roster, a sick call's
re-solve), the cells that differ between two of them, and what each costs under today's rules."""

from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from ..models import RosterPeriod
from ..rostering.verify import Evaluation, evaluate
from .problem import assignment_of, problem_for


@dataclass(frozen=True)
class CompareCell:
    """One person's day in both versions (a ShiftType or None for a day off)."""

    day: date
    old: object
    new: object

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass
class CompareRow:
    user_id: int
    name: str
    cells: list[CompareCell] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(1 for cell in self.cells if cell.changed)


@dataclass
class Comparison:
    """Version ``a`` (the older, usually) against version ``b``, cell by cell."""

    a: RosterPeriod
    b: RosterPeriod
    evaluation_a: Evaluation
    evaluation_b: Evaluation
    days: list[date]
    rows: list[CompareRow]

    @property
    def changed(self) -> int:
        return sum(row.changes for row in self.rows)

    @property
    def delta(self) -> int:
        """Penalty of ``b`` less penalty of ``a`` (negative: ``b`` is better)."""
        return self.evaluation_b.objective - self.evaluation_a.objective


def roster_versions(period: RosterPeriod) -> QuerySet:
    """Every version of ``period``'s roster: the department's rosters for the same days."""
    return (
        RosterPeriod.objects.filter(
            department_id=period.department_id, start=period.start, days=period.days
        )
        .select_related("created_by")
        .order_by("created_at", "pk")
    )


def roster_compare(a: RosterPeriod, b: RosterPeriod) -> Comparison:
    """The cells where versions ``a`` and ``b`` (of the same days) differ, per person, and both
    versions' penalty and broken rules checked by the verifier with today's rules."""
    problem = problem_for(b)
    old, new = assignment_of(a, problem), assignment_of(b, problem)
    rows = [
        CompareRow(user_id=member.user_id, name=member.user.display_name)
        for member in problem.staff
    ]
    listed = {str(row.user_id) for row in rows}
    others = {employee for employee, _day in (*old, *new)} - listed
    # People no longer on the roster who worked in either version still show their changes.
    for user in get_user_model().objects.filter(pk__in=others).order_by("username"):
        rows.append(CompareRow(user_id=user.pk, name=user.display_name))
    for row in rows:
        employee = str(row.user_id)
        for i, day in enumerate(problem.days):
            was, now = old.get((employee, i)), new.get((employee, i))
            row.cells.append(
                CompareCell(
                    day=day,
                    old=problem.shifts.get(was) if was else None,
                    new=problem.shifts.get(now) if now else None,
                )
            )
    return Comparison(
        a=a,
        b=b,
        evaluation_a=evaluate(problem.instance, old),
        evaluation_b=evaluate(problem.instance, new),
        days=problem.days,
        rows=rows,
    )
