"""Booking rules: requests, the doctor's decisions, cancellation, expiry of holds, ratings and
payment. Every write locks the rows it decides on, checks, saves and audits in one transaction.

A patient never sets a status or names a patient outside their own people: statuses change only
through these functions, and the patient comes from the signed-in account's records.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic import access
from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Patient, Role

from .errors import BookingError
from .models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    BookingPolicy,
    ClinicSession,
    PaymentStatus,
    Rating,
    Slot,
)
from .notifications import notify
from .payments import payment_provider

S = AppointmentStatus


def policy_for(department) -> BookingPolicy:
    """The department's booking policy, or the defaults (unsaved) when it has none."""
    policy = BookingPolicy.objects.filter(department=department).first()
    return policy or BookingPolicy(department=department)


def booking_closes_at(session: ClinicSession):
    return session.starts_at - timedelta(
        minutes=policy_for(session.department).close_minutes_before
    )


def _audit(actor: Actor, appointment: Appointment, action, **details) -> None:
    audit_record(
        actor=actor, action=action, obj=appointment, patient=appointment.patient, details=details
    )


def _status_url(appointment: Appointment) -> str:
    return reverse("booking:appointment", args=[appointment.pk])


def _release(slot: Slot | None) -> None:
    """Free ``slot``; the first patient on the session's waiting list is offered it at once."""
    if slot is not None:
        slot.status = Slot.Status.FREE
        slot.held_until = None
        slot.save(update_fields=["status", "held_until"])
        _offer_to_waitlist(slot)


def _offer_to_waitlist(slot: Slot) -> Appointment | None:
    """Give a freed slot to the longest-waiting patient of its session who can take it: a
    request for the doctor (or a booking, where the department confirms at once)."""
    now = timezone.now()
    session = slot.session
    if session.status != ClinicSession.Status.OPEN or now >= booking_closes_at(session):
        return None
    waiting = (
        Appointment.objects.select_for_update(of=("self",))
        .filter(session=session, status=S.WAITLIST)
        .select_related("patient")
        .order_by("created_at", "pk")
    )
    for candidate in waiting:
        try:
            _check_no_overlap(candidate.patient, session)
        except BookingError:
            continue
        policy = policy_for(session.department)
        candidate.slot = slot
        candidate.status = S.BOOKED if policy.auto_confirm else S.PENDING
        candidate.held_until = (
            None if policy.auto_confirm else now + timedelta(minutes=policy.hold_minutes)
        )
        candidate.save(update_fields=["slot", "status", "held_until"])
        slot.status = Slot.Status.BOOKED if policy.auto_confirm else Slot.Status.HELD
        slot.held_until = candidate.held_until
        slot.save(update_fields=["status", "held_until"])
        audit_record(
            actor=Actor.system(None),
            action=AuditAction.UPDATE,
            obj=candidate,
            patient=candidate.patient,
            details={"status": candidate.status, "from": "waitlist"},
        )
        notify(
            user=candidate.booked_by,
            text=_("A number became free for you: %(when)s.") % {"when": _local(slot.starts_at)},
            url=_status_url(candidate),
        )
        if candidate.status == S.PENDING:
            notify(
                user=session.doctor.user,
                text=_("New booking request: %(patient)s, %(when)s")
                % {"patient": candidate.patient.name, "when": _local(slot.starts_at)},
                url=reverse("appointments:inbox"),
            )
        return candidate
    return None


@transaction.atomic
def appointment_waitlist_join(
    *, actor: Actor, session_id, patient_id, complaint: str = ""
) -> Appointment:
    """Queue for a fully booked session: the first number freed there is offered in turn."""
    user = actor.user
    if not user.has_role(Role.PATIENT):
        raise PermissionDenied
    patient = access.patient_get_for_user(user=user, patient_id=patient_id)
    try:
        session = ClinicSession.objects.select_for_update(of=("self",)).get(pk=int(session_id))
    except (ClinicSession.DoesNotExist, TypeError, ValueError) as exc:
        raise BookingError("not_found", _("No such session.")) from exc
    if session.status != ClinicSession.Status.OPEN or timezone.now() >= booking_closes_at(session):
        raise BookingError("booking_closed", _("Booking for this session has closed."))
    if session.slots.filter(status=Slot.Status.FREE).exists():
        raise BookingError("slots_free", _("Numbers are still free in this session; book one."))
    if Appointment.objects.filter(
        session=session, patient=patient, status__in=[S.WAITLIST, *ACTIVE_STATUSES]
    ).exists():
        raise BookingError("already_waiting", _("This patient is already listed for this session."))
    _check_no_overlap(patient, session)
    appointment = Appointment.objects.create(
        session=session,
        patient=patient,
        booked_by=user,
        status=S.WAITLIST,
        complaint=(complaint or "").strip()[:300],
        created_ip=actor.ip,
    )
    _audit(actor, appointment, AuditAction.CREATE, status=S.WAITLIST)
    return appointment


