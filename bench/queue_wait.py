"""How accurate are the predicted waits of appointments/waits.py? Simulates clinic days (booked
patients who come early or late or not at all, walk-ins, lognormal consultations whose true mean
differs from day to day), predicts each patient's wait when they arrive and prints the mean
absolute error against the realised wait, beside a naive predictor and two reduced predictors."""

import argparse
import math
import statistics
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appointments.waits import (  # noqa: E402
    ExpectedArrival,
    estimate_mean_consultation,
    predict_waits,
    show_probability_if_absent,
)

DAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # session start; minutes below are from here
NOMINAL_SLOT = 15.0
CV = 0.5


@dataclass(eq=False)
class Patient:
    arrival: float
    key: float  # queue order: appointment time if booked, else arrival time
    booked: bool
    service: float
    start: float = math.nan

    @property
    def end(self) -> float:
        return self.start + self.service


def clinic_day(rng: np.random.Generator, args: argparse.Namespace) -> tuple[list, list, float]:
    """One day: (patients who came, appointment times of all booked patients, true mean)."""
    true_mean = float(np.clip(rng.normal(NOMINAL_SLOT, 2.0), 9.0, 21.0))
    sigma = math.sqrt(math.log1p(CV**2))
    mu = math.log(true_mean) - sigma**2 / 2
    appointments = [i * NOMINAL_SLOT for i in range(args.booked)]
    came = []
    for appointment in appointments:
        if rng.random() < args.no_show:
            continue
        arrival = appointment + float(np.clip(rng.normal(-5.0, 8.0), -30.0, 25.0))
        came.append(Patient(arrival, appointment, True, float(rng.lognormal(mu, sigma))))
    for _ in range(rng.poisson(args.walk_ins)):
        arrival = float(rng.uniform(0, args.booked * NOMINAL_SLOT * 0.8))
        came.append(Patient(arrival, arrival, False, float(rng.lognormal(mu, sigma))))
    _serve(came)
    return came, appointments, true_mean


def _serve(patients: list[Patient]) -> None:
    """The doctor starts at minute 0 and, whenever free, calls the present patient of lowest key."""
    waiting = sorted(patients, key=lambda p: p.arrival)
    free, present = 0.0, []
    while waiting or present:
        while waiting and waiting[0].arrival <= free:
            present.append(waiting.pop(0))
        if not present:
            free = max(free, waiting[0].arrival)
            continue
        nxt = min(present, key=lambda p: (p.key, p.arrival))
        present.remove(nxt)
        nxt.start = free
        free = nxt.end


def predictions(
    day: list[Patient],
    appointments: list[float],
    patient: Patient,
    no_show: float,
    true_mean: float,
) -> dict:
    """Predicted waits for `patient` at the moment they arrive, by each predictor."""
    now = patient.arrival
    in_progress = [p for p in day if p.start < now < p.end]
    queue = sorted(
        (p for p in day if p.arrival <= now and p.start >= now),
        key=lambda p: (p.key, p.arrival),
    )
    position = queue.index(patient)
    done = sorted((p for p in day if p.end <= now), key=lambda p: p.end)
    estimated = estimate_mean_consultation([p.service for p in done], prior_minutes=NOMINAL_SLOT)
    arrived_keys = {p.key for p in day if p.booked and p.arrival <= now}
    pending_times = [t for t in appointments if t not in arrived_keys]
    pending = [
        ExpectedArrival(
            at=DAY + timedelta(minutes=max(t, now)),
            probability=show_probability_if_absent(
                minutes_since_appointment=now - t, no_show=no_show
            ),
        )
        for t in appointments
        if t not in arrived_keys
    ]
    jumpers = [[j for t, j in zip(pending_times, pending, strict=True) if t < q.key] for q in queue]
    common = dict(
        now=DAY + timedelta(minutes=now),
        consultation_started_at=(
            DAY + timedelta(minutes=in_progress[0].start) if in_progress else None
        ),
        queue_length=len(queue),
        cv=CV,
        session_starts_at=DAY,
    )
    nominal = predict_waits(mean_consult_minutes=NOMINAL_SLOT, **common)
    learnt = predict_waits(mean_consult_minutes=estimated, **common)
    full = predict_waits(mean_consult_minutes=estimated, may_jump_ahead=jumpers, **common)
    oracle = predict_waits(mean_consult_minutes=true_mean, may_jump_ahead=jumpers, **common)
    ahead = position + len(in_progress)
    return {
        "naive: patients ahead × 15 min": ahead * NOMINAL_SLOT + max(0.0, -now),
        "waits.py, nominal 15-min mean": nominal[position],
        "waits.py, estimated mean": learnt[position],
        "waits.py, estimated mean + late-comers": full[position],
        "(oracle: same, knowing the day's true mean)": oracle[position],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--booked", type=int, default=14)
    parser.add_argument("--walk-ins", type=float, default=3.0)
    parser.add_argument("--no-show", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    # (predictor, "booked"/"walk-in") -> signed errors
    errors: dict[tuple[str, str], list[float]] = {}
    realised_waits = []
    for _ in range(args.days):
        day, appointments, true_mean = clinic_day(rng, args)
        for patient in day:
            realised = patient.start - patient.arrival
            realised_waits.append(realised)
            kind = "booked" if patient.booked else "walk-in"
            predicted = predictions(day, appointments, patient, args.no_show, true_mean)
            for name, value in predicted.items():
                errors.setdefault((name, kind), []).append(value - realised)

    print(
        f"{args.days} days, {args.booked} booked at {NOMINAL_SLOT:g}-min slots, "
        f"{args.walk_ins:g} walk-ins/day, {args.no_show:.0%} no-shows, lognormal CV {CV:g}, "
        f"true daily mean ~N(15, 2) min"
    )
    mean, median = statistics.fmean(realised_waits), statistics.median(realised_waits)
    print(
        f"{len(realised_waits)} predictions; realised wait mean {mean:.1f} min, median {median:.1f}"
    )
    print(f"{'predictor':<46}{'MAE':>6}{'bias':>6}{'MAE booked':>12}{'MAE walk-in':>13}")
    for name in dict.fromkeys(name for name, _ in errors):
        both = errors[name, "booked"] + errors.get((name, "walk-in"), [])
        row = f"{name:<46}{_mae(both):6.1f}{statistics.fmean(both):6.1f}"
        row += (
            f"{_mae(errors[name, 'booked']):12.1f}{_mae(errors.get((name, 'walk-in'), [])):13.1f}"
        )
        print(row)


def _mae(signed_errors: list[float]) -> float:
    return statistics.fmean(abs(e) for e in signed_errors) if signed_errors else math.nan


if __name__ == "__main__":
    main()
