"""``manage.py roster_benchmark FILE [--time-limit S] [--solution OUT.csv] [--workers N]``.

Solves a Shift Scheduling Benchmark instance (Curtois & Qu text format) with the app's own
rostering optimiser and prints one JSON object ``{"objective", "status", "seconds",
"best_bound"}`` (``objective`` and ``best_bound`` are null when no roster exists; the
reasons then go to stderr). With ``--solution`` the roster is written as CSV: a header line
``employee,day,shift`` then one row per shift worked (days off have no row).
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Solve a Shift Scheduling Benchmark instance and print the result as JSON."

    def add_arguments(self, parser):
        parser.add_argument("file", help="instance in the Curtois & Qu text format")
        parser.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
        parser.add_argument("--solution", help="write the roster here as employee,day,shift CSV")
        parser.add_argument("--workers", type=int, default=2, help="search threads (default 2)")

    def handle(self, *args, **options):
        # OR-Tools is heavy: import it only when the command runs, not at Django start-up.
        from appointments.rostering.instance import parse_benchmark
        from appointments.rostering.roster_csv import roster_to_csv
        from appointments.rostering.solver import solve

        if options["time_limit"] <= 0 or options["workers"] < 1:
            raise CommandError("--time-limit must be positive and --workers at least 1")
        try:
            text = Path(options["file"]).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        try:
            instance = parse_benchmark(text)
        except ValueError as exc:
            raise CommandError(f"{options['file']}: {exc}") from exc
        result = solve(instance, time_limit_s=options["time_limit"], workers=options["workers"])
        if options["solution"]:
            Path(options["solution"]).write_text(roster_to_csv(result.assignment), encoding="utf-8")
        summary = {
            "objective": result.objective,
            "status": result.status,
            "seconds": round(result.seconds, 3),
            "best_bound": result.best_bound,
        }
        # The JSON keys are a contract (DESIGN.md); reasons for infeasibility go to stderr.
        for reason in result.explanation:
            self.stderr.write(f"conflicting rule: {reason}")
        self.stdout.write(json.dumps(summary))
