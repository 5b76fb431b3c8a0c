"""Check-in, queue order, call next, walk-ins, predicted waits."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from appointments import queue, services
from appointments.errors import BookingError
from appointments.models import Appointment, AppointmentStatus, BookingPolicy, Site
from clinic import access
from clinic.models import Encounter

from ..factories import PatientFactory
from .conftest import actor, make_account, make_session, own_record

S = AppointmentStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def today(owner, site, cardiology):
    """Dr Alice's session that started 30 minutes ago, slots every 15 minutes."""
    BookingPolicy.objects.create(department=cardiology, auto_confirm=True, close_minutes_before=0)
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=30)
    session = make_session(owner, site, start=start, slots=8)
    return session


def book(user, session, number):
    return services.appointment_request(
        actor=actor(user),
        slot_id=session.slots.get(number=number).pk,
        patient_id=own_record(user).pk,
    )


def started(session):
    """Move the session so it began 30 minutes ago (booking happened before)."""
    shift = timezone.now() - timedelta(minutes=30) - session.starts_at
    session.starts_at += shift
    session.ends_at += shift
    session.save(update_fields=["starts_at", "ends_at"])
    for slot in session.slots.all():
        slot.starts_at += shift
        slot.save(update_fields=["starts_at"])
    return session


def test_checking_in_gives_the_slot_number_as_queue_number(booker, today, site):
    appointment = book(booker, today, 3)
    queue.appointment_check_in(actor=actor(booker), appointment_id=appointment.pk, site=site)
    appointment.refresh_from_db()
    assert appointment.status == S.ARRIVED and appointment.queue_number == 3


def test_check_in_needs_the_right_site_and_time_and_the_own_booking(
    booker, other_booker, today, site, cardiology, settings
):
    appointment = book(booker, today, 1)
    elsewhere = Site.objects.create(name="急诊", kind=Site.Kind.CLINIC)
    with pytest.raises(BookingError) as error:
        queue.appointment_check_in(
            actor=actor(booker), appointment_id=appointment.pk, site=elsewhere
        )
    assert error.value.code == "wrong_site"
    with pytest.raises(BookingError) as error:
        queue.appointment_check_in(
            actor=actor(other_booker), appointment_id=appointment.pk, site=site
        )
    assert error.value.code == "not_found"
    settings.CHECK_IN_OPENS_MINUTES = 10
    with pytest.raises(BookingError) as error:
        queue.appointment_check_in(actor=actor(booker), appointment_id=appointment.pk, site=site)
    assert error.value.code == "too_early"


def test_punctual_appointments_keep_their_place_and_late_ones_queue_by_arrival(
    owner, today, site, receptionist
):
    early, late = make_account("13800000011"), make_account("13800000012")
    first = book(early, today, 2)  # due at +45 min
    second = book(late, today, 1)  # due at +30 min
    started(today)  # now slot 1 was due 30 min ago (late), slot 2 15 min ago (within grace)
    walk_in_patient = PatientFactory(name="吴敏")
    walk_in = queue.walk_in_register(
        actor=actor(receptionist), session_id=today.pk, patient_id=walk_in_patient.pk
    )
    queue.appointment_check_in(actor=actor(late), appointment_id=second.pk, site=site)
    queue.appointment_check_in(actor=actor(early), appointment_id=first.pk, site=site)

    order = [e.appointment.pk for e in queue.queue_for_session(today)]
    # slot 2 is placed at its appointment time (before the walk-in who arrived just now);
    # slot 1 came 30 minutes late, after the grace, so it queues by arrival after the walk-in.
    assert order == [first.pk, walk_in.pk, second.pk]
    waits = [e.predicted_wait_minutes for e in queue.queue_for_session(today)]
    assert waits == sorted(waits) and waits[0] < waits[-1]
    assert walk_in.queue_number == 9  # after the eight numbers of the quota


