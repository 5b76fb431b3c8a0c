"""The rostering manager drags a shift to another day in Chromium: the cells, the broken-rule
marks, the violation list and the penalty change at once, without a reload, and the database
holds the moved shift."""

from datetime import timedelta

import pytest

from appointments import rosters
from appointments.models import RosterAssignment

from ..rosters_app.conftest import contract, next_monday, shifts, team  # noqa: F401
from ..rosters_app.test_rosters import actor
from .conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_dragged_shift_moves_and_its_broken_rule_shows_at_once(
    page,
    scheduler,
    cardiology,
    team,  # noqa: F811
    shifts,  # noqa: F811
):
    period = rosters.roster_create(
        actor=actor(scheduler), department=cardiology, start=next_monday(), days=7
    )
    bob = team[1]
    day = [period.start + timedelta(days=i) for i in range(7)]
    # Bob works a day on day 1 and a night on day 3: no rule broken yet.
    RosterAssignment.objects.create(period=period, user=bob, date=day[1], shift_type=shifts["D"])
    RosterAssignment.objects.create(period=period, user=bob, date=day[3], shift_type=shifts["N"])

    log_in(page, scheduler)
    page.goto(f"/rosters/{period.pk}/")

    def cell(i):
        return page.locator(f"td.cell[data-user='{bob.pk}'][data-date='{day[i]:%Y-%m-%d}']")

    before = page.locator("[data-testid=objective]").inner_text()
    assert page.locator("#violations li").count() == 0
    loads = []
    page.on("load", lambda _page: loads.append(1))

    # A night on day 0 is followed by Bob's day shift on day 1: a broken rule (the cover
    # penalty stays: day 3 loses its night, day 0 gains one).
    cell(3).drag_to(cell(0))

    page.wait_for_function(
        "() => document.querySelector('[data-testid=edit-message]').textContent !== ''"
    )
    assert cell(0).inner_text() == "N" and cell(3).inner_text() == ""
    assert "violation" in cell(0).get_attribute("class")
    assert "violation" in cell(1).get_attribute("class")
    violations = page.locator("#violations li")
    assert violations.count() == 1 and bob.display_name in violations.first.inner_text()
    assert page.locator("#violation-count").inner_text() == "1"
    assert page.locator(f"tr[data-user='{bob.pk}']").get_attribute("class") == "broken"
    message = page.locator("[data-testid=edit-message]").inner_text()
    assert before in message and "→" in message
    assert loads == []  # no reload
    shifts_now = {
        a.date: a.shift_type.code for a in RosterAssignment.objects.filter(period=period, user=bob)
    }
    assert shifts_now == {day[0]: "N", day[1]: "D"}
    period.refresh_from_db()
    assert page.locator("[data-testid=objective]").inner_text() == str(period.objective)

    # Dragged back onto day 3, the rule holds again.
    cell(0).drag_to(cell(3))
    page.wait_for_function("() => document.querySelectorAll('#violations li').length === 0")
    assert cell(3).inner_text() == "N" and "violation" not in cell(0).get_attribute("class")
    assert RosterAssignment.objects.get(period=period, user=bob, date=day[3]).shift_type.code == "N"
