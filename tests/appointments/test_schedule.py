"""Sessions and slots generated from weekly templates."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from appointments.models import ClinicSession, SessionMode, SessionTemplate, Slot
from appointments.schedule import sessions_generate

pytestmark = pytest.mark.django_db


@pytest.fixture
def templates(owner, site, cardiology):
    today = timezone.localdate()
    quota = SessionTemplate.objects.create(
        doctor=owner.practitioner,
        department=cardiology,
        site=site,
        weekday=today.weekday(),
        period="am",
        start_time=time(8),
        end_time=time(11),
        mode=SessionMode.QUOTA,
        quota=12,
    )
    timed = SessionTemplate.objects.create(
        doctor=owner.practitioner,
        department=cardiology,
        site=site,
        weekday=(today.weekday() + 1) % 7,
        period="pm",
        start_time=time(14),
        end_time=time(16),
        mode=SessionMode.TIMED,
        slot_minutes=20,
    )
    return quota, timed


def test_two_weeks_of_sessions_come_from_the_templates_once(templates):
    assert sessions_generate(days=14) == 4
    assert sessions_generate(days=14) == 0
    assert ClinicSession.objects.count() == 4


def test_timed_sessions_get_fixed_length_slots(templates):
    sessions_generate(days=7)
    session = ClinicSession.objects.get(mode=SessionMode.TIMED)
    starts = [timezone.localtime(s.starts_at).time() for s in session.slots.all()]
    assert starts == [time(14), time(14, 20), time(14, 40), time(15), time(15, 20), time(15, 40)]


def test_quota_sessions_get_optimised_arrival_times_inside_the_session(templates):
    sessions_generate(days=7)
    session = ClinicSession.objects.get(mode=SessionMode.QUOTA)
    slots = list(session.slots.order_by("number"))
    assert [s.number for s in slots] == list(range(1, 13))
    times = [s.starts_at for s in slots]
    assert times == sorted(times)
    assert times[0] == session.starts_at and times[-1] < session.ends_at
    # Not everyone at opening, not all at one time: a real schedule.
    assert len(set(times)) > 6
    assert all(s.status == Slot.Status.FREE for s in slots)
    assert session.ends_at - session.starts_at == timedelta(hours=3)
