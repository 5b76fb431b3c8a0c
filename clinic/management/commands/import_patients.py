"""``manage.py import_patients FILE.csv [--dry-run] [--as USERNAME]``: import patients now.

The same import as the web page (``clinic.imports``), run in this process rather than on a worker.
The command line is trusted, so there is no role check; ``--as`` only names who the audit rows are
recorded for (otherwise they carry no user, and the username of this command).
"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from clinic.audit import Actor
from clinic.imports import CREATED, MERGED, REJECTED, patient_csv_import

AUDIT_USERNAME = "manage.py import_patients"


class Command(BaseCommand):
    help = (
        "Import patients from a CSV file (columns: name, sex, birth_date, phone, id_number, "
        "address, emergency_contact_name, emergency_contact_phone). Rows are validated and "
        "de-duplicated; if any row is rejected, nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, UTF-8, with a header row")
        parser.add_argument(
            "--dry-run", action="store_true", help="check and report only; change nothing"
        )
        parser.add_argument(
            "--as", dest="username", metavar="USERNAME", help="record the import as this user"
        )

    def handle(self, *args, file: str, dry_run: bool, username: str | None, **options):
        try:
            content = Path(file).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text; save it as CSV UTF-8") from exc
        user = None
        if username:
            try:
                user = get_user_model().objects.get(username=username)
            except get_user_model().DoesNotExist as exc:
                raise CommandError(f"no user named {username!r}") from exc

        result = patient_csv_import(
            actor=Actor.system(user), content=content, dry_run=dry_run,
            audit_username=AUDIT_USERNAME,
        )
        report = result.report
        if report.get("error"):
            raise CommandError(f"{file}: {report['error']}")
        for row in report["rows"]:
            self._write_row(row)
        summary = report["summary"]
        self.stdout.write(
            f"created {summary[CREATED]}, merged {summary[MERGED]}, "
            f"rejected {summary[REJECTED]}"
        )
        if not result.succeeded:
            raise CommandError(
                f"{summary[REJECTED]} row(s) rejected; nothing was imported. "
                "Correct the file and run the command again."
            )
        if dry_run:
            self.stdout.write("dry run: nothing was written")
        else:
            self.stdout.write(self.style.SUCCESS("import complete"))

    def _write_row(self, row: dict) -> None:
        patient = row["mrn"] or ("(not written)" if row["outcome"] != REJECTED else "")
        errors = "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in row["errors"].items()
        )
        why = " ".join(part for part in (errors, row["reason"]) if part)
        text = f"row {row['row']}: {row['outcome']} {patient}".rstrip()
        if why:
            text += f" - {why}"
        self.stdout.write(self.style.ERROR(text) if row["outcome"] == REJECTED else text)