def _locked_slot(slot_id) -> Slot:
    try:
        return (
            Slot.objects.select_for_update(of=("self",))
            .select_related("session")
            .get(pk=int(slot_id))
        )
    except (Slot.DoesNotExist, TypeError, ValueError) as exc:
        raise BookingError("slot_not_found", _("This slot does not exist.")) from exc


def _lapse_expired_hold(slot: Slot, now) -> None:
    """A hold that ran out frees its slot even before the periodic sweep gets to it."""
    if slot.status == Slot.Status.HELD and slot.held_until and slot.held_until <= now:
        lapsed = list(slot.appointments.filter(status__in=[S.PENDING, S.PROPOSED]))
        for appointment in lapsed:
            _expire(appointment, slot)
        if not lapsed:
            _release(slot)


def _check_bookable(slot: Slot, now) -> None:
    session = slot.session
    if session.status != ClinicSession.Status.OPEN:
        raise BookingError("session_cancelled", _("This clinic session has been cancelled."))
    if now >= booking_closes_at(session):
        raise BookingError("booking_closed", _("Booking for this session has closed."))
    _lapse_expired_hold(slot, now)
    if slot.status != Slot.Status.FREE:
        raise BookingError("slot_taken", _("Sorry, this number has just been taken."))


def _check_no_overlap(patient: Patient, session: ClinicSession, exclude=None) -> None:
    clash = Appointment.objects.filter(
        patient=patient,
        status__in=ACTIVE_STATUSES,
        session__starts_at__lt=session.ends_at,
        session__ends_at__gt=session.starts_at,
    )
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    if clash.exists():
        raise BookingError(
            "patient_overlap", _("This patient already has an appointment at that time.")
        )


def appointment_request(
    *,
    actor: Actor,
    slot_id,
    patient_id,
    complaint: str = "",
    category=None,
    idempotency_key: str = "",
) -> Appointment:
    """A patient asks for a slot: held for the doctor's decision, or booked at once where the
    department confirms automatically. A repeated request with the same idempotency key
    returns the first appointment."""
    user = actor.user
    if not user.has_role(Role.PATIENT):
        raise PermissionDenied
    idempotency_key = (idempotency_key or "")[:64]
    if idempotency_key:
        earlier = Appointment.objects.filter(booked_by=user, idempotency_key=idempotency_key)
        if earlier.exists():
            return earlier.get()
    patient = access.patient_get_for_user(user=user, patient_id=patient_id)
    recent = Appointment.objects.filter(created_at__gte=timezone.now() - timedelta(hours=1))
    too_many_for_ip = (
        actor.ip is not None
        and recent.filter(created_ip=actor.ip).count() >= settings.BOOKING_MAX_PER_IP_HOUR
    )
    if recent.filter(booked_by=user).count() >= settings.BOOKING_MAX_PER_HOUR or too_many_for_ip:
        raise BookingError(
            "too_many_bookings", _("Too many bookings in an hour. Please try again later.")
        )
    try:
        with transaction.atomic():
            return _request_locked(
                actor=actor,
                slot_id=slot_id,
                patient=patient,
                complaint=complaint,
                category=category,
                idempotency_key=idempotency_key,
            )
    except IntegrityError as exc:
        # The constraints are the last line: a race the locks did not serialise lands here.
        if idempotency_key:
            earlier = Appointment.objects.filter(booked_by=user, idempotency_key=idempotency_key)
            if earlier.exists():
                return earlier.get()
        raise BookingError("slot_taken", _("Sorry, this number has just been taken.")) from exc


