"""The waiting list of a fully booked session: a freed number goes to the first in line."""

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from appointments import services
from appointments.errors import BookingError
from appointments.models import Appointment, AppointmentStatus, BookingPolicy, Notification, Slot

from .conftest import actor, at, make_account, make_session, own_record

S = AppointmentStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def full(owner, site):
    """A one-number session, already requested by someone."""
    session = make_session(owner, site, start=at(1, 8), slots=1)
    holder = make_account("13800003001", name="先约")
    first = services.appointment_request(
        actor=actor(holder), slot_id=session.slots.get().pk, patient_id=own_record(holder).pk
    )
    return session, holder, first


def join(user, session):
    return services.appointment_waitlist_join(
        actor=actor(user), session_id=session.pk, patient_id=own_record(user).pk
    )


def test_a_freed_number_goes_to_the_first_on_the_waiting_list(full, owner):
    session, holder, first = full
    early, late = make_account("13800003002", name="候补甲"), make_account("13800003003")
    waiting = join(early, session)
    join(late, session)
    assert waiting.status == S.WAITLIST and waiting.slot is None

    services.appointment_cancel(actor=actor(holder), appointment_id=first.pk)

    waiting.refresh_from_db()
    assert waiting.status == S.PENDING and waiting.slot == session.slots.get()
    assert session.slots.get().status == Slot.Status.HELD
    assert Appointment.objects.filter(status=S.WAITLIST).count() == 1
    assert Notification.objects.filter(user=early).exists()
    assert Notification.objects.filter(user=owner, text__contains="候补甲").exists()


def test_where_bookings_confirm_at_once_the_waiting_patient_is_booked(full, cardiology):
    session, holder, first = full
    BookingPolicy.objects.create(department=cardiology, auto_confirm=True)
    waiting = join(make_account("13800003004"), session)
    services.appointment_decline(
        actor=actor(session.doctor.user), appointment_id=first.pk, reason="改挂专科"
    )
    waiting.refresh_from_db()
    assert waiting.status == S.BOOKED
    assert session.slots.get().status == Slot.Status.BOOKED


def test_the_waiting_list_is_only_for_full_sessions_and_once(full, owner, site):
    session, holder, first = full
    open_session = make_session(owner, site, start=at(2, 8), slots=2)
    patient = make_account("13800003005")
    with pytest.raises(BookingError) as error:
        join(patient, open_session)
    assert error.value.code == "slots_free"
    join(patient, session)
    with pytest.raises(BookingError) as error:
        join(patient, session)
    assert error.value.code == "already_waiting"
    with pytest.raises(BookingError):
        join(holder, session)  # already holds the session's number


def test_waiting_places_lapse_when_booking_closes(full):
    session, _holder, first = full
    services.appointment_confirm(actor=actor(session.doctor.user), appointment_id=first.pk)
    waiting = join(make_account("13800003006"), session)
    with translation.override("en"):
        services.holds_expire(now=session.starts_at)
    waiting.refresh_from_db()
    assert waiting.status == S.CANCELLED and waiting.cancel_reason
    assert session.starts_at > timezone.now()


def test_the_doctor_page_offers_the_waiting_list_of_a_full_session(client, full, token):
    session, _holder, _first = full
    client.force_login(make_account("13800003007"))
    page = client.get(reverse("booking:doctor", args=[token, session.doctor.pk]))
    assert reverse("booking:waitlist", args=[session.pk]) in page.content.decode()
    response = client.post(
        reverse("booking:waitlist", args=[session.pk]),
        {"person": own_record(make_account("13800003008")).pk},
    )
    assert response.status_code == 404  # somebody else's record: refused
    me = Appointment.objects.filter(status=S.WAITLIST)
    assert not me.exists()
