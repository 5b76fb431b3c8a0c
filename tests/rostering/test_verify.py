import pytest

from appointments.rostering.instance import Fairness, ShiftType
from appointments.rostering.verify import evaluate

from .builders import EARLY, LATE, cover, employee, instance, off, on


def violations(emp, roster, horizon=7):
    return list(evaluate(instance([emp], horizon=horizon), roster).violations)


def days(*numbers, shift="E"):
    return {("A", d): shift for d in numbers}


def test_a_roster_that_breaks_nothing_has_no_violations():
    emp = employee(max_consecutive_shifts=3, min_consecutive_shifts=2, min_consecutive_days_off=2)
    result = evaluate(instance([emp]), days(0, 1, 4, 5))
    assert result.feasible and result.violations == ()


@pytest.mark.parametrize(
    ("limits", "roster", "message"),
    [
        ({"days_off": frozenset({2})}, days(2), "A: works E on day 2, a day off"),
        ({}, {("A", 1): "L", ("A", 2): "E"}, "A: E on day 2 may not follow L"),
        ({"max_shifts": {"L": 1}}, days(0, 1, shift="L"), "A: 2 L shifts, at most 1 allowed"),
        ({"max_shifts": {"L": 0}}, days(3, shift="L"), "A: 1 L shifts, at most 0 allowed"),
        ({"max_total_minutes": 960}, days(0, 1, 2), "A: works 1440 min, more than 960"),
        ({"min_total_minutes": 960}, days(0), "A: works 480 min, less than 960"),
        (
            {"max_consecutive_shifts": 3},
            days(0, 1, 2, 3),
            "A: 4 working days in a row from day 0, at most 3",
        ),
        (
            {"min_consecutive_shifts": 2},
            days(2),
            "A: only 1 working days in a row from day 2, at least 2",
        ),
        (
            {"min_consecutive_days_off": 2},
            days(0, 1, 3, 4),
            "A: only 1 days off in a row from day 2, at least 2",
        ),
    ],
)
def test_it_catches_each_hard_rule(limits, roster, message):
    assert violations(employee(**limits), roster) == [message]


def test_it_counts_weekends_worked():
    emp = employee(max_weekends=1)
    assert violations(emp, days(5, 13), horizon=14) == ["A: works 2 weekends, at most 1"]
    assert violations(emp, days(5, 6), horizon=14) == []


def test_blocks_touching_either_end_of_the_horizon_are_exempt_from_minimums():
    emp = employee(min_consecutive_shifts=3, min_consecutive_days_off=3)
    assert violations(emp, days(0, 4, 5, 6)) == []  # 1-day work block at the start
    assert violations(emp, days(0, 1, 2, 6)) == []  # 1-day work block at the end
    assert violations(emp, days(1, 2, 3)) == []  # 1-day rest at the start, 3 at the end
    assert violations(emp, days(2, 3, 4)) == []  # 2-day rests at both ends
    assert violations(emp, days(0, 3, 4, 5)) == [
        "A: only 2 days off in a row from day 1, at least 3"
    ]


def test_short_rest_inside_the_horizon_is_caught_but_not_at_the_edges():
    emp = employee(min_consecutive_days_off=3)
    assert violations(emp, days(1, 2, 3, 4, 5)) == []  # rests of 1 day at both ends
    assert violations(emp, days(0, 3, 4, 5, 6)) == [
        "A: only 2 days off in a row from day 1, at least 3"
    ]


def test_it_reports_unknown_names():
    problems = violations(employee(), {("Z", 1): "E", ("A", 2): "X", ("A", 9): "E"})
    assert "unknown employee 'Z' on day 1" in problems
    assert "A: unknown shift 'X' on day 2" in problems
    assert "A: day 9 is outside the horizon" in problems


def test_it_computes_the_objective_exactly():
    inst = instance(
        [employee("A"), employee("B")],
        on_requests=(on("A", 0, "E", 2), on("B", 3, "L", 7)),
        off_requests=(off("A", 1, "L", 3), off("B", 1, "L", 11)),
        cover=(cover(0, "E", 2, under=100, over=1), cover(1, "L", 0, under=100, over=5)),
    )
    roster = {("A", 0): "E", ("A", 1): "L", ("B", 4): "E"}
    result = evaluate(inst, roster)
    # B misses an on-request (7), A gets a shift it asked off (3); day 0 E lacks one person
    # (100), day 1 L has one too many (5).
    assert (result.request_cost, result.cover_cost, result.fairness_cost) == (10, 105, 0)
    assert result.objective == 115


def test_fairness_cost_is_the_weighted_spread_of_nights_and_weekends():
    night = ShiftType("N", 600)
    inst = instance(
        [employee("A"), employee("B")],
        shifts=(EARLY, LATE, night),
        fairness=Fairness(night_shifts=frozenset({"N"}), nights_weight=5, weekends_weight=2),
    )
    roster = {("A", 0): "N", ("A", 1): "N", ("A", 5): "N", ("B", 3): "N"}
    result = evaluate(inst, roster)
    assert result.fairness_cost == 5 * (3 - 1) + 2 * (1 - 0)
    assert result.objective == 12
