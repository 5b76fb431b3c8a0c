"""Roster pages: who may see what, the click edit, exports, staff requests."""

from datetime import timedelta

import pytest
from django.urls import reverse

from appointments import rosters
from appointments.models import RosterAssignment, RosterPeriod, StaffRequest

from ..appointments.conftest import make_account
from .conftest import next_monday
from .test_rosters import actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def period(scheduler, cardiology, team, shifts):
    period = rosters.roster_create(
        actor=actor(scheduler), department=cardiology, start=next_monday(), days=7
    )
    for i, user in enumerate(team):
        RosterAssignment.objects.create(
            period=period, user=user, date=period.start + timedelta(days=i), shift_type=shifts["D"]
        )
    return period


def test_the_scheduler_sees_the_grid_and_staff_do_not(client_as, scheduler, owner, period):
    page = client_as(scheduler).get(reverse("rosters:detail", args=[period.pk]))
    assert page.status_code == 200 and 'data-testid="grid"' in page.content.decode()
    assert client_as(scheduler).get(reverse("rosters:list")).status_code == 200
    client = client_as(owner)
    for name in ("rosters:detail", "rosters:progress", "rosters:cell"):
        assert client.get(reverse(name, args=[period.pk])).status_code in (403, 405)
    assert (
        client.post(
            reverse("rosters:cell", args=[period.pk]),
            {"user": owner.pk, "date": period.start.isoformat(), "shift": "N"},
        ).status_code
        == 403
    )


def test_a_click_edit_answers_with_the_check(client_as, scheduler, team, period):
    client = client_as(scheduler)
    response = client.post(
        reverse("rosters:cell", args=[period.pk]),
        {"user": team[0].pk, "date": period.start.isoformat(), "shift": "N"},
    )
    data = response.json()
    assert response.status_code == 200 and "objective" in data
    assert (
        RosterAssignment.objects.get(period=period, user=team[0], date=period.start).shift_type.code
        == "N"
    )
    bad = client.post(
        reverse("rosters:cell", args=[period.pk]),
        {"user": team[0].pk, "date": "2001-01-01", "shift": "N"},
    )
    assert bad.status_code == 409 and bad.json()["error"]


def test_staff_export_only_their_own_published_shifts(client_as, scheduler, owner, team, period):
    client = client_as(owner)
    assert client.get(reverse("rosters:export_csv", args=[period.pk])).status_code == 403
    RosterPeriod.objects.filter(pk=period.pk).update(status="published")
    body = client.get(reverse("rosters:export_csv", args=[period.pk])).content.decode()
    assert owner.username in body and team[1].username not in body
    ics = client.get(reverse("rosters:mine_ics")).content.decode()
    assert ics.startswith("BEGIN:VCALENDAR") and ics.count("BEGIN:VEVENT") == 1
    full = client_as(scheduler).get(reverse("rosters:export_csv", args=[period.pk]))
    assert all(u.username in full.content.decode() for u in team)


def test_staff_ask_for_a_day_off_and_the_scheduler_approves(client_as, scheduler, owner):
    client_as(owner).post(reverse("rosters:mine"), {"kind": "day_off", "date": "2026-12-24"})
    request = StaffRequest.objects.get(user=owner)
    assert request.status == "pending"
    client_as(scheduler).post(
        reverse("rosters:requests"), {"request": request.pk, "decision": "approved"}
    )
    request.refresh_from_db()
    assert request.status == "approved" and request.decided_by == scheduler


def test_a_shift_wish_needs_its_shift(client_as, owner):
    client_as(owner).post(reverse("rosters:mine"), {"kind": "shift_on", "date": "2026-12-24"})
    assert not StaffRequest.objects.exists()


def test_patients_have_no_roster_pages(client, period):

    client.force_login(make_account("13800004444"))
    assert client.get(reverse("rosters:mine")).status_code == 403
    assert client.get(reverse("rosters:export_csv", args=[period.pk])).status_code == 403