def _request_locked(*, actor, slot_id, patient, complaint, category, idempotency_key):
    now = timezone.now()
    slot = _locked_slot(slot_id)
    _check_bookable(slot, now)
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    session = slot.session
    _check_no_overlap(patient, session)
    if category is not None and category.department_id != session.department_id:
        category = None
    policy = policy_for(session.department)
    status = S.BOOKED if policy.auto_confirm else S.PENDING
    held_until = None if policy.auto_confirm else now + timedelta(minutes=policy.hold_minutes)
    appointment = Appointment.objects.create(
        session=session,
        slot=slot,
        patient=patient,
        booked_by=actor.user,
        status=status,
        complaint=(complaint or "").strip()[:300],
        complaint_category=category,
        idempotency_key=idempotency_key,
        created_at=now,
        created_ip=actor.ip,
        held_until=held_until,
    )
    slot.status = Slot.Status.BOOKED if policy.auto_confirm else Slot.Status.HELD
    slot.held_until = held_until
    slot.save(update_fields=["status", "held_until"])
    _audit(actor, appointment, AuditAction.CREATE, status=status, slot=slot.number)
    if status == S.PENDING:
        notify(
            user=session.doctor.user,
            text=_("New booking request: %(patient)s, %(when)s")
            % {"patient": patient.name, "when": _local(slot.starts_at)},
            url=reverse("appointments:inbox"),
        )
    payment_provider().start(appointment)
    return appointment


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _locked_appointment(appointment_id) -> Appointment:
    try:
        return (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("session__doctor__user", "patient", "slot")
            .get(pk=int(appointment_id))
        )
    except (Appointment.DoesNotExist, TypeError, ValueError) as exc:
        raise BookingError("not_found", _("No such appointment.")) from exc


def _doctors_appointment(actor: Actor, appointment_id) -> Appointment:
    appointment = _locked_appointment(appointment_id)
    if appointment.session.doctor.user_id != actor.user.pk:
        raise BookingError("not_found", _("No such appointment."))
    return appointment


def _require(appointment: Appointment, *statuses) -> None:
    if appointment.status not in statuses:
        raise BookingError(
            "wrong_status",
            _("This appointment is %(status)s; that is no longer possible.")
            % {"status": appointment.get_status_display()},
        )


@transaction.atomic
def appointment_confirm(*, actor: Actor, appointment_id) -> Appointment:
    """The doctor accepts a pending request; the slot becomes booked."""
    appointment = _doctors_appointment(actor, appointment_id)
    if appointment.status == S.BOOKED:
        return appointment
    _require(appointment, S.PENDING)
    now = timezone.now()
    appointment.status = S.BOOKED
    appointment.held_until = None
    appointment.decided_by = actor.user
    appointment.decided_at = now
    appointment.save(update_fields=["status", "held_until", "decided_by", "decided_at"])
    Slot.objects.filter(pk=appointment.slot_id).update(status=Slot.Status.BOOKED, held_until=None)
    _audit(actor, appointment, AuditAction.UPDATE, status=S.BOOKED)
    notify(
        user=appointment.booked_by,
        text=_("Dr %(doctor)s confirmed your appointment on %(when)s.")
        % {
            "doctor": appointment.session.doctor.user.display_name,
            "when": _local(appointment.starts_at),
        },
        url=_status_url(appointment),
    )
    return appointment


@transaction.atomic
def appointment_decline(*, actor: Actor, appointment_id, reason: str) -> Appointment:
    reason = (reason or "").strip()
    if not reason:
        raise BookingError("reason_required", _("Give the patient a reason."))
    appointment = _doctors_appointment(actor, appointment_id)
    _require(appointment, S.PENDING, S.PROPOSED)
    appointment.status = S.CANCELLED
    appointment.cancel_reason = reason[:300]
    appointment.decided_by = actor.user
    appointment.decided_at = timezone.now()
    appointment.held_until = None
    appointment.save(
        update_fields=["status", "cancel_reason", "decided_by", "decided_at", "held_until"]
    )
    _release(appointment.slot)
    _audit(actor, appointment, AuditAction.UPDATE, status=S.CANCELLED, reason=reason)
    notify(
        user=appointment.booked_by,
        text=_("Your request for %(when)s was declined: %(reason)s")
        % {"when": _local(appointment.starts_at), "reason": reason},
        url=_status_url(appointment),
    )
    return appointment


