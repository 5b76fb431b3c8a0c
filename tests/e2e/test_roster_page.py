"""The rostering manager edits a cell and watches the optimiser improve the roster live, in a
browser, with the solve running on a real worker."""

import pytest

from appointments import rosters
from appointments.models import RosterAssignment, RosterPeriod

from ..rosters_app.conftest import contract, next_monday, quick_solver, shifts, team  # noqa: F401
from ..rosters_app.test_rosters import actor
from .conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_click_edit_is_checked_and_the_optimiser_streams_its_progress(
    page,
    celery_worker_process,
    scheduler,
    cardiology,
    team,  # noqa: F811
):
    period = rosters.roster_create(
        actor=actor(scheduler), department=cardiology, start=next_monday(), days=7
    )
    log_in(page, scheduler)
    page.goto(f"/rosters/{period.pk}/")

    # An empty roster misses all cover: a big penalty. Put Alice on the first night.
    before = int(page.locator("[data-testid=objective]").inner_text())
    cell = page.locator(f"td.cell[data-user='{team[0].pk}']").first
    cell.click()
    page.select_option("#cell-editor", "N")
    page.wait_for_function(
        f"() => Number(document.querySelector('[data-testid=objective]').textContent) < {before}"
    )
    assert RosterAssignment.objects.get(period=period, user=team[0]).shift_type.code == "N"

    page.click("[data-testid=solve]")
    page.wait_for_selector("#progress-chart polyline", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=roster-status]').textContent.trim() !== ''"
        " && document.getElementById('roster').dataset.status === 'proposed'",
        timeout=60_000,
    )
    period.refresh_from_db()
    assert period.status == RosterPeriod.Status.PROPOSED and period.progress
    assert int(page.locator("[data-testid=objective]").inner_text()) == period.objective
