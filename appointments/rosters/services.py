"""Roster services: create a version, solve it on the ``scheduling`` queue (streaming progress,
cancellable), edit a cell, re-solve after a sick call with few changes, publish into clinic
sessions. Each checks the user's role and writes an audit row."""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction

from ..errors import BookingError
from ..models import (
    RosterAssignment,
    RosterPeriod,
    RosterStaff,
    ShiftType,
    StaffRequest,
)
from ..rostering.verify import evaluate
from .problem import (
    _known_cells,
    _previous_roster,
    _require_manager,
    _store,
    assignment_of,
    problem_for,
    roster_evaluate,
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
        from ..tasks import roster_solve

        transaction.on_commit(lambda: roster_solve.delay(period.pk, minimal_change))
    return period


def roster_solve_cancel(*, actor: Actor, period_id) -> None:
    _require_manager(actor)
    RosterPeriod.objects.filter(pk=period_id, status=RosterPeriod.Status.SOLVING).update(
        cancel_requested=True
    )


def roster_solve_run(period_id: int, *, minimal_change: bool = False) -> str:
    """Run the optimiser for a claimed period (the worker's side of ``roster_solve_start``).

    Solves in slices of ``ROSTER_SLICE_SECONDS``, each warm-started from the best roster so far,
    so a cancel request stops it within a slice; every improving roster is appended to
    ``progress`` as it is found, for the live chart. Idempotent: a period no longer "solving"
    (done, cancelled, redelivered) is left alone.
    """
    import time

    from ..rostering.solver import solve

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


def _editable_period(period_id) -> RosterPeriod:
    """Lock a roster version for a manual edit; a published or solving one is refused."""
    period = RosterPeriod.objects.select_for_update().get(pk=period_id)
    if period.status not in (
        RosterPeriod.Status.DRAFT,
        RosterPeriod.Status.PROPOSED,
        RosterPeriod.Status.FAILED,
    ):
        raise BookingError("not_editable", _("A published or solving roster cannot be edited."))
    return period


def _cell_write(period: RosterPeriod, *, user_id, day: date, shift_code: str | None) -> None:
    """Set one cell of a locked, editable period (no audit: the calling service writes one)."""
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


@transaction.atomic
def roster_cell_set(*, actor: Actor, period_id, user_id, day: date, shift_code: str | None):
    """A manual edit of one cell; returns the roster's evaluation after the change."""
    _require_manager(actor)
    period = _editable_period(period_id)
    _cell_write(period, user_id=user_id, day=day, shift_code=shift_code)
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

    from ..models import ACTIVE_STATUSES, ClinicSession, SessionMode, Site, Slot
    from ..schedule import session_create

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