@transaction.atomic
def appointment_propose(*, actor: Actor, appointment_id, slot_id) -> Appointment:
    """The doctor offers another of their free slots; the patient accepts or cancels."""
    appointment = _doctors_appointment(actor, appointment_id)
    _require(appointment, S.PENDING, S.PROPOSED)
    now = timezone.now()
    slot = _locked_slot(slot_id)
    if slot.session.doctor_id != appointment.session.doctor_id:
        raise BookingError("slot_not_found", _("This slot does not exist."))
    _check_bookable(slot, now)
    _check_no_overlap(appointment.patient, slot.session, exclude=appointment)
    hold = now + timedelta(minutes=policy_for(slot.session.department).hold_minutes)
    previous = appointment.slot
    appointment.slot = slot
    appointment.session = slot.session
    appointment.status = S.PROPOSED
    appointment.held_until = hold
    appointment.decided_by = actor.user
    appointment.decided_at = now
    appointment.save(
        update_fields=["slot", "session", "status", "held_until", "decided_by", "decided_at"]
    )
    slot.status, slot.held_until = Slot.Status.HELD, hold
    slot.save(update_fields=["status", "held_until"])
    _release(previous)
    _audit(actor, appointment, AuditAction.UPDATE, status=S.PROPOSED, slot=slot.pk)
    notify(
        user=appointment.booked_by,
        text=_("Dr %(doctor)s proposes %(when)s instead. Please accept or cancel.")
        % {"doctor": appointment.session.doctor.user.display_name, "when": _local(slot.starts_at)},
        url=_status_url(appointment),
    )
    return appointment


def _patients_appointment(actor: Actor, appointment_id) -> Appointment:
    appointment = _locked_appointment(appointment_id)
    if appointment.booked_by_id != actor.user.pk:
        raise BookingError("not_found", _("No such appointment."))
    return appointment


@transaction.atomic
def appointment_accept_proposal(*, actor: Actor, appointment_id) -> Appointment:
    appointment = _patients_appointment(actor, appointment_id)
    _require(appointment, S.PROPOSED)
    if appointment.held_until and appointment.held_until <= timezone.now():
        raise BookingError("hold_expired", _("This proposal has expired."))
    appointment.status = S.BOOKED
    appointment.held_until = None
    appointment.save(update_fields=["status", "held_until"])
    Slot.objects.filter(pk=appointment.slot_id).update(status=Slot.Status.BOOKED, held_until=None)
    _audit(actor, appointment, AuditAction.UPDATE, status=S.BOOKED)
    return appointment


@transaction.atomic
def appointment_cancel(*, actor: Actor, appointment_id, reason: str = "") -> Appointment:
    """The patient cancels before the session starts; the number returns to the pool."""
    appointment = _patients_appointment(actor, appointment_id)
    _require(appointment, S.PENDING, S.PROPOSED, S.BOOKED, S.WAITLIST)
    if timezone.now() >= appointment.session.starts_at:
        raise BookingError("too_late", _("The session has started; ask at the desk."))
    appointment.status = S.CANCELLED
    appointment.cancel_reason = (reason or _("Cancelled by the patient"))[:300]
    appointment.held_until = None
    appointment.save(update_fields=["status", "cancel_reason", "held_until"])
    _release(appointment.slot)
    _audit(actor, appointment, AuditAction.UPDATE, status=S.CANCELLED, by="patient")
    return appointment


def _expire(appointment: Appointment, slot: Slot | None) -> None:
    """Lapse a request whose hold ran out and free its ``slot``. The slot (and any waiting-list
    offer of it, which locks more rows) goes before the audit row: the audit chain's lock is
    taken last, so two transactions never wait for each other across it."""
    appointment.status = S.CANCELLED
    appointment.cancel_reason = _("The request expired before it was confirmed.")
    appointment.held_until = None
    appointment.save(update_fields=["status", "cancel_reason", "held_until"])
    _release(slot)
    audit_record(
        actor=Actor.system(None),
        action=AuditAction.UPDATE,
        obj=appointment,
        patient=appointment.patient,
        details={"status": S.CANCELLED, "reason": "hold_expired"},
    )
    notify(
        user=appointment.booked_by,
        text=_("Your request for %(when)s expired before the doctor confirmed it.")
        % {"when": _local(appointment.starts_at)},
        url=_status_url(appointment),
    )