def test_call_next_opens_an_encounter_and_finish_fulfils(booker, owner, today, site):
    appointment = book(booker, today, 1)
    started(today)
    queue.appointment_check_in(actor=actor(booker), appointment_id=appointment.pk, site=site)

    called = queue.queue_call_next(actor=actor(owner), session_id=today.pk)
    assert called.pk == appointment.pk and called.status == S.CHECKED_IN
    encounter = Encounter.objects.get(pk=called.encounter_id)
    assert encounter.practitioner == owner and encounter.patient == own_record(booker)
    with pytest.raises(BookingError) as error:
        queue.queue_call_next(actor=actor(owner), session_id=today.pk)
    assert error.value.code == "consultation_open"

    queue.queue_finish(actor=actor(owner), appointment_id=appointment.pk)
    appointment.refresh_from_db()
    assert appointment.status == S.FULFILLED and appointment.finished_at is not None
    assert queue.queue_call_next(actor=actor(owner), session_id=today.pk) is None


def test_another_doctor_cannot_call_from_this_queue(outsider, today):
    with pytest.raises(BookingError):
        queue.queue_call_next(actor=actor(outsider), session_id=today.pk)


def test_only_the_desk_registers_walk_ins(owner, booker, today):
    with pytest.raises(PermissionDenied):
        queue.walk_in_register(
            actor=actor(owner), session_id=today.pk, patient_id=own_record(booker).pk
        )
    with pytest.raises(PermissionDenied):
        queue.walk_in_register(
            actor=actor(booker), session_id=today.pk, patient_id=own_record(booker).pk
        )


def test_a_booking_is_a_care_relation_until_it_is_declined(booker, outsider, site):
    from .conftest import at

    session = make_session(outsider, site, start=at(2, 9))
    appointment = services.appointment_request(
        actor=actor(booker), slot_id=session.slots.first().pk, patient_id=own_record(booker).pk
    )
    patient = own_record(booker)
    assert access.can_view_patient(user=outsider, patient=patient)
    services.appointment_decline(
        actor=actor(outsider), appointment_id=appointment.pk, reason="不在本科室诊治范围"
    )
    assert not access.can_view_patient(user=outsider, patient=patient)


def test_consultation_time_is_learned_from_finished_visits(owner, today, settings):
    assert queue.consultation_minutes(owner.practitioner) == settings.DEFAULT_CONSULT_MINUTES
    now = timezone.now()
    for _ in range(30):
        Appointment.objects.create(
            session=today,
            patient=PatientFactory(),
            booked_by=owner,
            status=S.FULFILLED,
            called_at=now - timedelta(minutes=25),
            finished_at=now - timedelta(minutes=5),
            walk_in=True,
        )
    assert 17 < queue.consultation_minutes(owner.practitioner) <= 20


def test_sms_backend_is_called_through_the_setting(settings):
    from appointments import sms

    settings.SMS_BACKEND = "appointments.sms.ConsoleSmsBackend"
    with mock.patch.object(sms.ConsoleSmsBackend, "send", autospec=True) as send:
        sms.send_sms("13800000000", "hello")
    assert send.call_args.args[1:] == ("13800000000", "hello")


def test_check_in_is_offered_across_midnight(booker, owner, site, cardiology):
    from appointments import selectors

    BookingPolicy.objects.filter(department=cardiology).delete()
    BookingPolicy.objects.create(department=cardiology, auto_confirm=True, close_minutes_before=0)
    tomorrow_early = timezone.localtime().replace(hour=0, minute=10, second=0, microsecond=0)
    tomorrow_early += timedelta(days=1)
    session = make_session(owner, site, start=tomorrow_early)
    appointment = book(booker, session, 1)
    late_evening = tomorrow_early - timedelta(minutes=40)
    offered = selectors.todays_appointments_at_site(booker, site, now=late_evening)
    assert [a.pk for a in offered] == [appointment.pk]
    too_early = tomorrow_early - timedelta(hours=3)
    assert selectors.todays_appointments_at_site(booker, site, now=too_early) == []


def test_the_days_screens_keep_a_session_across_midnight(owner, site):
    from appointments import selectors

    just_after_midnight = timezone.localtime().replace(hour=0, minute=10, second=0, microsecond=0)
    just_after_midnight += timedelta(days=1)
    session = make_session(owner, site, start=just_after_midnight)
    late_evening = just_after_midnight - timedelta(minutes=25)
    assert list(selectors.sessions_current(now=late_evening)) == [session]
    assert list(selectors.sessions_current(now=late_evening - timedelta(hours=13))) == []
