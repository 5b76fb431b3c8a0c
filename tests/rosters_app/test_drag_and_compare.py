"""Drag edits on the roster grid (a move or a swap as one audited, checked edit) and the page
that compares two versions of a roster."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from appointments import rosters
from appointments.errors import BookingError
from appointments.models import RosterAssignment, RosterPeriod, RosterStaff
from appointments.rosters.messages import violation_cells
from clinic.models import AuditEvent

from .conftest import next_monday
from .test_rosters import actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def period(scheduler, cardiology, team, shifts):
    """A week's draft: each of the four works a day shift on day 0, 1, 2, 3 in turn."""
    period = rosters.roster_create(
        actor=actor(scheduler), department=cardiology, start=next_monday(), days=7
    )
    for i, user in enumerate(team):
        RosterAssignment.objects.create(
            period=period, user=user, date=period.start + timedelta(days=i), shift_type=shifts["D"]
        )
    return period


def day(period, i):
    return period.start + timedelta(days=i)


def shift_of(period, user, i):
    row = RosterAssignment.objects.filter(period=period, user=user, date=day(period, i)).first()
    return row.shift_type.code if row else None


def move(user, period, frm, to):
    """Drag (frm = (user, day index)) onto (to = (user, day index))."""
    return rosters.roster_cells_move(
        actor=actor(user),
        period_id=period.pk,
        user_id=frm[0].pk,
        day=day(period, frm[1]),
        to_user_id=to[0].pk,
        to_day=day(period, to[1]),
    )


# The service


def test_a_drag_to_an_empty_day_moves_the_shift_and_is_audited(period, team, scheduler):
    alice = team[0]
    result = move(scheduler, period, (alice, 0), (alice, 1))

    assert shift_of(period, alice, 0) is None and shift_of(period, alice, 1) == "D"
    assert not result.swapped
    # Day 0 loses its only day shift (one missing: 100), day 1 has one too many (1).
    assert result.after.cover_cost - result.before.cover_cost == 101
    assert result.delta == result.after.objective - result.before.objective
    assert result.after == rosters.roster_evaluate(period)
    period.refresh_from_db()
    assert period.objective == result.after.objective
    event = AuditEvent.objects.filter(object_type="rosterperiod", object_id=str(period.pk)).first()
    assert event.user == scheduler and event.details["move"] == [
        alice.pk,
        day(period, 0).isoformat(),
        alice.pk,
        day(period, 1).isoformat(),
    ]
    assert event.details["cells"] == [
        [alice.pk, day(period, 1).isoformat(), "D"],
        [alice.pk, day(period, 0).isoformat(), None],
    ]


def test_a_drag_onto_a_colleagues_shift_the_same_day_swaps_them(period, team, scheduler):
    alice, bob = team[0], team[1]
    rosters.roster_cell_set(
        actor=actor(scheduler),
        period_id=period.pk,
        user_id=bob.pk,
        day=day(period, 0),
        shift_code="N",
    )
    audited = AuditEvent.objects.count()
    result = move(scheduler, period, (alice, 0), (bob, 0))

    assert result.swapped
    assert shift_of(period, alice, 0) == "N" and shift_of(period, bob, 0) == "D"
    assert AuditEvent.objects.count() == audited + 1  # one edit, one audit row
    assert result.after.cover_cost == result.before.cover_cost  # same shifts on the day


def test_a_drag_that_breaks_a_hard_rule_reports_it_at_once(period, team, scheduler):
    bob = team[1]  # works D on day 1
    rosters.roster_cell_set(
        actor=actor(scheduler),
        period_id=period.pk,
        user_id=bob.pk,
        day=day(period, 3),
        shift_code="N",
    )
    result = move(scheduler, period, (bob, 3), (bob, 0))  # N on day 0, then D on day 1

    assert result.before.feasible and not result.after.feasible
    assert any("may not follow N" in v for v in result.after.violations)
    grid = rosters.roster_grid(period)
    row = next(r for r in grid.rows if r.member.user_id == bob.pk)
    assert row.violations
    assert [bool(c.violations) for c in row.cells[:3]] == [True, True, False]


def test_a_drag_that_fails_halfway_changes_nothing(period, team, scheduler):
    alice, bob = team[0], team[1]
    # Bob left the department's roster but still holds a shift in this version: clearing his
    # cell fails after Alice's cell was written, and the whole drag is undone.
    RosterStaff.objects.filter(user=bob).delete()
    audited = AuditEvent.objects.count()
    with pytest.raises(BookingError) as error:
        move(scheduler, period, (bob, 1), (alice, 1))
    assert error.value.code == "staff_invalid"
    assert shift_of(period, alice, 1) is None and shift_of(period, bob, 1) == "D"
    assert AuditEvent.objects.count() == audited


