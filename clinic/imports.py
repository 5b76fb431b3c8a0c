"""Importing patients from CSV, with cleaning and de-duplication.

The file has a header row. ``name``, ``sex`` and ``birth_date`` are required columns; ``phone``,
``id_number``, ``address``, ``emergency_contact_name`` and ``emergency_contact_phone`` are
optional. An unknown, repeated or missing required column fails the whole file: a typo in a header
would otherwise drop a column of data without a word. ``sex`` is male/female/unknown (also
男/女/未知 and M/F/U); dates are YYYY-MM-DD or YYYY/MM/DD; a UTF-8 byte-order mark is ignored.

Each row must be a valid patient on its own (``Patient.full_clean``: ID-card checksum, phone
format, birth date not in the future and agreeing with the ID-card number). It is then matched
against the stored patients, which include those created by earlier rows of the same file:

- a row with an ID-card number matches on that number only: relatives (twins) may share a phone
  and a birth date, so these prove nothing when a number is at hand;
- a row without one matches on phone + birth date; two or more such patients make the row
  ambiguous and it is rejected. A row with neither number nor phone is always a new patient.

A matched row is merged into the stored patient:

- identity fields (name, sex, birth date, ID-card number) only fill blanks (a stored sex of
  "unknown" counts as blank). A different non-blank value is a conflict that rejects the row: a
  spreadsheet does not change whom a chart belongs to; a person resolves it;
- contact fields (phone, address, emergency contact) fill blanks, and a different value replaces
  the stored one, since a newer list is likelier to hold the current number. The report and the
  audit row name the fields filled and updated.

All or nothing: the rows are written in one transaction that is rolled back if any row is rejected
or on a dry run, so a dry run reports exactly what a real run would do (MRNs aside: a patient that
is not kept has none). Each patient created or merged gets an ``AuditAction.IMPORT`` audit row in
that transaction.

Authorisation is the caller's: the web page and ``patient_import_submit`` are for administrators,
the worker runs as the submitter, ``manage.py import_patients`` is trusted. So ``patient_create``
and its role check are not used; the MRN comes from the shared ``services.patient_insert``.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .audit import Actor, audit_record
from .models import AuditAction, Patient, PatientImport, Role, Sex
from .phi import blind_index
from .services import PATIENT_FIELDS, patient_insert

COLUMNS = PATIENT_FIELDS
REQUIRED_COLUMNS = ("name", "sex", "birth_date")
IDENTITY_FIELDS = ("name", "sex", "birth_date", "id_number")
CONTACT_FIELDS = ("phone", "address", "emergency_contact_name", "emergency_contact_phone")
# Every row is written in one transaction; a cap keeps a mistaken upload from holding it for long.
MAX_ROWS = 10_000

SEX_ALIASES = {
    "male": Sex.MALE,
    "m": Sex.MALE,
    "男": Sex.MALE,
    "female": Sex.FEMALE,
    "f": Sex.FEMALE,
    "女": Sex.FEMALE,
    "unknown": Sex.UNKNOWN,
    "u": Sex.UNKNOWN,
    "未知": Sex.UNKNOWN,
}
_DATE_RE = re.compile(r"^(\d{4})([-/])(\d{1,2})\2(\d{1,2})$")

CREATED, MERGED, REJECTED = "created", "merged", "rejected"


class ImportFileError(Exception):
    """The file as a whole cannot be imported: empty, not CSV, wrong columns, too long."""


@dataclass(frozen=True)
class ImportResult:
    """The report (as stored on ``PatientImport.report``) and whether the import was kept."""

    report: dict
    succeeded: bool


@dataclass(frozen=True)
class _Record:
    line: int  # the CSV line the record starts on; the header is line 1
    values: dict[str, str]
    surplus: bool  # non-blank values past the last column: a stray comma shifted the row


@dataclass
class _Run:
    """What one import has done so far; lives only while its rows are processed."""

    actor: Actor
    audit_username: str
    import_id: int | None
    rows: list[dict] = field(default_factory=list)
    # pk -> CSV line of the patients this file created, to tell in-file duplicates from stored
    # patients and to withdraw their MRNs from the report when the transaction is rolled back.
    created_at_line: dict[int, int] = field(default_factory=dict)
    patient_of_line: dict[int, int] = field(default_factory=dict)  # line -> pk created or merged

    def summary(self) -> dict[str, int]:
        return {o: sum(r["outcome"] == o for r in self.rows) for o in (CREATED, MERGED, REJECTED)}


def _empty_summary() -> dict[str, int]:
    return {CREATED: 0, MERGED: 0, REJECTED: 0}


def _check_header(header: list[str]) -> None:
    problems = []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c or '""' for c in header if c not in COLUMNS]
    repeated = sorted({c for c in header if c and header.count(c) > 1})
    if missing:
        problems.append(_("Required columns are missing: %(c)s.") % {"c": ", ".join(missing)})
    if unknown:
        problems.append(_("Unknown columns: %(c)s.") % {"c": ", ".join(unknown)})
    if repeated:
        problems.append(_("Columns named twice: %(c)s.") % {"c": ", ".join(repeated)})
    if problems:
        problems.append(_("The columns are: %(c)s.") % {"c": ", ".join(COLUMNS)})
        raise ImportFileError(" ".join(problems))


def _parse_csv(content: str) -> list[_Record]:
    """The data records of ``content``, cells stripped, blank lines skipped."""
    reader = csv.reader(io.StringIO(content.lstrip("\ufeff")))
    records = []
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if not any(header):
            raise ImportFileError(_("The file is empty; its first line must name the columns."))
        _check_header(header)
        line = reader.line_num + 1
        for raw in reader:
            cells = [v.strip() for v in raw]
            if any(cells):
                padded = cells + [""] * (len(header) - len(cells))
                values = dict(zip(header, padded, strict=False))
                surplus = any(cells[len(header) :])
                records.append(_Record(line=line, values=values, surplus=surplus))
            if len(records) > MAX_ROWS:
                raise ImportFileError(
                    _("The file has over %(n)d rows; split it.") % {"n": MAX_ROWS}
                )
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFileError(
            _("Line %(line)d is not valid CSV: %(error)s") % {"line": reader.line_num, "error": exc}
        ) from exc
    if not records:
        raise ImportFileError(_("The file has a header but no rows."))
    return records


def _parse_date(value: str) -> date | None:
    match = _DATE_RE.match(value)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[3]), int(match[4]))
    except ValueError:
        return None


def _candidate(values: dict[str, str]) -> tuple[Patient, dict[str, list[str]]]:
    """An unsaved patient from a row, cleaned and validated, and the errors per field."""
    fields = {name: values.get(name, "") for name in COLUMNS}
    errors: dict[str, list[str]] = {}
    # An unrecognised sex is passed on as written, so the model's choice error names it.
    fields["sex"] = SEX_ALIASES.get(fields["sex"].lower(), fields["sex"])
    birth_date = _parse_date(fields["birth_date"])
    if not fields["birth_date"]:
        errors["birth_date"] = [str(Patient._meta.get_field("birth_date").error_messages["blank"])]
    elif birth_date is None:
        errors["birth_date"] = [_("Enter the date as YYYY-MM-DD, e.g. 1980-05-17.")]
    fields["birth_date"] = birth_date
    patient = Patient(**fields)
    try:
        # Uniqueness is left out: a stored ID-card number is a duplicate to merge, not an error.
        patient.full_clean(
            exclude=["mrn", *errors], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    return patient, errors


def _matches(candidate: Patient) -> list[Patient]:
    """Stored patients the cleaned ``candidate`` may be (its numbers are normalised by clean)."""
    # Locked, so a merge cannot overwrite an edit made at the same moment.
    patients = Patient.objects.select_for_update().order_by("pk")
    if candidate.id_number:
        return list(patients.filter(id_number_index=blind_index("id_number", candidate.id_number)))
    if candidate.phone:
        return list(
            patients.filter(
                phone_index=blind_index("phone", candidate.phone), birth_date=candidate.birth_date
            )[:2]
        )
    return []


def _blank(name: str, value) -> bool:
    return value in ("", None) or (name == "sex" and value == Sex.UNKNOWN)


def _shown(patient: Patient, name: str) -> str:
    return patient.get_sex_display() if name == "sex" else str(getattr(patient, name))


def _labels(names: list[str]) -> str:
    return ", ".join(str(Patient._meta.get_field(n).verbose_name) for n in names)


def _merge(run: _Run, row: dict, candidate: Patient, existing: Patient) -> None:
    """Merge ``candidate`` into ``existing`` by the rules in the module docstring."""
    first_line = run.created_at_line.get(existing.pk)
    if first_line is not None:
        whom = _("row %(row)d of this file") % {"row": first_line}
    else:
        whom = existing.mrn
    changes, filled, updated = {}, [], []
    for name in IDENTITY_FIELDS + CONTACT_FIELDS:
        new, old = getattr(candidate, name), getattr(existing, name)
        if _blank(name, new) or new == old:
            continue
        if _blank(name, old) or name in CONTACT_FIELDS:
            changes[name] = new
            (filled if _blank(name, old) else updated).append(name)
        else:
            row["errors"][name] = [
                _("Stored as “%(value)s” in %(whom)s.")
                % {"value": _shown(existing, name), "whom": whom}
            ]
    if row["errors"]:
        row["reason"] = _("Conflicts with %(whom)s; correct the file or the stored record.") % {
            "whom": whom
        }
        return
    if changes:
        for name, value in changes.items():
            setattr(existing, name, value)
        # Only the changed fields: an old record's other flaws are not this file's to fix.
        unchanged = [f.name for f in Patient._meta.fields if f.name not in changes]
        try:
            existing.full_clean(exclude=unchanged)
        except ValidationError as exc:
            row["errors"] = exc.message_dict
            row["reason"] = _("Merging into %(whom)s would make it invalid.") % {"whom": whom}
            return
        existing.save(update_fields=[*changes, "updated_at"])
    basis = _("same ID-card number") if candidate.id_number else _("same phone and birth date")
    reasons = [_("Same patient as %(whom)s (%(basis)s).") % {"whom": whom, "basis": basis}]
    if filled:
        reasons.append(_("Filled in: %(fields)s.") % {"fields": _labels(filled)})
    if updated:
        reasons.append(_("Updated: %(fields)s.") % {"fields": _labels(updated)})
    row.update(outcome=MERGED, mrn=existing.mrn, reason=" ".join(reasons))
    _audit(run, row, existing, filled=filled, updated=updated)


def _audit(run: _Run, row: dict, patient: Patient, **details) -> None:
    audit_record(
        actor=run.actor,
        action=AuditAction.IMPORT,
        obj=patient,
        username=run.audit_username,
        details={"import": run.import_id, "row": row["row"], "outcome": row["outcome"], **details},
    )
    run.patient_of_line[row["row"]] = patient.pk


def _import_record(run: _Run, record: _Record) -> dict:
    row = {"row": record.line, "outcome": REJECTED, "mrn": None, "errors": {}, "reason": ""}
    if record.surplus:
        row["reason"] = _("This row has more values than the header has columns.")
        return row
    candidate, row["errors"] = _candidate(record.values)
    if row["errors"]:
        row["reason"] = _("Some values are not valid.")
        return row
    matches = _matches(candidate)
    if len(matches) > 1:
        row["reason"] = _(
            "Several patients have this phone and birth date; add the ID-card number."
        )
    elif matches:
        _merge(run, row, candidate, matches[0])
    else:
        patient = patient_insert(candidate)
        run.created_at_line[patient.pk] = record.line
        row.update(outcome=CREATED, mrn=patient.mrn)
        _audit(run, row, patient)
    return row


def patient_csv_import(
    *,
    actor: Actor,
    content: str,
    dry_run: bool = False,
    audit_username: str = "",
    import_id: int | None = None,
) -> ImportResult:
    """Import the patients in ``content`` (CSV text) as ``actor``; all rows or none.

    No permission check: see the module docstring. ``audit_username`` names the actor on the
    audit rows when it has no user (the command line). Returns the per-row report; nothing is
    written unless ``succeeded`` and not ``dry_run``.
    """
    try:
        records = _parse_csv(content)
    except ImportFileError as exc:
        return ImportResult({"summary": _empty_summary(), "rows": [], "error": str(exc)}, False)
    run = _Run(actor=actor, audit_username=audit_username, import_id=import_id)
    try:
        with transaction.atomic():
            for record in records:
                run.rows.append(_import_record(run, record))
            summary = run.summary()
            keep = not dry_run and summary[REJECTED] == 0
            if not keep:
                transaction.set_rollback(True)
    except IntegrityError:
        # Someone registered a patient with an ID-card number from this file meanwhile.
        error = _("Patients were changed while the file was imported; import it again.")
        return ImportResult({"summary": _empty_summary(), "rows": [], "error": error}, False)
    if not keep:
        for row in run.rows:
            if run.patient_of_line.get(row["row"]) in run.created_at_line:
                row["mrn"] = None
    return ImportResult({"summary": summary, "rows": run.rows}, summary[REJECTED] == 0)


@transaction.atomic
def patient_import_submit(
    *, actor: Actor, filename: str, content: str, dry_run: bool
) -> PatientImport:
    """Store an uploaded CSV and queue it for the worker once committed. Administrators only."""
    if not (getattr(actor.user, "is_authenticated", False) and actor.user.has_role(Role.ADMIN)):
        raise PermissionDenied
    job = PatientImport.objects.create(
        created_by=actor.user, filename=filename[:200], content=content, dry_run=dry_run
    )
    # The report is written in the worker; it should read in the submitter's language.
    language = translation.get_language() or settings.LANGUAGE_CODE
    transaction.on_commit(lambda: _enqueue(job.pk, language))
    return job


def _enqueue(import_id: int, language: str) -> None:
    from .tasks import patient_import_run as task  # tasks imports this module

    task.delay(import_id=import_id, language=language)


def patient_import_run(*, import_id: int, redelivered: bool = False) -> None:
    """Run a queued import as the user who submitted it; safe to call more than once.

    A conditional update claims the row (queued → running): a second delivery of the task finds
    nothing to claim and does nothing, and a finished import never runs again. A message
    redelivered after its worker died may take over a "running" row, since the dead worker's
    transaction was rolled back. The patients, their audit rows and the final status are written in
    one transaction that locks the import row, so two runs never both write.
    """
    claimed = PatientImport.objects.filter(pk=import_id, status=PatientImport.Status.QUEUED).update(
        status=PatientImport.Status.RUNNING
    )
    if not claimed and not redelivered:
        return
    try:
        _run_claimed(import_id)
    except Exception:
        # Also the task's soft time limit: do not leave the page saying "running" forever.
        PatientImport.objects.filter(pk=import_id, status=PatientImport.Status.RUNNING).update(
            status=PatientImport.Status.FAILED,
            finished_at=timezone.now(),
            report={
                "summary": _empty_summary(),
                "rows": [],
                "error": _("The import stopped on an internal error; nothing was imported."),
            },
        )
        raise


@transaction.atomic
def _run_claimed(import_id: int) -> None:
    job = (
        PatientImport.objects.select_for_update()
        .filter(pk=import_id, status=PatientImport.Status.RUNNING)
        .first()
    )
    if job is None:  # finished by another delivery while this one waited for the lock
        return
    user = job.created_by
    if user.has_role(Role.ADMIN):
        result = patient_csv_import(
            actor=Actor.system(user), content=job.content, dry_run=job.dry_run, import_id=job.pk
        )
    else:  # demoted or deactivated since submitting: nothing is written in their name
        error = _("%(user)s is no longer an active administrator.") % {"user": user.username}
        result = ImportResult({"summary": _empty_summary(), "rows": [], "error": error}, False)
    job.status = PatientImport.Status.SUCCEEDED if result.succeeded else PatientImport.Status.FAILED
    job.report = result.report
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "report", "finished_at"])
