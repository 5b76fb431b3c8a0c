"""A roster is solved by a real worker on the ``scheduling`` queue, streaming its progress."""

import time

import pytest

from appointments import rosters
from appointments.models import RosterPeriod

from ..rosters_app.conftest import contract, next_monday, quick_solver, shifts, team  # noqa: F401
from ..rosters_app.test_rosters import actor

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_worker_solves_a_roster_and_records_each_improvement(
    celery_worker_process,
    scheduler,
    cardiology,
    team,  # noqa: F811
):
    period = rosters.roster_create(
        actor=actor(scheduler), department=cardiology, start=next_monday(), days=7
    )
    rosters.roster_solve_start(actor=actor(scheduler), period_id=period.pk)
    deadline = time.monotonic() + 180  # one shared worker: other tasks may run first
    while time.monotonic() < deadline:
        period.refresh_from_db()
        if period.status != RosterPeriod.Status.SOLVING:
            break
        time.sleep(0.5)
    assert period.status == RosterPeriod.Status.PROPOSED
    assert period.progress and period.assignments.exists()
    assert rosters.roster_evaluate(period).feasible
