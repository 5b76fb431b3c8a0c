"""Rosters in the app: the adapter between Django rows and the optimiser's dataclasses, and the
services that create, solve, edit and publish roster versions.

The optimiser core (appointments/rostering/) knows nothing of Django; this module builds its
``Instance`` from a RosterPeriod (staff, contracts, approved requests and leave, cover), stores
its result as RosterAssignment rows, and checks any roster with the core's independent verifier.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Role

from .errors import BookingError
from .models import (
    CoverRequirement,
    RosterAssignment,
    RosterPeriod,
    RosterStaff,
    ShiftType,
    StaffRequest,
)
from .rostering.instance import (
    CoverRequirement as CoreCover,
)
from .rostering.instance import (
    Employee,
    Fairness,
    Instance,
    ShiftRequest,
)
from .rostering.instance import (
    ShiftType as CoreShift,
)
from .rostering.verify import Evaluation, evaluate

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


@transaction.atomic
def roster_create(*, actor: Actor, department, start: date, days: int, based_on=None):
    _require_manager(actor)
    if not 1 <= days <= 62:
        raise BookingError("days_invalid", _("A roster covers 1 to 62 days."))
    period = RosterPeriod.objects.create(
        department=department, start=start, days=days, created_by=actor.user, based_on=based_on
    )
    if based_on is not None:
        RosterAssignment.objects.bulk_create(
            RosterAssignment(
                period=period, user_id=a.user_id, date=a.date, shift_type_id=a.shift_type_id
            )
            for a in based_on.assignments.filter(
                date__gte=start, date__lt=start + timedelta(days=days)
            )
        )
    audit_record(actor=actor, action=AuditAction.CREATE, obj=period)
    return period


def roster_solve_start(*, actor: Actor, period_id, minimal_change: bool = False) -> RosterPeriod:
    """Queue the optimiser for a roster version (on the ``scheduling`` queue); with
    ``minimal_change`` it keeps as much of the current roster as the rules allow."""
    _require_manager(actor)
    with transaction.atomic():
        claimed = RosterPeriod.objects.filter(
            pk=period_id,
            status__in=[
                RosterPeriod.Status.DRAFT,
                RosterPeriod.Status.PROPOSED,
                RosterPeriod.Status.FAILED,
            ],
        ).update(
            status=RosterPeriod.Status.SOLVING, progress=[], explanation=[], cancel_requested=False
        )
        if not claimed:
            raise BookingError("not_solvable", _("This roster is being solved or is published."))
        period = RosterPeriod.objects.get(pk=period_id)
        audit_record(
            actor=actor, action=AuditAction.UPDATE, obj=period, details={"solve": "started"}
        )
        from .tasks import roster_solve

        transaction.on_commit(lambda: roster_solve.delay(period.pk, minimal_change))
    return period


def roster_solve_cancel(*, actor: Actor, period_id) -> None:
    _require_manager(actor)
    RosterPeriod.objects.filter(pk=period_id, status=RosterPeriod.Status.SOLVING).update(
        cancel_requested=True
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


def roster_solve_run(period_id: int, *, minimal_change: bool = False) -> str:
    """Run the optimiser for a claimed period (the worker's side of ``roster_solve_start``).

    Solves in slices of ``ROSTER_SLICE_SECONDS``, each warm-started from the best roster so far,
    so a cancel request stops it within a slice; every improving roster is appended to
    ``progress`` as it is found, for the live chart. Idempotent: a period no longer "solving"
    (done, cancelled, redelivered) is left alone.
    """
    import time

    from .rostering.solver import solve

    period = RosterPeriod.objects.filter(pk=period_id, status=RosterPeriod.Status.SOLVING).first()
    if period is None:
        return "skipped"
    problem = problem_for(period)
    current = _known_cells(problem, assignment_of(period, problem))
    start = current or _known_cells(problem, _previous_roster(period, problem)) or None
    began = time.monotonic()
    progress: list[dict] = []
    best = None

    def on_solution(objective: int, bound: int, elapsed: float) -> None:
        if best is not None and objective >= (best.objective or 0):
            return
        progress.append(
            {"objective": objective, "bound": bound, "seconds": round(time.monotonic() - began, 2)}
        )
        RosterPeriod.objects.filter(pk=period_id).update(progress=progress)

    limit = settings.ROSTER_TIME_LIMIT_SECONDS
    while (remaining := limit - (time.monotonic() - began)) > 0.5:
        if RosterPeriod.objects.filter(pk=period_id, cancel_requested=True).exists():
            break
        result = solve(
            problem.instance,
            time_limit_s=min(settings.ROSTER_SLICE_SECONDS, remaining),
            workers=settings.ROSTER_WORKERS,
            hint=best.assignment if best else start,
            previous=current if minimal_change and current else None,
            change_weight=settings.ROSTER_CHANGE_WEIGHT if minimal_change and current else 0,
            on_solution=on_solution,
        )
        if result.status == "infeasible":
            return _solve_failed(
                period_id,
                list(result.explanation)
                or [_("The rules of the contracts, days off and leave cannot all hold together.")],
            )
        if result.assignment and (best is None or result.objective <= best.objective):
            best = result
        if result.status == "optimal":
            break
    if best is None:
        if RosterPeriod.objects.filter(pk=period_id, cancel_requested=True).exists():
            RosterPeriod.objects.filter(pk=period_id).update(status=RosterPeriod.Status.DRAFT)
            return "cancelled"
        return _solve_failed(period_id, [_("No roster was found within the time limit.")])
    with transaction.atomic():
        period = RosterPeriod.objects.select_for_update().get(pk=period_id)
        _store(period, problem, best.assignment)
        period.status = RosterPeriod.Status.PROPOSED
        period.objective = evaluate(problem.instance, best.assignment).objective
        period.best_bound = best.best_bound
        period.progress = progress
        period.save(update_fields=["status", "objective", "best_bound", "progress"])
    return best.status


def _solve_failed(period_id: int, explanation: list[str]) -> str:
    RosterPeriod.objects.filter(pk=period_id).update(
        status=RosterPeriod.Status.FAILED, explanation=explanation
    )
    return "failed"


@transaction.atomic
def roster_cell_set(*, actor: Actor, period_id, user_id, day: date, shift_code: str | None):
    """A manual edit of one cell; returns the roster's evaluation after the change."""
    _require_manager(actor)
    period = RosterPeriod.objects.select_for_update().get(pk=period_id)
    if period.status not in (
        RosterPeriod.Status.DRAFT,
        RosterPeriod.Status.PROPOSED,
        RosterPeriod.Status.FAILED,
    ):
        raise BookingError("not_editable", _("A published or solving roster cannot be edited."))
    if not period.start <= day < period.start + timedelta(days=period.days):
        raise BookingError("day_invalid", _("This day is outside the roster."))
    if not RosterStaff.objects.filter(user_id=user_id, department=period.department).exists():
        raise BookingError("staff_invalid", _("This person is not on the department's roster."))
    RosterAssignment.objects.filter(period=period, user_id=user_id, date=day).delete()
    if shift_code:
        shift = ShiftType.objects.filter(code=shift_code).first()
        if shift is None:
            raise BookingError("shift_invalid", _("Unknown shift type."))
        RosterAssignment.objects.create(period=period, user_id=user_id, date=day, shift_type=shift)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=period,
        details={"cell": [int(user_id), day.isoformat(), shift_code or None]},
    )
    evaluation = roster_evaluate(period)
    period.objective = evaluation.objective
    period.save(update_fields=["objective"])
    return evaluation


