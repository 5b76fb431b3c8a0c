"""``manage.py audit_verify [--chunk-size N]``: check the audit trail's hash chain.

Exits 0 with a one-line summary (the newest seq and hash, worth writing down: a later run
proves the events up to there unchanged) or 1 naming the first bad seq and what is wrong.
"""

from django.core.management.base import BaseCommand, CommandError

from clinic.audit import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Walk the audit trail's hash chain and report the first altered, inserted, deleted or "
        "reordered event (exit status 1), or a one-line OK summary."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--chunk-size", type=int, default=2000, help="events read per query (default 2000)"
        )

    def handle(self, *args, chunk_size: int, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        report = audit_chain_verify(chunk_size=chunk_size)
        if report.problem is not None:
            problem = report.problem
            raise CommandError(
                f"audit chain broken at seq {problem.seq} ({problem.kind}): {problem.message}; "
                f"{report.count} events before it verified"
            )
        if report.count == 0:
            self.stdout.write("audit chain OK: no events yet")
            return
        self.stdout.write(
            f"audit chain OK: {report.count} events, seq 1..{report.last_seq}, "
            f"head {report.last_hash}"
        )
