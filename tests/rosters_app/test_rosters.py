"""Rosters in the app: the optimiser's instance built from the rows, solving as a job,
manual edits checked at once, sick calls, publishing into bookable sessions."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied

from appointments import rosters
from appointments.errors import BookingError
from appointments.models import (
    Appointment,
    AppointmentStatus,
    ClinicSession,
    RosterAssignment,
    RosterPeriod,
    StaffRequest,
)
from appointments.rostering.verify import evaluate
from clinic.audit import Actor

from ..factories import PatientFactory
from .conftest import next_monday

pytestmark = pytest.mark.django_db


def actor(user):
    return Actor(user=user, ip="10.0.0.2")


@pytest.fixture
def period(scheduler, cardiology, team):
    return rosters.roster_create(
        actor=actor(scheduler), department=cardiology, start=next_monday(), days=7
    )


def solve(period, **kwargs):
    RosterPeriod.objects.filter(pk=period.pk).update(status=RosterPeriod.Status.SOLVING)
    outcome = rosters.roster_solve_run(period.pk, **kwargs)
    period.refresh_from_db()
    return outcome


def test_the_instance_reflects_contracts_requests_and_cover(period, team, shifts):
    alice = team[0]
    StaffRequest.objects.create(user=alice, kind="day_off", date=period.start, status="approved")
    StaffRequest.objects.create(user=alice, kind="day_off", date=period.start + timedelta(1))
    StaffRequest.objects.create(
        user=team[1],
        kind="shift_on",
        date=period.start + timedelta(2),
        shift_type=shifts["N"],
        weight=3,
        status="approved",
    )
    problem = rosters.problem_for(period)
    me = next(e for e in problem.instance.employees if e.id == str(alice.pk))
    assert me.days_off == frozenset({0})  # the pending request is not a day off
    assert me.max_shifts["N"] == 3 and me.max_total_minutes == 4000
    assert [(r.employee, r.day, r.shift, r.weight) for r in problem.instance.on_requests] == [
        (str(team[1].pk), 2, "N", 3)
    ]
    assert len(problem.instance.cover) == 14
    assert problem.instance.shift("N").forbidden_next == frozenset({"D", "C"})
    assert problem.instance.first_weekday == 0


def test_solving_stores_a_feasible_roster_with_its_progress(period):
    assert solve(period) in ("optimal", "feasible")
    assert period.status == RosterPeriod.Status.PROPOSED
    problem = rosters.problem_for(period)
    evaluation = evaluate(problem.instance, rosters.assignment_of(period, problem))
    assert evaluation.feasible and evaluation.objective == period.objective
    assert evaluation.cover_cost < 100  # nobody missing (each missing person costs 100)
    objectives = [p["objective"] for p in period.progress]
    assert objectives and objectives == sorted(objectives, reverse=True)


def test_a_redelivered_solve_task_does_nothing(period):
    assert rosters.roster_solve_run(period.pk) == "skipped"  # not claimed: draft


def test_a_cancelled_solve_leaves_a_draft(period):
    RosterPeriod.objects.filter(pk=period.pk).update(cancel_requested=True)
    assert solve(period) == "cancelled"
    assert period.status == RosterPeriod.Status.DRAFT


def test_impossible_rules_fail_with_an_explanation(period, contract):
    contract.min_total_minutes = 3900  # more than seven days can hold with these shifts
    contract.save()
    assert solve(period) == "failed"
    assert period.status == RosterPeriod.Status.FAILED and period.explanation


def test_a_manual_edit_is_checked_at_once(period, team, scheduler):
    solve(period)
    alice = team[0]
    day = period.start + timedelta(days=3)
    rosters.roster_cell_set(
        actor=actor(scheduler),
        period_id=period.pk,
        user_id=alice.pk,
        day=day - timedelta(days=1),
        shift_code="N",
    )
    evaluation = rosters.roster_cell_set(
        actor=actor(scheduler), period_id=period.pk, user_id=alice.pk, day=day, shift_code="D"
    )
    assert any("may not follow" in v for v in evaluation.violations)
    with pytest.raises(BookingError):
        rosters.roster_publish(actor=actor(scheduler), period_id=period.pk)


def test_only_rostering_managers_edit_and_publish(period, owner):
    with pytest.raises(PermissionDenied):
        rosters.roster_cell_set(
            actor=actor(owner),
            period_id=period.pk,
            user_id=owner.pk,
            day=period.start,
            shift_code="D",
        )
    with pytest.raises(PermissionDenied):
        rosters.roster_publish(actor=actor(owner), period_id=period.pk)


def test_publishing_turns_clinic_shifts_into_bookable_sessions(period, team, scheduler, shifts):
    alice = team[0]
    RosterAssignment.objects.create(
        period=period, user=alice, date=period.start, shift_type=shifts["C"]
    )
    rosters.roster_publish(actor=actor(scheduler), period_id=period.pk)
    session = ClinicSession.objects.get(doctor=alice.practitioner)
    assert session.roster == period and session.slots.count() == 12
    assert session.period == "am"
    period.refresh_from_db()
    assert period.status == RosterPeriod.Status.PUBLISHED and period.publish_conflicts == []


def test_a_new_version_never_drops_a_booked_session(period, team, scheduler, shifts):
    alice, bob = team[0], team[1]
    RosterAssignment.objects.create(
        period=period, user=alice, date=period.start, shift_type=shifts["C"]
    )
    RosterAssignment.objects.create(
        period=period, user=bob, date=period.start, shift_type=shifts["C"]
    )
    rosters.roster_publish(actor=actor(scheduler), period_id=period.pk)
    booked = ClinicSession.objects.get(doctor=alice.practitioner)
    Appointment.objects.create(
        session=booked,
        slot=booked.slots.first(),
        patient=PatientFactory(),
        booked_by=scheduler,
        status=AppointmentStatus.BOOKED,
    )
    version = rosters.roster_create(
        actor=actor(scheduler),
        department=period.department,
        start=period.start,
        days=period.days,
        based_on=period,
    )
    RosterAssignment.objects.filter(period=version, shift_type=shifts["C"]).delete()
    rosters.roster_publish(actor=actor(scheduler), period_id=version.pk)

    version.refresh_from_db()
    booked.refresh_from_db()
    assert booked.status == ClinicSession.Status.OPEN  # kept: someone is booked
    assert [c["session"] for c in version.publish_conflicts] == [booked.pk]
    empty = ClinicSession.objects.get(doctor=bob.practitioner)
    assert empty.status == ClinicSession.Status.CANCELLED


def test_a_sick_call_on_a_published_roster_makes_a_new_version(period, team, scheduler):
    solve(period)
    rosters.roster_publish(actor=actor(scheduler), period_id=period.pk)
    version = rosters.roster_sick_call(
        actor=actor(scheduler),
        period_id=period.pk,
        user_id=team[2].pk,
        first=period.start,
        last=period.start + timedelta(days=1),
    )
    assert version.pk != period.pk and version.based_on == period
    assert version.status == RosterPeriod.Status.SOLVING
    assert StaffRequest.objects.filter(user=team[2], kind="leave", status="approved").exists()
    assert rosters.roster_solve_run(version.pk, minimal_change=True) in ("optimal", "feasible")
    version.refresh_from_db()
    off = RosterAssignment.objects.filter(
        period=version, user=team[2], date__lte=period.start + timedelta(days=1)
    )
    assert not off.exists()
    assert rosters.roster_grid(version).changed >= 1


def test_broken_rules_read_with_names_and_dates_in_the_language(period, team, scheduler):
    from django.utils import translation

    alice = team[0]
    rosters.roster_cell_set(
        actor=actor(scheduler),
        period_id=period.pk,
        user_id=alice.pk,
        day=period.start,
        shift_code="N",
    )
    rosters.roster_cell_set(
        actor=actor(scheduler),
        period_id=period.pk,
        user_id=alice.pk,
        day=period.start + timedelta(days=1),
        shift_code="D",
    )
    with translation.override("en"):
        grid = rosters.roster_grid(period)
    expected = (
        f"{alice.display_name}: D on {period.start + timedelta(days=1):%m-%d} may not follow N"
    )
    assert expected in grid.violations
    with translation.override("zh-hans"):
        grid = rosters.roster_grid(period)
    assert any(alice.display_name in v and "不能" in v for v in grid.violations)


def test_an_impossible_roster_is_explained_with_names(period, contract, team):
    contract.min_total_minutes = 3900
    contract.save()
    solve(period)
    from django.utils import translation

    with translation.override("en"):
        grid = rosters.roster_grid(period)
    assert grid.explanation
    assert any(member.display_name in line for line in grid.explanation for member in team)


def test_the_fairness_summary_shows_the_spread(period, team, scheduler):
    rosters.roster_cell_set(
        actor=actor(scheduler),
        period_id=period.pk,
        user_id=team[0].pk,
        day=period.start,
        shift_code="N",
    )
    fairness = rosters.roster_grid(period).fairness
    assert fairness["nights"] == {"min": 0, "max": 1, "spread": 1}
    assert fairness["hours"]["max"] == 10
