"""Booking requests, the doctor's decisions, holds, cancellation, rating and payment."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone, translation

from appointments import services
from appointments.errors import BookingError
from appointments.models import (
    Appointment,
    AppointmentStatus,
    BookingPolicy,
    Notification,
    PaymentStatus,
    Rating,
    Slot,
)
from clinic.models import AuditEvent

from .conftest import actor, at, make_session, own_record

S = AppointmentStatus
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """Messages stored for patients are in the language active when written; read them in
    English here."""
    with translation.override("en"):
        yield


def request(user, slot, **kwargs):
    patient = kwargs.pop("patient", None) or own_record(user)
    return services.appointment_request(
        actor=actor(user), slot_id=slot.pk, patient_id=patient.pk, **kwargs
    )


def first_slot(session, number=1) -> Slot:
    return session.slots.get(number=number)


def test_a_request_holds_the_slot_notifies_the_doctor_and_is_audited(booker, owner, clinic_session):
    slot = first_slot(clinic_session)
    appointment = request(booker, slot, complaint="胸闷两周")

    slot.refresh_from_db()
    assert appointment.status == S.PENDING
    assert slot.status == Slot.Status.HELD and slot.held_until == appointment.held_until
    assert appointment.held_until > timezone.now()
    assert Notification.objects.filter(user=owner, text__contains="刘洋").exists()
    assert AuditEvent.objects.filter(
        object_type="appointment", object_id=str(appointment.pk), action="create"
    ).exists()


def test_a_department_that_confirms_at_once_books_directly(booker, cardiology, clinic_session):
    BookingPolicy.objects.create(department=cardiology, auto_confirm=True)
    appointment = request(booker, first_slot(clinic_session))
    assert appointment.status == S.BOOKED
    assert first_slot(clinic_session).status == Slot.Status.BOOKED


def test_it_rejects_a_double_booking(booker, other_booker, clinic_session):
    request(booker, first_slot(clinic_session))
    with pytest.raises(BookingError) as error:
        request(other_booker, first_slot(clinic_session))
    assert error.value.code == "slot_taken"
    assert Appointment.objects.count() == 1


def test_a_double_tap_with_one_idempotency_key_makes_one_appointment(booker, clinic_session):
    first = request(booker, first_slot(clinic_session), idempotency_key="tap-1")
    again = request(booker, first_slot(clinic_session), idempotency_key="tap-1")
    assert first.pk == again.pk
    assert Appointment.objects.count() == 1


def test_a_patient_cannot_book_for_someone_who_is_not_theirs(booker, other_booker, clinic_session):
    with pytest.raises(Http404):
        request(booker, first_slot(clinic_session), patient=own_record(other_booker))
    assert not Appointment.objects.exists()


def test_staff_cannot_use_the_patient_booking_service(owner, booker, clinic_session):
    with pytest.raises(PermissionDenied):
        services.appointment_request(
            actor=actor(owner),
            slot_id=first_slot(clinic_session).pk,
            patient_id=own_record(booker).pk,
        )


def test_one_patient_cannot_hold_two_overlapping_appointments(booker, clinic_session):
    request(booker, first_slot(clinic_session, 1))
    with pytest.raises(BookingError) as error:
        request(booker, first_slot(clinic_session, 2))
    assert error.value.code == "patient_overlap"


def test_booking_closes_before_the_session(booker, owner, site):
    soon = make_session(owner, site, start=timezone.now() + timedelta(minutes=10))
    with pytest.raises(BookingError) as error:
        request(booker, soon.slots.first())
    assert error.value.code == "booking_closed"


def test_an_expired_hold_frees_the_slot_and_tells_the_patient(booker, clinic_session):
    slot = first_slot(clinic_session)
    appointment = request(booker, slot)
    assert services.holds_expire(now=timezone.now()) == 0

    assert services.holds_expire(now=appointment.held_until + timedelta(seconds=1)) == 1
    appointment.refresh_from_db()
    slot.refresh_from_db()
    assert appointment.status == S.CANCELLED and "expired" in appointment.cancel_reason
    assert slot.status == Slot.Status.FREE and slot.held_until is None
    assert Notification.objects.filter(user=booker).exists()


def test_a_slot_whose_hold_ran_out_can_be_booked_before_the_sweep(
    booker, other_booker, clinic_session
):
    slot = first_slot(clinic_session)
    stale = request(booker, slot)
    Appointment.objects.filter(pk=stale.pk).update(held_until=timezone.now() - timedelta(1))
    Slot.objects.filter(pk=slot.pk).update(held_until=timezone.now() - timedelta(1))

    fresh = request(other_booker, slot)
    stale.refresh_from_db()
    assert stale.status == S.CANCELLED
    assert fresh.status == S.PENDING


def test_the_doctor_confirms_and_only_that_doctor(booker, owner, outsider, clinic_session):
    appointment = request(booker, first_slot(clinic_session))
    with pytest.raises(BookingError) as error:
        services.appointment_confirm(actor=actor(outsider), appointment_id=appointment.pk)
    assert error.value.code == "not_found"

    services.appointment_confirm(actor=actor(owner), appointment_id=appointment.pk)
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED and appointment.decided_by == owner
    assert first_slot(clinic_session).status == Slot.Status.BOOKED
    assert Notification.objects.filter(user=booker, text__contains="confirmed").exists()


def test_declining_needs_a_reason_and_frees_the_slot(booker, owner, clinic_session):
    appointment = request(booker, first_slot(clinic_session))
    with pytest.raises(BookingError):
        services.appointment_decline(actor=actor(owner), appointment_id=appointment.pk, reason=" ")
    services.appointment_decline(
        actor=actor(owner), appointment_id=appointment.pk, reason="请先到急诊就诊"
    )
    appointment.refresh_from_db()
    assert appointment.status == S.CANCELLED and appointment.cancel_reason == "请先到急诊就诊"
    assert first_slot(clinic_session).status == Slot.Status.FREE


def test_the_doctor_proposes_another_slot_and_the_patient_accepts(booker, owner, clinic_session):
    appointment = request(booker, first_slot(clinic_session, 1))
    services.appointment_propose(
        actor=actor(owner), appointment_id=appointment.pk, slot_id=first_slot(clinic_session, 3).pk
    )
    appointment.refresh_from_db()
    assert appointment.status == S.PROPOSED and appointment.slot.number == 3
    assert first_slot(clinic_session, 1).status == Slot.Status.FREE
    assert first_slot(clinic_session, 3).status == Slot.Status.HELD

    services.appointment_accept_proposal(actor=actor(booker), appointment_id=appointment.pk)
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED
    assert first_slot(clinic_session, 3).status == Slot.Status.BOOKED


def test_the_patient_cancels_their_own_booking_only(booker, other_booker, clinic_session):
    appointment = request(booker, first_slot(clinic_session))
    with pytest.raises(BookingError):
        services.appointment_cancel(actor=actor(other_booker), appointment_id=appointment.pk)
    services.appointment_cancel(actor=actor(booker), appointment_id=appointment.pk)
    appointment.refresh_from_db()
    assert appointment.status == S.CANCELLED
    assert first_slot(clinic_session).status == Slot.Status.FREE


def test_a_visit_is_rated_once_with_one_to_five_stars(booker, owner, clinic_session):
    appointment = request(booker, first_slot(clinic_session))
    with pytest.raises(BookingError) as error:
        services.appointment_rate(actor=actor(booker), appointment_id=appointment.pk, stars=5)
    assert error.value.code == "wrong_status"
    Appointment.objects.filter(pk=appointment.pk).update(status=S.FULFILLED)

    with pytest.raises(BookingError):
        services.appointment_rate(actor=actor(booker), appointment_id=appointment.pk, stars=6)
    services.appointment_rate(
        actor=actor(booker), appointment_id=appointment.pk, stars=4, comment="耐心"
    )
    with pytest.raises(BookingError) as error:
        services.appointment_rate(actor=actor(booker), appointment_id=appointment.pk, stars=5)
    assert error.value.code == "already_rated"
    assert Rating.objects.get().doctor == owner.practitioner


def test_the_desk_records_payment_and_a_patient_cannot(booker, receptionist, clinic_session):
    appointment = request(booker, first_slot(clinic_session))
    with pytest.raises(PermissionDenied):
        services.appointment_mark_paid(
            actor=actor(booker), appointment_id=appointment.pk, reference="X"
        )
    services.appointment_mark_paid(
        actor=actor(receptionist), appointment_id=appointment.pk, reference="R-2026-0001"
    )
    appointment.refresh_from_db()
    assert appointment.payment_status == PaymentStatus.PAID
    assert appointment.payment_reference == "R-2026-0001"


def test_bookings_per_account_are_rate_limited(settings, booker, owner, site):
    settings.BOOKING_MAX_PER_HOUR = 2
    sessions = [make_session(owner, site, start=at(day, 8), slots=1) for day in (1, 2, 3)]
    request(booker, sessions[0].slots.get())
    request(booker, sessions[1].slots.get())
    with pytest.raises(BookingError) as error:
        request(booker, sessions[2].slots.get())
    assert error.value.code == "too_many_bookings"


def test_booked_patients_who_never_arrive_become_no_shows(booker, owner, site, cardiology):
    BookingPolicy.objects.create(department=cardiology, auto_confirm=True)
    session = make_session(owner, site, start=at(1, 8))
    appointment = request(booker, session.slots.get(number=1))
    assert services.no_shows_mark(now=at(1, 8, 10)) == 0  # within the grace time
    assert services.no_shows_mark(now=at(1, 8, 31)) == 1
    appointment.refresh_from_db()
    assert appointment.status == S.NOSHOW


def test_statuses_are_fhir_appointment_status_codes():
    fhir = {
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    }
    assert set(S.values) <= fhir


def test_bookings_per_ip_address_are_rate_limited(settings, booker, other_booker, owner, site):
    settings.BOOKING_MAX_PER_IP_HOUR = 1
    sessions = [make_session(owner, site, start=at(day, 8), slots=1) for day in (1, 2)]
    request(booker, sessions[0].slots.get())
    with pytest.raises(BookingError) as error:
        request(other_booker, sessions[1].slots.get())  # same address (actor's 10.0.0.1)
    assert error.value.code == "too_many_bookings"
