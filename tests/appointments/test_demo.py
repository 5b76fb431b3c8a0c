"""The demo hospital can be booked out of the box."""

import io
import re

import pytest
from django.core.management import call_command

from appointments.models import ClinicSession, Rating, RosterPeriod, SessionMode, Slot
from appointments.rosters import problem_for

pytestmark = pytest.mark.django_db


def test_seed_demo_prints_a_booking_link_that_leads_to_bookable_doctors(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.DEMO_CHEST_CT_STUDIES = 0  # imaging has a demo test of its own
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    url = re.search(r"Patient booking \(the campus QR code\): (\S+)", out.getvalue()).group(1)
    path = url.removeprefix(settings.SITE_URL)

    page = client.get(path)
    assert page.status_code == 200
    assert "心血管内科" in page.content.decode()
    assert ClinicSession.objects.filter(mode=SessionMode.QUOTA).exists()
    assert Slot.objects.filter(status=Slot.Status.FREE).count() > 100
    assert Rating.objects.count() == 4
    roster = RosterPeriod.objects.get()
    problem = problem_for(roster)
    assert len(problem.instance.employees) == 10 and problem.instance.horizon == 28