@transaction.atomic
def roster_publish(*, actor: Actor, period_id) -> RosterPeriod:
    """Publish a roster: its clinic shifts become bookable sessions.

    Sessions from an earlier publish that this version no longer staffs are cancelled only when
    nobody has booked them; a booked one stays open and is listed in ``publish_conflicts`` for
    someone to resolve. An already booked appointment is never dropped.
    """
    from clinic.models import Practitioner

    from .models import ACTIVE_STATUSES, ClinicSession, SessionMode, Site, Slot
    from .schedule import session_create

    _require_manager(actor)
    period = RosterPeriod.objects.select_for_update().get(pk=period_id)
    if period.status not in (RosterPeriod.Status.PROPOSED, RosterPeriod.Status.DRAFT):
        raise BookingError("not_publishable", _("Only a draft or proposed roster is published."))
    evaluation = roster_evaluate(period)
    if not evaluation.feasible:
        raise BookingError(
            "roster_violates_rules",
            _("The roster breaks %(n)s hard rules; fix them before publishing.")
            % {"n": len(evaluation.violations)},
        )
    site = (
        Site.objects.filter(department=period.department).first()
        or Site.objects.filter(kind=Site.Kind.CAMPUS).first()
    )
    end = period.start + timedelta(days=period.days)
    wanted = set()
    created = 0
    clinic_cells = period.assignments.filter(shift_type__clinic_period__gt="").select_related(
        "shift_type"
    )
    doctors = {
        p.user_id: p
        for p in Practitioner.objects.filter(user_id__in=clinic_cells.values("user_id"))
    }
    for cell in clinic_cells:
        doctor = doctors.get(cell.user_id)
        if doctor is None or site is None:
            continue
        starts_at = timezone.make_aware(datetime.combine(cell.date, cell.shift_type.start))
        wanted.add((doctor.pk, starts_at))
        if ClinicSession.objects.filter(doctor=doctor, starts_at=starts_at).exists():
            ClinicSession.objects.filter(doctor=doctor, starts_at=starts_at).update(
                status=ClinicSession.Status.OPEN, roster=period
            )
            continue
        session_create(
            doctor=doctor,
            department=period.department,
            site=site,
            day=cell.date,
            period=cell.shift_type.clinic_period,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=cell.shift_type.minutes),
            mode=SessionMode.QUOTA,
            quota=settings.ROSTER_CLINIC_QUOTA,
            roster=period,
        )
        created += 1
    conflicts = []
    earlier = (
        ClinicSession.objects.filter(
            roster__department=period.department,
            date__gte=period.start,
            date__lt=end,
            status=ClinicSession.Status.OPEN,
        )
        .exclude(roster=period)
        .select_related("doctor__user")
    )
    for session in earlier:
        if (session.doctor_id, session.starts_at) in wanted:
            continue
        booked = session.appointments.filter(status__in=ACTIVE_STATUSES).count()
        if booked:
            conflicts.append(
                {
                    "session": session.pk,
                    "doctor": session.doctor.user.display_name,
                    "starts_at": timezone.localtime(session.starts_at).strftime("%Y-%m-%d %H:%M"),
                    "appointments": booked,
                }
            )
        else:
            session.status = ClinicSession.Status.CANCELLED
            session.save(update_fields=["status"])
            session.slots.update(status=Slot.Status.BLOCKED)
    period.status = RosterPeriod.Status.PUBLISHED
    period.published_at = timezone.now()
    period.published_by = actor.user
    period.publish_conflicts = conflicts
    period.save(update_fields=["status", "published_at", "published_by", "publish_conflicts"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=period,
        details={"published": True, "sessions_created": created, "conflicts": len(conflicts)},
    )
    return period


def roster_sick_call(*, actor: Actor, period_id, user_id, first: date, last: date) -> RosterPeriod:
    """Someone cannot work from ``first`` to ``last``: record the leave and re-solve with as few
    changes as possible. A published roster gets a new version; others are re-solved in place."""
    _require_manager(actor)
    with transaction.atomic():
        period = RosterPeriod.objects.select_for_update().get(pk=period_id)
        member = RosterStaff.objects.filter(user_id=user_id, department=period.department).first()
        if member is None:
            raise BookingError("staff_invalid", _("This person is not on the department's roster."))
        if last < first:
            raise BookingError("dates_invalid", _("The last day comes before the first."))
        StaffRequest.objects.create(
            user_id=user_id,
            kind=StaffRequest.Kind.LEAVE,
            date=first,
            end_date=last,
            status=StaffRequest.Status.APPROVED,
            decided_by=actor.user,
            note=_("Sick call"),
        )
        if period.status == RosterPeriod.Status.PUBLISHED:
            period = roster_create(
                actor=actor,
                department=period.department,
                start=period.start,
                days=period.days,
                based_on=period,
            )
    return roster_solve_start(actor=actor, period_id=period.pk, minimal_change=True)


# --- Reads for the pages ----------------------------------------------------------------------


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
        row.violations = [v for v in evaluation.violations if v.startswith(f"{employee}:")]
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
    )