@pytest.mark.parametrize(
    ("frm", "to", "code"),
    [
        ((0, 0), (0, 0), "move_invalid"),  # the same cell
        ((0, 0), (1, 3), "move_invalid"),  # another person on another day
        ((0, 5), (0, 6), "nothing_to_move"),  # an empty cell
        ((0, 0), (0, 9), "day_invalid"),  # outside the roster
    ],
)
def test_a_drag_off_its_row_or_column_or_from_nothing_is_refused(
    period, team, scheduler, frm, to, code
):
    with pytest.raises(BookingError) as error:
        move(scheduler, period, (team[frm[0]], frm[1]), (team[to[0]], to[1]))
    assert error.value.code == code
    assert shift_of(period, team[0], 0) == "D"


def test_a_published_roster_is_not_dragged(period, team, scheduler):
    RosterPeriod.objects.filter(pk=period.pk).update(status=RosterPeriod.Status.PUBLISHED)
    with pytest.raises(BookingError) as error:
        move(scheduler, period, (team[0], 0), (team[0], 4))
    assert error.value.code == "not_editable"
    assert shift_of(period, team[0], 0) == "D"


def test_only_rostering_managers_drag(period, team, owner, colleague, admin_user):
    for user in (owner, colleague):
        with pytest.raises(PermissionDenied):
            move(user, period, (team[0], 0), (team[0], 4))
    assert shift_of(period, team[0], 0) == "D"
    move(admin_user, period, (team[0], 0), (team[0], 4))
    assert shift_of(period, team[0], 4) == "D"


def test_violations_point_at_their_cells():
    assert violation_cells("7: works D on day 2, a day off") == ("7", (2,))
    assert violation_cells("7: D on day 3 may not follow N") == ("7", (2, 3))
    assert violation_cells("7: 6 working days in a row from day 1, at most 5") == (
        "7",
        (1, 2, 3, 4, 5, 6),
    )
    assert violation_cells("7: only 1 days off in a row from day 4, at least 2") == ("7", (4,))
    assert violation_cells("7: works 4 weekends, at most 2") == ("7", ())
    assert violation_cells("unknown employee '9' on day 1") == (None, ())


# The endpoint


