from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from appointments.waits import (
    ExpectedArrival,
    estimate_mean_consultation,
    expected_remaining,
    predict_waits,
    show_probability_if_absent,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def minutes(n):
    return timedelta(minutes=n)


def test_an_empty_queue_has_no_waits():
    waits = predict_waits(
        now=NOW,
        consultation_started_at=NOW - minutes(5),
        queue_length=0,
        mean_consult_minutes=15,
    )
    assert waits == []


def test_with_the_doctor_free_the_first_patient_is_called_now():
    waits = predict_waits(
        now=NOW, consultation_started_at=None, queue_length=3, mean_consult_minutes=12
    )
    assert waits == [0, 12, 24]


def test_a_consultation_in_progress_counts_only_its_expected_remaining_time():
    waits = predict_waits(
        now=NOW,
        consultation_started_at=NOW - minutes(5),
        queue_length=2,
        mean_consult_minutes=15,
        cv=0,
    )
    assert waits == [10, 25]
    overrun = predict_waits(
        now=NOW,
        consultation_started_at=NOW - minutes(40),
        queue_length=1,
        mean_consult_minutes=15,
        cv=0,
    )
    assert overrun == [0]


def test_a_lognormal_consultation_already_running_is_expected_to_end_sooner_than_a_new_one():
    fresh = predict_waits(
        now=NOW, consultation_started_at=NOW, queue_length=1, mean_consult_minutes=15
    )
    running = predict_waits(
        now=NOW,
        consultation_started_at=NOW - minutes(10),
        queue_length=1,
        mean_consult_minutes=15,
    )
    assert fresh == [pytest.approx(15)]
    assert 0 < running[0] < 15


def test_expected_remaining_matches_a_simulation():
    rng = np.random.default_rng(1)
    sigma2 = np.log1p(0.5**2)
    draws = rng.lognormal(np.log(15) - sigma2 / 2, np.sqrt(sigma2), 400_000)
    for elapsed in (5, 15, 30):
        simulated = (draws[draws > elapsed] - elapsed).mean()
        assert expected_remaining(elapsed, 15, 0.5) == pytest.approx(simulated, rel=0.02)


def test_expected_remaining_is_never_negative_nor_above_one_mean():
    for elapsed in (0, 1, 14.9, 15, 60, 600, 1e7):
        for cv in (0, 0.3, 0.5, 1.5):
            assert 0 <= expected_remaining(elapsed, 15, cv) <= 15


def test_a_consultation_clock_ahead_of_now_counts_as_just_started():
    waits = predict_waits(
        now=NOW,
        consultation_started_at=NOW + minutes(2),
        queue_length=1,
        mean_consult_minutes=15,
    )
    assert waits == [pytest.approx(15)]


def test_nobody_is_called_before_the_session_starts():
    waits = predict_waits(
        now=NOW,
        consultation_started_at=None,
        queue_length=2,
        mean_consult_minutes=10,
        session_starts_at=NOW + minutes(20),
    )
    assert waits == [20, 30]


def test_a_booked_patient_due_before_the_call_adds_their_expected_consultation():
    due_soon = ExpectedArrival(at=NOW + minutes(5), probability=0.5)
    due_late = ExpectedArrival(at=NOW + minutes(60), probability=1.0)
    waits = predict_waits(
        now=NOW,
        consultation_started_at=None,
        queue_length=2,
        mean_consult_minutes=10,
        may_jump_ahead=[[], [due_late, due_soon]],
    )
    assert waits == [0, pytest.approx(10 + 0.5 * 10)]


def test_jumpers_chain_when_each_pushes_the_call_past_the_next_ones_time():
    chain = [ExpectedArrival(at=NOW + minutes(t), probability=1.0) for t in (18, 8)]
    waits = predict_waits(
        now=NOW,
        consultation_started_at=None,
        queue_length=2,
        mean_consult_minutes=10,
        may_jump_ahead=[[], chain],
    )
    assert waits[1] == pytest.approx(30)


def test_an_absent_booked_patient_becomes_less_likely_to_come_as_time_passes():
    chances = [
        show_probability_if_absent(minutes_since_appointment=m, no_show=0.1)
        for m in (-120, -10, 0, 5, 10, 30)
    ]
    assert chances[0] == pytest.approx(0.9, abs=1e-6)
    assert chances == sorted(chances, reverse=True)
    assert chances[-1] < 0.001


def test_the_estimator_returns_the_prior_without_observations():
    assert estimate_mean_consultation([], prior_minutes=15) == 15


def test_a_few_observations_move_the_estimate_only_part_of_the_way():
    estimate = estimate_mean_consultation([25, 25], prior_minutes=15, prior_weight=5)
    assert 15 < estimate < 20


def test_many_observations_dominate_the_prior():
    estimate = estimate_mean_consultation([10.0] * 200, prior_minutes=15, halflife=20)
    assert estimate == pytest.approx(10, abs=0.2)


def test_recent_observations_count_more_than_old_ones():
    slowing = estimate_mean_consultation([10] * 20 + [20] * 20, prior_minutes=15)
    speeding = estimate_mean_consultation([20] * 20 + [10] * 20, prior_minutes=15)
    assert slowing > 15 > speeding


def test_a_consultation_left_open_is_capped():
    estimate = estimate_mean_consultation(
        [15] * 10 + [600], prior_minutes=15, cap_factor=4, halflife=1e9, prior_weight=0
    )
    assert estimate == pytest.approx((15 * 10 + 60) / 11)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(queue_length=-1), "queue_length"),
        (dict(mean_consult_minutes=0), "mean_consult_minutes"),
        (dict(may_jump_ahead=[[]]), "may_jump_ahead"),
    ],
)
def test_predict_waits_rejects_invalid_inputs(kwargs, message):
    arguments = dict(now=NOW, consultation_started_at=None, queue_length=2, mean_consult_minutes=10)
    with pytest.raises(ValueError, match=message):
        predict_waits(**{**arguments, **kwargs})


def test_the_estimator_rejects_a_negative_duration():
    with pytest.raises(ValueError, match="durations"):
        estimate_mean_consultation([10, -1], prior_minutes=15)
