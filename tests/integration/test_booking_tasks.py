"""The periodic booking tasks and notification e-mails run on a real worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatus, Notification, Slot
from appointments.services import appointment_request
from config.celery import app

from ..appointments.conftest import actor, at, make_account, make_session, own_record

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(cardiology):
    from appointments.models import Site

    return Site.objects.create(name="门诊楼", kind=Site.Kind.CLINIC, department=cardiology)


def test_the_worker_lapses_holds_that_ran_out(celery_worker_process, owner, site):
    session = make_session(owner, site, start=at(1, 8), slots=2)
    booker = make_account("13800007777")
    appointment = appointment_request(
        actor=actor(booker),
        slot_id=session.slots.get(number=1).pk,
        patient_id=own_record(booker).pk,
    )
    past = timezone.now() - timedelta(minutes=1)
    Appointment.objects.filter(pk=appointment.pk).update(held_until=past)
    Slot.objects.filter(pk=appointment.slot_id).update(held_until=past)

    assert app.send_task("appointments.holds_expire").get(timeout=30) == 1
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert Slot.objects.get(pk=appointment.slot_id).status == Slot.Status.FREE
    assert app.send_task("appointments.holds_expire").get(timeout=30) == 0  # idempotent


def test_the_worker_sends_the_e_mail_copy_of_a_notification(celery_worker_process, owner):
    owner.email = "alice@hospital.example"
    owner.save(update_fields=["email"])
    note = Notification.objects.create(user=owner, text="新的预约申请")
    result = app.send_task("appointments.notification_email_send", args=[note.pk])
    assert result.get(timeout=30) is True