def holds_expire(*, now=None) -> int:
    """Lapse every pending request or proposal whose hold ran out, and the waiting-list places
    of sessions whose booking has closed; returns how many."""
    now = now or timezone.now()
    expired = 0
    due = Appointment.objects.filter(status__in=[S.PENDING, S.PROPOSED], held_until__lte=now)
    for appointment_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            appointment = _locked_appointment(appointment_id)
            if appointment.status in (S.PENDING, S.PROPOSED) and appointment.held_until <= now:
                _expire(appointment, appointment.slot)
                expired += 1
    return expired + _waitlists_close(now)


def _waitlists_close(now) -> int:
    """Waiting-list places of sessions whose booking has closed lapse: no number came free."""
    closed = 0
    waiting = Appointment.objects.filter(
        status=S.WAITLIST, session__starts_at__lte=now + timedelta(days=1)
    ).select_related("session__department")
    for appointment in waiting:
        if now < booking_closes_at(appointment.session):
            continue
        with transaction.atomic():
            if Appointment.objects.filter(pk=appointment.pk, status=S.WAITLIST).update(
                status=S.CANCELLED, cancel_reason=_("No number became free in time.")
            ):
                closed += 1
    return closed


def no_shows_mark(*, now=None) -> int:
    """Booked patients who have not checked in by their time plus the grace become no-shows."""
    now = now or timezone.now()
    marked = 0
    booked = Appointment.objects.filter(status=S.BOOKED, session__starts_at__lte=now)
    for appointment in booked.select_related("slot", "session__department"):
        grace = timedelta(minutes=policy_for(appointment.session.department).no_show_grace_minutes)
        if appointment.starts_at + grace > now:
            continue
        with transaction.atomic():
            changed = Appointment.objects.filter(pk=appointment.pk, status=S.BOOKED).update(
                status=S.NOSHOW
            )
            if changed:
                audit_record(
                    actor=Actor.system(None),
                    action=AuditAction.UPDATE,
                    obj=appointment,
                    patient=appointment.patient,
                    details={"status": S.NOSHOW},
                )
                marked += 1
    return marked


@transaction.atomic
def appointment_rate(*, actor: Actor, appointment_id, stars, comment: str = "") -> Rating:
    appointment = _patients_appointment(actor, appointment_id)
    _require(appointment, S.FULFILLED)
    try:
        stars = int(stars)
    except (TypeError, ValueError):
        stars = 0
    if not 1 <= stars <= 5:
        raise BookingError("stars_invalid", _("Choose one to five stars."))
    if Rating.objects.filter(appointment=appointment).exists():
        raise BookingError("already_rated", _("You have already rated this visit."))
    rating = Rating.objects.create(
        appointment=appointment,
        doctor=appointment.session.doctor,
        stars=stars,
        comment=(comment or "").strip()[:500],
    )
    _audit(actor, appointment, AuditAction.CREATE, rating=stars)
    return rating


@transaction.atomic
def appointment_mark_paid(*, actor: Actor, appointment_id, reference: str) -> Appointment:
    """The desk records the fee as paid, through the configured payment provider."""
    if not actor.user.has_role(Role.RECEPTIONIST, Role.ADMIN):
        raise PermissionDenied
    appointment = _locked_appointment(appointment_id)
    if appointment.payment_status == PaymentStatus.PAID:
        return appointment
    reference = (reference or "").strip()
    if not reference:
        raise BookingError("reference_required", _("Enter the receipt number."))
    result = payment_provider().confirm(appointment, reference=reference)
    if not result.paid:
        raise BookingError("payment_failed", _("The payment was not confirmed."))
    appointment.payment_status = PaymentStatus.PAID
    appointment.paid_at = timezone.now()
    appointment.payment_reference = result.reference[:100]
    appointment.save(update_fields=["payment_status", "paid_at", "payment_reference"])
    _audit(actor, appointment, AuditAction.UPDATE, payment=PaymentStatus.PAID)
    return appointment
