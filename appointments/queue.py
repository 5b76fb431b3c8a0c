"""The day of the visit: check-in, the waiting queue, the doctor's "call next", walk-ins.

Queue order (seed 002): a patient with an appointment who checks in before their time (plus
the no-show grace) is placed directly at their appointment time; walk-ins and late arrivals
queue by arrival. Ties go to the earlier arrival.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic import access
from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Encounter, EncounterKind, Patient, Role

from . import waits
from .errors import BookingError
from .models import Appointment, AppointmentStatus, ClinicSession, Site
from .services import _locked_appointment, _require, policy_for

S = AppointmentStatus


@dataclass(frozen=True)
class QueueEntry:
    appointment: Appointment
    position: int  # 1 = next to be called
    predicted_wait_minutes: int


def _sort_key(appointment: Appointment, grace: timedelta) -> tuple[datetime, datetime]:
    arrived = appointment.arrived_at
    if not appointment.walk_in and appointment.slot_id:
        due = appointment.slot.starts_at
        if arrived <= due + grace:
            return (due, arrived)
    return (arrived, arrived)


def _predicted_waits(session: ClinicSession, queue_length: int, now) -> list[float]:
    in_room = session.appointments.filter(status=S.CHECKED_IN).order_by("-called_at").first()
    return waits.predict_waits(
        now=now,
        consultation_started_at=in_room.called_at if in_room else None,
        queue_length=queue_length,
        mean_consult_minutes=consultation_minutes(session.doctor),
        session_starts_at=session.starts_at,
    )


def queue_for_session(session: ClinicSession, *, now=None) -> list[QueueEntry]:
    """Waiting patients of ``session`` in the order they will be called, with predicted waits."""
    now = now or timezone.now()
    grace = timedelta(minutes=policy_for(session.department).no_show_grace_minutes)
    waiting = list(session.appointments.filter(status=S.ARRIVED).select_related("slot", "patient"))
    waiting.sort(key=lambda a: (*_sort_key(a, grace), a.queue_number or 0))
    predicted = _predicted_waits(session, len(waiting), now)
    return [
        QueueEntry(appointment=a, position=i + 1, predicted_wait_minutes=round(w))
        for i, (a, w) in enumerate(zip(waiting, predicted, strict=True))
    ]


def newcomer_wait(session: ClinicSession, *, now=None) -> float:
    """Predicted wait of someone who joins the end of the queue now."""
    now = now or timezone.now()
    waiting = session.appointments.filter(status=S.ARRIVED).count()
    return _predicted_waits(session, waiting + 1, now)[-1]


def consultation_minutes(doctor) -> float:
    """The doctor's typical consultation length, estimated from their recent finished visits."""
    recent = (
        Appointment.objects.filter(
            session__doctor=doctor, status=S.FULFILLED, called_at__isnull=False
        )
        .order_by("-finished_at")
        .values_list("called_at", "finished_at")[:50]
    )
    durations = [(end - start).total_seconds() / 60 for start, end in recent if end and start]
    return waits.estimate_mean_consultation(
        durations[::-1], prior_minutes=settings.DEFAULT_CONSULT_MINUTES
    )


def check_in_window(appointment: Appointment) -> tuple[datetime, datetime]:
    opens = appointment.starts_at - timedelta(minutes=settings.CHECK_IN_OPENS_MINUTES)
    return opens, appointment.session.ends_at


def site_serves(site: Site, session: ClinicSession) -> bool:
    """A code checks a patient in where it stands: the session's own site, or a campus."""
    return site.pk == session.site_id or site.kind == Site.Kind.CAMPUS


