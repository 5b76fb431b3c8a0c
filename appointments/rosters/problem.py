"""The adapter between Django rows and the optimiser's dataclasses: a RosterPeriod becomes an
``Instance`` (staff, contracts, approved requests and leave, cover, fairness), a stored roster
an ``Assignment``, and any roster is checked by the core's independent verifier."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType

from django.conf import settings
from django.core.exceptions import PermissionDenied

from clinic.audit import Actor
from clinic.models import Role

from ..models import (
    CoverRequirement,
    RosterAssignment,
    RosterPeriod,
    RosterStaff,
    ShiftType,
    StaffRequest,
)
from ..rostering.instance import (
    CoverRequirement as CoreCover,
)
from ..rostering.instance import (
    Employee,
    Fairness,
    Instance,
    ShiftRequest,
)
from ..rostering.instance import (
    ShiftType as CoreShift,
)
from ..rostering.verify import Evaluation, evaluate

ROSTER_ROLES = (Role.SCHEDULER, Role.ADMIN)
Assignment = dict[tuple[str, int], str]


def can_manage_rosters(user) -> bool:
    return user.is_authenticated and user.is_active and user.role in ROSTER_ROLES


def _require_manager(actor: Actor) -> None:
    if not can_manage_rosters(actor.user):
        raise PermissionDenied


@dataclass
class Problem:
    """A period as the optimiser sees it, with the maps back to rows."""

    instance: Instance
    staff: list  # RosterStaff rows, in employee order
    shifts: dict[str, ShiftType]
    days: list[date] = field(default_factory=list)

    def day_index(self, day: date) -> int:
        return (day - self.days[0]).days


def problem_for(period: RosterPeriod) -> Problem:
    """Build the optimiser's instance for ``period``."""
    days = [period.start + timedelta(days=i) for i in range(period.days)]
    shifts = {s.code: s for s in ShiftType.objects.prefetch_related("cannot_follow")}
    staff = list(
        RosterStaff.objects.filter(department=period.department, active=True)
        .select_related("user", "contract")
        .order_by("user__username")
    )
    requests = list(
        StaffRequest.objects.filter(
            user__in=[s.user for s in staff],
            status=StaffRequest.Status.APPROVED,
            date__lte=days[-1],
        ).select_related("shift_type")
    )
    core_shifts = tuple(
        CoreShift(
            id=code,
            minutes=shift.minutes,
            forbidden_next=frozenset(s.code for s in shift.cannot_follow.all()),
        )
        for code, shift in shifts.items()
    )
    employees, on_requests, off_requests = [], [], []
    for member in staff:
        mine = [r for r in requests if r.user_id == member.user_id]
        days_off = {
            i
            for i, day in enumerate(days)
            for r in mine
            if r.kind in (StaffRequest.Kind.DAY_OFF, StaffRequest.Kind.LEAVE) and r.covers(day)
        }
        employees.append(_employee(member, days_off, shifts))
        for r in mine:
            if r.kind in (StaffRequest.Kind.SHIFT_ON, StaffRequest.Kind.SHIFT_OFF) and (
                days[0] <= r.date <= days[-1]
            ):
                request = ShiftRequest(
                    employee=str(member.user_id),
                    day=(r.date - days[0]).days,
                    shift=r.shift_type.code,
                    weight=r.weight,
                )
                (on_requests if r.kind == StaffRequest.Kind.SHIFT_ON else off_requests).append(
                    request
                )
    instance = Instance(
        horizon=len(days),
        shifts=core_shifts,
        employees=tuple(employees),
        on_requests=tuple(on_requests),
        off_requests=tuple(off_requests),
        cover=_cover(period, days),
        fairness=Fairness(
            night_shifts=frozenset(code for code, s in shifts.items() if s.night),
            nights_weight=settings.ROSTER_FAIRNESS_NIGHTS_WEIGHT,
            weekends_weight=settings.ROSTER_FAIRNESS_WEEKENDS_WEIGHT,
        ),
        first_weekday=days[0].weekday(),
    )
    return Problem(instance=instance, staff=staff, shifts=shifts, days=days)


def _employee(member: RosterStaff, days_off: set[int], shifts) -> Employee:
    contract = member.contract
    limits = {code: int(n) for code, n in (contract.max_shifts or {}).items() if code in shifts}
    return Employee(
        id=str(member.user_id),
        max_shifts=MappingProxyType(limits),
        max_total_minutes=contract.max_total_minutes,
        min_total_minutes=contract.min_total_minutes,
        max_consecutive_shifts=contract.max_consecutive_shifts,
        min_consecutive_shifts=contract.min_consecutive_shifts,
        min_consecutive_days_off=contract.min_consecutive_days_off,
        max_weekends=contract.max_weekends,
        days_off=frozenset(days_off),
    )


def _cover(period: RosterPeriod, days: list[date]) -> tuple[CoreCover, ...]:
    rows = list(
        CoverRequirement.objects.filter(department=period.department).select_related("shift_type")
    )
    cover = {}
    for i, day in enumerate(days):
        for row in rows:  # weekday rows first, a dated row for the same shift overrides
            if row.date is None and row.weekday == day.weekday():
                cover[(i, row.shift_type.code)] = row
        for row in rows:
            if row.date == day:
                cover[(i, row.shift_type.code)] = row
    return tuple(
        CoreCover(
            day=i,
            shift=code,
            requirement=row.required,
            under_weight=row.under_weight,
            over_weight=row.over_weight,
        )
        for (i, code), row in sorted(cover.items())
    )


def assignment_of(period: RosterPeriod, problem: Problem) -> Assignment:
    """The period's stored roster in the optimiser's terms."""
    cells = {}
    for row in period.assignments.select_related("shift_type"):
        if problem.days[0] <= row.date <= problem.days[-1]:
            cells[(str(row.user_id), problem.day_index(row.date))] = row.shift_type.code
    return cells


def roster_evaluate(period: RosterPeriod, problem: Problem | None = None) -> Evaluation:
    problem = problem or problem_for(period)
    return evaluate(problem.instance, assignment_of(period, problem))


def _store(period: RosterPeriod, problem: Problem, assignment: Assignment) -> None:
    period.assignments.all().delete()
    RosterAssignment.objects.bulk_create(
        RosterAssignment(
            period=period,
            user_id=int(employee),
            date=problem.days[day],
            shift_type=problem.shifts[code],
        )
        for (employee, day), code in assignment.items()
        if code is not None
    )


def _known_cells(problem: Problem, cells: Assignment) -> Assignment:
    employees = {e.id for e in problem.instance.employees}
    return {
        key: code
        for key, code in cells.items()
        if key[0] in employees and 0 <= key[1] < problem.instance.horizon and code in problem.shifts
    }


def _previous_roster(period: RosterPeriod, problem: Problem) -> Assignment:
    """The department's latest published roster on the same dates: the warm start."""
    previous = (
        RosterPeriod.objects.filter(
            department=period.department, status=RosterPeriod.Status.PUBLISHED
        )
        .exclude(pk=period.pk)
        .order_by("-published_at")
        .first()
    )
    return assignment_of(previous, problem) if previous else {}
