"""How good are the appointment schedules of appointments/slotting.py? Simulates one clinic
session under each schedule and prints mean patient wait, doctor idle time, overtime and the
weighted cost, beside the textbook reference figures, then the same with no-shows, and how long
the optimiser takes."""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appointments.slotting import (  # noqa: E402
    DEFAULT_SEED,
    ConsultationTime,
    CostWeights,
    Session,
    _optimised_cached,
    all_at_opening,
    bailey_welch,
    equally_spaced,
    optimised,
    simulate,
)

# 12 patients, 15-minute mean consultations with CV 0.5, no no-shows (mean wait, idle minutes)
REFERENCE = {
    "all at opening": ("~83", "-"),
    "equally spaced": ("~9", "~15"),
    "Bailey-Welch": ("~16", "~5"),
    "optimised": ("-", "-"),
}
SCHEDULES = {
    "all at opening": all_at_opening,
    "equally spaced": equally_spaced,
    "Bailey-Welch": bailey_welch,
    "optimised": optimised,
}


def compare(session: Session, evaluation_replications: int, with_reference: bool) -> None:
    """Print one row per schedule, evaluated on fresh random numbers (not those the optimiser
    searched with), and the optimised-vs-Bailey-Welch cost on the optimiser's own numbers."""
    w = session.weights
    print(
        f"\n{session.patients} patients, {session.length_minutes:.0f}-minute session, "
        f"mean {session.consultation.mean_minutes:g} min CV {session.consultation.cv:g} "
        f"({session.consultation.family}), no-shows {session.no_show:.0%}; "
        f"cost = {w.wait:g}·Σwait + {w.idle:g}·idle + {w.overtime:g}·overtime"
    )
    header = f"{'schedule':<16}{'wait':>7}{'idle':>7}{'overtime':>10}{'cost':>8}"
    print(header + ("   reference wait / idle" if with_reference else ""))
    for name, schedule_for in SCHEDULES.items():
        schedule = schedule_for(session)
        m = simulate(
            schedule,
            session.consultation,
            session.no_show,
            evaluation_replications,
            DEFAULT_SEED + 1000,
            session_minutes=session.length_minutes,
            weights=w,
        )
        row = f"{name:<16}{m.mean_wait:7.1f}{m.mean_idle:7.1f}{m.mean_overtime:10.1f}{m.cost:8.1f}"
        if with_reference:
            row += "   {} / {}".format(*REFERENCE[name])
        print(row)
    print("optimised offsets:", " ".join(f"{x:g}" for x in optimised(session)))
    same = [
        simulate(
            f(session),
            session.consultation,
            session.no_show,
            session_minutes=session.length_minutes,
            weights=w,
        ).cost
        for f in (bailey_welch, optimised)
    ]
    print(
        f"on the optimiser's own random numbers: Bailey-Welch {same[0]:.1f}, "
        f"optimised {same[1]:.1f}"
    )


def time_search(patients: int, consultation: ConsultationTime, no_show: float) -> None:
    session = Session(patients, patients * consultation.mean_minutes, consultation, no_show)
    _optimised_cached.cache_clear()
    start = time.perf_counter()
    optimised(session)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    optimised(session)
    warm = time.perf_counter() - start
    print(
        f"optimised, {patients} patients, no-shows {no_show:.0%}: "
        f"{cold * 1000:.0f} ms uncached, {warm * 1e6:.0f} µs cached"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=12)
    parser.add_argument("--mean", type=float, default=15.0)
    parser.add_argument("--cv", type=float, default=0.5)
    parser.add_argument("--family", choices=["lognormal", "gamma"], default="lognormal")
    parser.add_argument("--no-show", type=float, default=0.10)
    parser.add_argument("--evaluation-replications", type=int, default=50_000)
    args = parser.parse_args()

    consultation = ConsultationTime(args.mean, args.cv, args.family)
    length = args.patients * args.mean
    reference_case = args.patients == 12 and args.mean == 15 and args.cv == 0.5
    compare(
        Session(args.patients, length, consultation), args.evaluation_replications, reference_case
    )
    compare(
        Session(args.patients, length, consultation, no_show=args.no_show),
        args.evaluation_replications,
        False,
    )
    # the optimum follows the weights: with a doctor's minute worth 6 patient minutes it moves
    # towards Bailey-Welch's front-loading
    doctor_heavy = CostWeights(wait=1.0, idle=6.0, overtime=9.0)
    compare(
        Session(args.patients, length, consultation, weights=doctor_heavy),
        args.evaluation_replications,
        False,
    )
    print()
    for patients in (12, 16, 20):
        for no_show in (0.0, args.no_show):
            time_search(patients, consultation, no_show)


if __name__ == "__main__":
    main()