@transaction.atomic
def appointment_check_in(*, actor: Actor, appointment_id, site: Site) -> Appointment:
    """The patient scanned the site's code again on the day: into the queue, with a number."""
    appointment = _locked_appointment(appointment_id)
    if appointment.booked_by_id != actor.user.pk:
        raise BookingError("not_found", _("No such appointment."))
    if appointment.status == S.ARRIVED:
        return appointment
    _require(appointment, S.BOOKED)
    if not site_serves(site, appointment.session):
        raise BookingError(
            "wrong_site",
            _("This code belongs to another site. Please check in at %(site)s.")
            % {"site": appointment.session.site.display_name},
        )
    now = timezone.now()
    opens, closes = check_in_window(appointment)
    if now < opens:
        raise BookingError(
            "too_early",
            _("Check-in opens at %(time)s.")
            % {"time": timezone.localtime(opens).strftime("%H:%M")},
        )
    if now > closes:
        raise BookingError("too_late", _("This session has ended."))
    appointment.status = S.ARRIVED
    appointment.arrived_at = now
    appointment.queue_number = appointment.slot.number if appointment.slot_id else None
    appointment.save(update_fields=["status", "arrived_at", "queue_number"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=appointment,
        patient=appointment.patient,
        details={"status": S.ARRIVED, "site": site.pk},
    )
    return appointment


@transaction.atomic
def walk_in_register(*, actor: Actor, session_id, patient_id, complaint: str = "") -> Appointment:
    """The desk (or a nurse) queues a patient without an appointment; numbers after the quota."""
    if not actor.user.has_role(Role.RECEPTIONIST, Role.ADMIN):
        raise PermissionDenied
    try:
        session = ClinicSession.objects.select_for_update().get(pk=int(session_id))
    except (ClinicSession.DoesNotExist, TypeError, ValueError) as exc:
        raise BookingError("not_found", _("No such session.")) from exc
    patient = _findable(actor.user, patient_id)
    now = timezone.now()
    if session.status != ClinicSession.Status.OPEN or now > session.ends_at:
        raise BookingError("session_closed", _("This session is closed."))
    if session.appointments.filter(patient=patient, status__in=[S.ARRIVED, S.BOOKED]).exists():
        raise BookingError("already_queued", _("This patient already has a place today."))
    last = session.appointments.aggregate(n=Max("queue_number"))["n"] or 0
    last = max(last, session.slots.aggregate(n=Max("number"))["n"] or 0)
    appointment = Appointment.objects.create(
        session=session,
        patient=patient,
        booked_by=actor.user,
        status=S.ARRIVED,
        walk_in=True,
        complaint=(complaint or "").strip()[:300],
        arrived_at=now,
        queue_number=last + 1,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=appointment,
        patient=patient,
        details={"walk_in": True},
    )
    return appointment


def _findable(user, patient_id):
    try:
        return access.patients_findable_by(user).get(pk=int(patient_id))
    except (Patient.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def _doctors_session(actor: Actor, session_id) -> ClinicSession:
    try:
        session = (
            ClinicSession.objects.select_for_update(of=("self",))
            .select_related("doctor__user", "department")
            .get(pk=int(session_id))
        )
    except (ClinicSession.DoesNotExist, TypeError, ValueError) as exc:
        raise BookingError("not_found", _("No such session.")) from exc
    if session.doctor.user_id != actor.user.pk:
        raise BookingError("not_found", _("No such session."))
    return session


@transaction.atomic
def queue_call_next(*, actor: Actor, session_id) -> Appointment | None:
    """The doctor calls the next patient: the consultation starts and an Encounter is opened
    for it. Returns None when nobody is waiting."""
    session = _doctors_session(actor, session_id)
    if session.appointments.filter(status=S.CHECKED_IN).exists():
        raise BookingError(
            "consultation_open", _("Finish the current consultation before calling the next.")
        )
    queue = queue_for_session(session)
    if not queue:
        return None
    appointment = queue[0].appointment
    now = timezone.now()
    complaint = appointment.complaint or (
        appointment.complaint_category.name if appointment.complaint_category_id else ""
    )
    encounter = Encounter.objects.create(
        patient=appointment.patient,
        kind=EncounterKind.OUTPATIENT,
        started_at=now,
        department=session.department,
        practitioner=actor.user,
        chief_complaint=complaint or _("Outpatient visit"),
        created_by=actor.user,
    )
    appointment.status = S.CHECKED_IN
    appointment.called_at = now
    appointment.encounter = encounter
    appointment.save(update_fields=["status", "called_at", "encounter"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=appointment,
        patient=appointment.patient,
        details={"status": S.CHECKED_IN, "encounter": encounter.pk},
    )
    return appointment


@transaction.atomic
def queue_finish(*, actor: Actor, appointment_id) -> Appointment:
    appointment = _locked_appointment(appointment_id)
    if appointment.session.doctor.user_id != actor.user.pk:
        raise BookingError("not_found", _("No such appointment."))
    _require(appointment, S.CHECKED_IN)
    appointment.status = S.FULFILLED
    appointment.finished_at = timezone.now()
    appointment.save(update_fields=["status", "finished_at"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=appointment,
        patient=appointment.patient,
        details={"status": S.FULFILLED},
    )
    return appointment


@transaction.atomic
def queue_mark_absent(*, actor: Actor, appointment_id) -> Appointment:
    """A called patient who does not come in: no-show, and the queue moves on."""
    appointment = _locked_appointment(appointment_id)
    if appointment.session.doctor.user_id != actor.user.pk:
        raise BookingError("not_found", _("No such appointment."))
    _require(appointment, S.ARRIVED, S.CHECKED_IN)
    appointment.status = S.NOSHOW
    appointment.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=appointment,
        patient=appointment.patient,
        details={"status": S.NOSHOW},
    )
    return appointment
