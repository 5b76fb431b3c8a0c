"""``manage.py seed_demo``: the demo hospital, with its logins printed at the end.

Safe to run again: every step creates only what is missing (see clinic/demo/).
"""

import unicodedata

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import translation
from django.utils.module_loading import import_string

from clinic.demo import DEMO_PASSWORD, demo_logins

# Run in this order, later ones building on earlier ones. Each step takes no arguments and
# returns how many rows of each kind it created; an app adds its own from its demo.py.
SEED_STEPS: tuple[str, ...] = (
    "clinic.demo.seed_departments",
    "clinic.demo.seed_staff",
    "clinic.demo.seed_patients",
    "appointments.demo.seed_booking",
    "appointments.demo.seed_rosters",
    "imaging.demo.seed_imaging",
)


class Command(BaseCommand):
    help = "Create the demo hospital (departments, staff, patients, ...) and print its logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--logins-only",
            action="store_true",
            help="Create nothing; print the demo logins (used by `make run` after start-up).",
        )

    def handle(self, *args, **options):
        if options["logins_only"]:
            with translation.override(settings.LANGUAGE_CODE):
                self._print_logins(demo_logins())
            return
        report = []
        # One language for stored display texts (observation names), whatever the shell's.
        with translation.override(settings.LANGUAGE_CODE), transaction.atomic():
            for path in SEED_STEPS:
                report.append((path, import_string(path)()))
            logins = demo_logins()
        if options["verbosity"] >= 1:
            for path, created in report:
                counts = ", ".join(f"{name} +{n}" for name, n in created.items())
                self.stdout.write(f"{path}: {counts}")
            if not any(n for _path, created in report for n in created.values()):
                self.stdout.write("Nothing new: the demo data was already there.")
        self._print_logins(logins)

    def _print_logins(self, logins) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD})"))
        rows = [("Role", "Username", "Password", "Name", "Department")]
        rows += [(x.role, x.username, x.password, x.name, x.department) for x in logins]
        for line in _table(rows):
            self.stdout.write(line)
        if settings.MFA_REQUIRED and settings.MFA_ROLES:
            self.stdout.write(
                f"  Roles {', '.join(settings.MFA_ROLES)}: two-step sign-in; at the first login, "
                "scan the QR code shown with an authenticator app (README, Two-step sign-in)."
            )
        from appointments.demo import demo_booking_url

        url = demo_booking_url()
        if url:
            self.stdout.write("")
            self.stdout.write(f"Patient booking (the campus QR code): {url}")
            self.stdout.write("  Sign-in codes are written to this console (SMS_BACKEND).")


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """``rows`` as aligned columns."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        padded = [cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True)]
        lines.append("  ".join(padded).rstrip())
    return lines


def _width(text: str) -> int:
    """Terminal columns ``text`` takes: Chinese characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
