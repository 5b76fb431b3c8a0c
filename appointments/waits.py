"""Predicted waiting time for the patients in one doctor's queue.

Pure Python, no Django. The queue order is decided elsewhere (returning patients with an
appointment placed directly, the others by appointment time and arrival); this module only says
how long each patient in that order should expect to wait.

Assumptions, stated once:

- One doctor sees the queue one patient at a time, in the given order, without breaks; a patient
  is called as soon as the doctor is free (no waiting for an appointment time to come).
- Consultation lengths are independent and lognormal with the estimated mean and a coefficient
  of variation `cv` (0.5 is typical of outpatient clinics; 0 means exactly the mean).
- The consultation in progress has lasted `now - consultation_started_at`; its expected remaining
  time is the lognormal mean residual life given that elapsed time (never negative; it shrinks as
  the consultation goes on, then grows slowly once it has overrun, because a consultation that is
  already long is likely a long one). It is capped at one mean consultation, so a consultation
  left open by mistake hours ago does not push every prediction out.
- Patients already in the queue have arrived. Booked patients who have not arrived yet but
  would be placed ahead of a queued patient (`may_jump_ahead`) each add one mean consultation,
  times the probability they come, if they are expected before that patient is called; the
  probability that an absent patient still comes falls as their appointment time passes
  (`show_probability_if_absent`). Unbooked arrivals after now are not foreseen.
- A prediction is an expectation, not a promise: show it rounded, e.g. "about 20 minutes".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ExpectedArrival:
    """A booked patient not arrived yet: when they would arrive, and the probability they come
    at all (see `show_probability_if_absent`)."""

    at: datetime
    probability: float

    def __post_init__(self) -> None:
        if not (0 <= self.probability <= 1):
            raise ValueError(f"probability must be in [0, 1], got {self.probability!r}")


def estimate_mean_consultation(
    durations: Sequence[float],
    *,
    prior_minutes: float,
    prior_weight: float = 5.0,
    halflife: float = 20.0,
    cap_factor: float = 4.0,
) -> float:
    """Estimate the mean consultation length (minutes) from recent observed durations.

    `durations` run oldest first. The estimate is an exponentially weighted mean (an
    observation `halflife` consultations older counts half as much) shrunk towards
    `prior_minutes` (e.g. the nominal slot length or the doctor's long-run mean) as if the prior
    were `prior_weight` observations older than all the others: with no data it is the prior,
    with a few it moves part of the way, with many the data dominate. Each duration is capped
    at `cap_factor` times the prior, so a consultation left open by mistake does not throw the
    estimate off.
    """
    if not (math.isfinite(prior_minutes) and prior_minutes > 0):
        raise ValueError(f"prior_minutes must be positive, got {prior_minutes!r}")
    if not (math.isfinite(prior_weight) and prior_weight >= 0):
        raise ValueError(f"prior_weight must be zero or positive, got {prior_weight!r}")
    if not (math.isfinite(halflife) and halflife > 0):
        raise ValueError(f"halflife must be positive, got {halflife!r}")
    if not cap_factor > 1:
        raise ValueError(f"cap_factor must be above 1, got {cap_factor!r}")
    cap = cap_factor * prior_minutes
    count = len(durations)
    # the prior is older than every observation, so it fades like one: it counts fully with no
    # data and no longer matters once many halflives of observations have come in
    prior = prior_weight * 0.5 ** (count / halflife)
    total, weight = prior * prior_minutes, prior
    for index, duration in enumerate(durations):
        if not (math.isfinite(duration) and duration >= 0):
            raise ValueError(f"durations must be finite and not negative, got {duration!r}")
        w = 0.5 ** ((count - 1 - index) / halflife)
        total += w * min(duration, cap)
        weight += w
    if weight == 0:
        # no prior weight and no observations: the prior is all we have
        return float(prior_minutes)
    return total / weight


def expected_remaining(elapsed_minutes: float, mean_minutes: float, cv: float = 0.5) -> float:
    """Expected minutes left in a consultation that has lasted `elapsed_minutes`.

    E[S - e | S > e] for a lognormal S with the given mean and coefficient of variation;
    `mean_minutes` when nothing has elapsed, `max(mean - e, 0)` when `cv` is 0, and never more
    than `mean_minutes` (for cv 0.5 the cap binds only after about 11 mean lengths have
    elapsed; it keeps a consultation left open by mistake from inflating every wait).
    """
    if not (math.isfinite(mean_minutes) and mean_minutes > 0):
        raise ValueError(f"mean_minutes must be positive, got {mean_minutes!r}")
    if not (math.isfinite(cv) and cv >= 0):
        raise ValueError(f"cv must be zero or positive, got {cv!r}")
    elapsed = max(0.0, float(elapsed_minutes))
    if cv == 0:
        return max(mean_minutes - elapsed, 0.0)
    if elapsed == 0:
        return float(mean_minutes)
    sigma = math.sqrt(math.log1p(cv**2))
    mu = math.log(mean_minutes) - sigma**2 / 2
    z = (math.log(elapsed) - mu) / sigma
    survival = 0.5 * math.erfc(z / math.sqrt(2))
    if survival < 1e-200:
        # far in the tail both terms underflow; the residual life there is above the cap
        return float(mean_minutes)
    partial_mean = mean_minutes * 0.5 * math.erfc((z - sigma) / math.sqrt(2))
    return min(max(partial_mean / survival - elapsed, 0.0), float(mean_minutes))


def show_probability_if_absent(
    *,
    minutes_since_appointment: float,
    no_show: float,
    lateness_mean: float = -5.0,
    lateness_sd: float = 8.0,
) -> float:
    """Probability that a booked patient who has not arrived yet will still come.

    Assumes a patient comes with probability `1 - no_show` and, if so, arrives
    N(`lateness_mean`, `lateness_sd`) minutes after the appointment time (negative: early).
    Not having arrived `minutes_since_appointment` after the appointment (negative: before it)
    is evidence of a no-show, by Bayes' rule: 0.9 well before the appointment for a 10% no-show
    rate, about 0.5 at five minutes late, under 0.01 at twenty minutes late.
    """
    if not (0 <= no_show <= 1):
        raise ValueError(f"no_show must be in [0, 1], got {no_show!r}")
    if not lateness_sd > 0:
        raise ValueError(f"lateness_sd must be positive, got {lateness_sd!r}")
    z = (minutes_since_appointment - lateness_mean) / lateness_sd
    still_to_come = (1 - no_show) * 0.5 * math.erfc(z / math.sqrt(2))
    if still_to_come == 0:
        return 0.0
    return still_to_come / (no_show + still_to_come)


def predict_waits(
    *,
    now: datetime,
    consultation_started_at: datetime | None,
    queue_length: int,
    mean_consult_minutes: float,
    cv: float = 0.5,
    session_starts_at: datetime | None = None,
    may_jump_ahead: Sequence[Sequence[ExpectedArrival]] | None = None,
) -> list[float]:
    """Expected wait in minutes (from `now` until called) for each of the `queue_length`
    patients waiting, in queue order.

    - `consultation_started_at`: start of the consultation in progress, or None if the doctor is
      free (then the first patient is called now, unless the session has not started).
    - `session_starts_at`: nobody is called before it (a session that has not begun yet).
    - `may_jump_ahead[k]`: booked patients who have not arrived yet and would be placed ahead
      of queued patient k if they came (the caller applies the queue rule). Each one whose
      expected arrival falls before patient k would be called adds its probability of coming
      times one mean consultation.

    Datetimes must all be timezone-aware (or all naive); the result is never negative.
    """
    if isinstance(queue_length, bool) or not isinstance(queue_length, int) or queue_length < 0:
        raise ValueError(f"queue_length must be a whole number >= 0, got {queue_length!r}")
    if not (math.isfinite(mean_consult_minutes) and mean_consult_minutes > 0):
        raise ValueError(f"mean_consult_minutes must be positive, got {mean_consult_minutes!r}")
    if may_jump_ahead is not None and len(may_jump_ahead) != queue_length:
        raise ValueError(
            f"may_jump_ahead needs one list per queued patient ({queue_length}), "
            f"got {len(may_jump_ahead)}"
        )

    doctor_free_in = 0.0
    if consultation_started_at is not None:
        elapsed = _minutes(now, consultation_started_at)
        doctor_free_in = expected_remaining(elapsed, mean_consult_minutes, cv)
    if session_starts_at is not None:
        doctor_free_in = max(doctor_free_in, -_minutes(now, session_starts_at))

    waits = []
    for position in range(queue_length):
        wait = doctor_free_in + position * mean_consult_minutes
        if may_jump_ahead is not None:
            wait = _with_jumpers(wait, now, may_jump_ahead[position], mean_consult_minutes)
        waits.append(wait)
    return waits


def _with_jumpers(
    wait: float, now: datetime, jumpers: Sequence[ExpectedArrival], mean: float
) -> float:
    """Add the expected consultation of each jumper due before the patient is called; each
    addition pushes the call later, which may bring the next jumper in too."""
    for jumper in sorted(jumpers, key=lambda j: j.at):
        if _minutes(jumper.at, now) > wait:
            break
        wait += jumper.probability * mean
    return wait


def _minutes(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 60