def test_the_drag_endpoint_answers_with_the_cells_and_the_check(client_as, period, team, scheduler):
    bob = team[1]
    rosters.roster_cell_set(
        actor=actor(scheduler),
        period_id=period.pk,
        user_id=bob.pk,
        day=day(period, 3),
        shift_code="N",
    )
    response = client_as(scheduler).post(
        reverse("rosters:move", args=[period.pk]),
        {
            "user": bob.pk,
            "date": day(period, 3).isoformat(),
            "to_user": bob.pk,
            "to_date": day(period, 0).isoformat(),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    data = response.json()
    assert response.status_code == 200 and not data["swapped"] and not data["feasible"]
    assert shift_of(period, bob, 0) == "N" and shift_of(period, bob, 3) is None
    cells = {(c["user"], c["date"]): c for c in data["cells"]}
    assert len(cells) == 7  # Bob's row, every day
    moved = cells[(bob.pk, day(period, 0).isoformat())]
    assert moved["shift"] == "N" and moved["colour"] and moved["violations"]
    assert cells[(bob.pk, day(period, 3).isoformat())]["shift"] == ""
    assert data["rows"][0]["user"] == bob.pk and data["rows"][0]["violations"]
    assert {c["date"] for c in data["cover"]} == {
        day(period, 0).isoformat(),
        day(period, 3).isoformat(),
    }
    assert data["violations"] and data["message"].startswith("Shift moved.")
    assert f"({data['delta']['objective']:+d}: requests" in data["message"]
    assert "hard rule" in data["message"]
    period.refresh_from_db()
    assert period.objective == data["objective"]


def test_the_drag_endpoint_refuses_bad_drops_and_published_rosters(
    client_as, period, team, scheduler
):
    client = client_as(scheduler)
    url = reverse("rosters:move", args=[period.pk])
    drop = {
        "user": team[0].pk,
        "date": day(period, 0).isoformat(),
        "to_user": team[0].pk,
        "to_date": day(period, 4).isoformat(),
    }
    assert client.post(url, {**drop, "to_user": "x"}).status_code == 400
    assert client.post(url, {**drop, "to_date": "soon"}).status_code == 400
    assert client.post(url, {**drop, "to_user": team[1].pk}).status_code == 409  # diagonal
    assert client.post(reverse("rosters:move", args=[period.pk + 99]), drop).status_code == 404
    RosterPeriod.objects.filter(pk=period.pk).update(status=RosterPeriod.Status.PUBLISHED)
    refused = client.post(url, drop)
    assert refused.status_code == 409 and refused.json()["error"]
    assert shift_of(period, team[0], 0) == "D"


def test_staff_may_not_drag(client_as, period, team, owner, colleague, receptionist):
    url = reverse("rosters:move", args=[period.pk])
    drop = {
        "user": team[0].pk,
        "date": day(period, 0).isoformat(),
        "to_user": team[0].pk,
        "to_date": day(period, 4).isoformat(),
    }
    for user in (owner, colleague, receptionist):
        client = client_as(user)
        assert client.post(url, drop).status_code == 403
        assert client.get(url).status_code in (403, 405)
    assert shift_of(period, team[0], 0) == "D"


def test_the_click_edit_also_answers_with_its_row(client_as, period, team, scheduler):
    response = client_as(scheduler).post(
        reverse("rosters:cell", args=[period.pk]),
        {"user": team[0].pk, "date": day(period, 5).isoformat(), "shift": "N"},
    )
    data = response.json()
    assert response.status_code == 200 and len(data["cells"]) == 7
    assert data["rows"][0]["nights"] == 1
    bad = client_as(scheduler).post(
        reverse("rosters:cell", args=[period.pk]),
        {"user": "someone", "date": day(period, 5).isoformat(), "shift": "N"},
    )
    assert bad.status_code == 400


def test_the_grid_is_draggable_only_while_the_roster_can_be_edited(client_as, period, scheduler):
    client = client_as(scheduler)
    page = client.get(reverse("rosters:detail", args=[period.pk])).content.decode()
    assert reverse("rosters:move", args=[period.pk]) in page and "data-move-url" in page
    RosterPeriod.objects.filter(pk=period.pk).update(status=RosterPeriod.Status.PUBLISHED)
    page = client.get(reverse("rosters:detail", args=[period.pk])).content.decode()
    assert "data-move-url" not in page


# Comparing two versions


@pytest.fixture
def version(period, team, scheduler, shifts):
    """A second version of the week: Alice's day 0 shift became a night, Bob's day moved."""
    version = rosters.roster_create(
        actor=actor(scheduler),
        department=period.department,
        start=period.start,
        days=period.days,
        based_on=period,
    )
    RosterAssignment.objects.filter(period=version, user=team[0], date=day(period, 0)).update(
        shift_type=shifts["N"]
    )
    RosterAssignment.objects.filter(period=version, user=team[1], date=day(period, 1)).update(
        date=day(period, 2)
    )
    return version


def test_the_comparison_lists_the_changed_cells_per_person(period, version, team):
    comparison = rosters.roster_compare(period, version)
    changes = {row.user_id: row.changes for row in comparison.rows}
    assert changes == {team[0].pk: 1, team[1].pk: 2, team[2].pk: 0, team[3].pk: 0}
    assert comparison.changed == 3
    alice = next(row for row in comparison.rows if row.user_id == team[0].pk)
    assert (alice.cells[0].old.code, alice.cells[0].new.code) == ("D", "N")
    assert comparison.evaluation_a == rosters.roster_evaluate(period)
    assert comparison.delta == comparison.evaluation_b.objective - comparison.evaluation_a.objective
    assert [v.pk for v in rosters.roster_versions(version)] == [period.pk, version.pk]


def test_the_compare_page_shows_both_versions_and_their_differences(
    client_as, period, version, team, scheduler
):
    client = client_as(scheduler)
    detail = client.get(reverse("rosters:detail", args=[version.pk])).content.decode()
    assert reverse("rosters:compare", args=[version.pk]) in detail

    response = client.get(reverse("rosters:compare", args=[version.pk]))  # previous vs this
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('data-testid="diff-cell"') == 3
    comparison = response.context["comparison"]
    assert (comparison.a, comparison.b) == (period, version)
    assert f'data-testid="penalty-a">{comparison.evaluation_a.objective}<' in body
    assert f'data-testid="penalty-b">{comparison.evaluation_b.objective}<' in body
    assert team[1].display_name in body

    same = client.get(
        reverse("rosters:compare", args=[period.pk]), {"a": version.pk, "b": version.pk}
    )
    assert same.status_code == 200 and 'data-testid="diff-cell"' not in same.content.decode()
    swapped = client.get(
        reverse("rosters:compare", args=[period.pk]), {"a": version.pk, "b": period.pk}
    )
    assert swapped.context["comparison"].delta == -comparison.delta


def test_the_compare_page_takes_only_versions_of_the_same_roster(
    client_as, period, version, scheduler, cardiology
):
    other = rosters.roster_create(
        actor=actor(scheduler), department=cardiology, start=period.start, days=14
    )
    client = client_as(scheduler)
    url = reverse("rosters:compare", args=[period.pk])
    assert client.get(url, {"a": other.pk, "b": period.pk}).status_code == 404
    assert client.get(url, {"a": "x"}).status_code == 404
    assert client.get(reverse("rosters:compare", args=[other.pk + 99])).status_code == 404
    first = client.get(url)  # the first version has none before it: itself
    assert first.context["comparison"].a == period and first.context["comparison"].changed == 0


def test_only_rostering_managers_compare(client_as, period, version, owner, colleague, admin_user):
    url = reverse("rosters:compare", args=[version.pk])
    for user in (owner, colleague):
        assert client_as(user).get(url).status_code == 403
    assert client_as(admin_user).get(url).status_code == 200
