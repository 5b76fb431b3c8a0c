"""How close does the rostering optimiser get to the best known Shift Scheduling Benchmark
results? Solves Instances 1-10 (Curtois & Qu) one at a time, checks every roster with the
independent verifier, and prints objective, best known, gap and seconds per instance.

    .venv/bin/python bench/rostering.py [--data-dir DIR] [--time-limit 60] [--workers 2] [1 5 8]

The data directory defaults to $ROSTERING_DATA or ../shared/data/rostering next to the repo.
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appointments.rostering.instance import parse_benchmark  # noqa: E402
from appointments.rostering.solver import solve  # noqa: E402
from appointments.rostering.verify import evaluate  # noqa: E402

BEST_KNOWN = {
    1: 607,
    2: 828,
    3: 1001,
    4: 1716,
    5: 1143,
    6: 1950,
    7: 1056,
    8: 1300,
    9: 439,
    10: 4631,
}
GOAL_GAP_PERCENT = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_dir = os.environ.get("ROSTERING_DATA", str(ROOT.parent / "shared/data/rostering"))
    parser.add_argument("instances", nargs="*", type=int, default=sorted(BEST_KNOWN))
    parser.add_argument("--data-dir", default=default_dir)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()

    rows = []
    print(f"{'instance':<11}{'objective':>10}{'best':>7}{'gap %':>8}{'seconds':>9}  status    goal")
    for number in args.instances:
        text = (Path(args.data_dir) / f"Instance{number}.txt").read_text()
        instance = parse_benchmark(text)
        result = solve(instance, time_limit_s=args.time_limit, workers=args.workers, seed=args.seed)
        check = evaluate(instance, result.assignment)
        if check.violations or check.objective != result.objective:
            print(f"Instance{number}: verifier disagrees: {check.objective} {check.violations[:3]}")
            return 1
        best = BEST_KNOWN[number]
        gap = 100.0 * (result.objective - best) / best
        met = gap <= GOAL_GAP_PERCENT
        rows.append(
            {
                "instance": number,
                "objective": result.objective,
                "best_known": best,
                "gap_percent": round(gap, 2),
                "seconds": round(result.seconds, 1),
                "best_bound": result.best_bound,
                "status": result.status,
                "goal_met": met,
            }
        )
        print(
            f"Instance{number:<3}{result.objective:>10}{best:>7}{gap:>8.2f}{result.seconds:>9.1f}"
            f"  {result.status:<9} {'yes' if met else 'NO'}",
            flush=True,
        )
    print(
        f"goal (<= {GOAL_GAP_PERCENT}% gap) met on {sum(r['goal_met'] for r in rows)}/{len(rows)}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
