"""Ingest: the one way DICOM instances enter the store, behind STOW-RS, C-STORE and the upload
page. Each instance is validated, written atomically, indexed and matched to a patient; a
session writes one audit row per study it touched."""

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Patient

from . import stability
from .dicom import InvalidDicom, ParsedInstance, ensure_part10, parse_instance
from .models import Instance, Series, Study
from .storage import dicom_storage

STORED, DUPLICATE, CONFLICT, FAILED = "stored", "duplicate", "conflict", "failed"
# Instances indexed in one transaction by ``IngestSession.ingest_many``: one commit (one WAL
# flush) for the lot instead of one per instance, while the study and series rows it updates
# stay locked for no longer than this many instances take.
BATCH_SIZE = 50


@dataclass
class IngestResult:
    status: str  # stored | duplicate | conflict | failed
    sop_uid: str = ""
    sop_class_uid: str = ""
    study_uid: str = ""
    code: str = ""  # why it failed: not_dicom, truncated, missing_uid, sop_instance_conflict, ...
    message: str = ""
    instance_id: int | None = None
    file: str = ""  # where a newly stored instance's file is (a batch rolled back removes it)

    @property
    def ok(self) -> bool:
        return self.status in (STORED, DUPLICATE)


@dataclass
class IngestSession:
    """Ingest many instances for one actor; ``close()`` audits once per study touched."""

    actor: Actor
    source: str  # "stow", "c-store:<calling AE>", "upload"
    studies: dict = field(default_factory=dict)  # study pk -> (patient id, count)
    # Rows this session has seen, by UID: the instances of one study arrive together, so each
    # one after the first skips the study and series lookups.
    known: "_Known" = field(default_factory=lambda: _Known())

    def __enter__(self) -> "IngestSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ingest(
        self,
        data: bytes,
        *,
        transfer_syntax_uid: str | None = None,
        study_uid: str | None = None,
    ) -> IngestResult:
        """Store one instance. With ``study_uid`` (STOW-RS to /studies/{uid}), an instance of
        another study is refused and not stored."""
        try:
            data = ensure_part10(data, transfer_syntax_uid=transfer_syntax_uid)
        except InvalidDicom as exc:
            return IngestResult(FAILED, code=exc.code, message=exc.message)
        storage = dicom_storage()
        incoming = _incoming_dir(storage)
        fd, tmp_path = tempfile.mkstemp(dir=incoming, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
            try:
                parsed = parse_instance(tmp_path)
            except InvalidDicom as exc:
                return IngestResult(FAILED, code=exc.code, message=exc.message)
            if study_uid and parsed.study_uid != study_uid:
                return IngestResult(
                    FAILED,
                    sop_uid=parsed.sop_uid,
                    sop_class_uid=parsed.sop_class_uid,
                    study_uid=parsed.study_uid,
                    code="study_mismatch",
                    message=f"The instance belongs to study {parsed.study_uid}, not {study_uid}.",
                )
            sha256 = hashlib.sha256(data).hexdigest()
            result = IngestResult(
                STORED,
                sop_uid=parsed.sop_uid,
                sop_class_uid=parsed.sop_class_uid,
                study_uid=parsed.study_uid,
            )
            # No "does it exist?" query first: the unique SOP Instance UID decides, below.
            name = _storage_name(parsed, sha256)
            _store(storage, name, tmp_path)
            try:
                try:
                    instance = _index(
                        parsed, name=name, size=len(data), sha256=sha256, known=self.known
                    )
                except _Gone:
                    # The study or series this session remembered was deleted meanwhile (an
                    # association stays open for long): look them up afresh.
                    self.known.forget(parsed)
                    instance = _index(
                        parsed, name=name, size=len(data), sha256=sha256, known=self.known
                    )
                except IntegrityError:
                    self.known.forget(parsed)
                    # Already stored (resent, or stored by a concurrent request meanwhile).
                    existing = Instance.objects.filter(sop_uid=parsed.sop_uid).values(
                        "id", "sha256", "file"
                    )[0]
                    if existing["file"] != name:
                        storage.delete(name)  # different bytes: keep the stored original
                    return _same_or_conflict(result, existing, sha256)
            except BaseException:
                self.known.forget(parsed)
                storage.delete(name)
                raise
        finally:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)
        result.instance_id, result.file = instance.pk, name
        study = instance.series.study
        _, count = self.studies.get(study.pk, (study.patient_id, 0))
        self.studies[study.pk] = (study.patient_id, count + 1)
        return result

    def ingest_many(self, payloads, *, study_uid: str | None = None) -> list[IngestResult]:
        """Store many instances, ``BATCH_SIZE`` to a transaction: each instance is still
        validated, stored and reported on its own (a savepoint each), but the index commits once
        per batch. Results are in the order of ``payloads``."""
        payloads = list(payloads)
        results: list[IngestResult] = []
        for start in range(0, len(payloads), BATCH_SIZE):
            results.extend(self._ingest_batch(payloads[start : start + BATCH_SIZE], study_uid))
        return results

    def _ingest_batch(self, payloads: list[bytes], study_uid: str | None) -> list[IngestResult]:
        studies_before = dict(self.studies)
        results: list[IngestResult] = []
        try:
            with transaction.atomic():
                for data in payloads:
                    results.append(self.ingest(data, study_uid=study_uid))
            return results
        except DatabaseError:
            # The commit failed (say, a deadlock with another batch writing the same studies in
            # the other order): nothing of the batch is indexed; store it one by one instead.
            self._undo(results, studies_before)
            return [self.ingest(data, study_uid=study_uid) for data in payloads]
        except BaseException:
            self._undo(results, studies_before)
            raise

    def _undo(self, results: list[IngestResult], studies_before: dict) -> None:
        """After a batch's transaction rolled back: remove the files it stored and forget
        the rows it made."""
        storage = dicom_storage()
        for result in results:
            if result.status == STORED and result.file:
                storage.delete(result.file)
        self.studies = studies_before
        self.known = _Known()

    def close(self) -> None:
        """One audit row per study: who stored how many instances, from where."""
        if not self.studies:
            return
        with transaction.atomic():
            for study in Study.objects.filter(pk__in=self.studies).select_related("patient"):
                _, count = self.studies[study.pk]
                audit_record(
                    actor=self.actor,
                    action=AuditAction.CREATE,
                    obj=study,
                    patient=study.patient,
                    details={"source": self.source, "instances": count},
                    username=self.source,
                )
        self.studies = {}


class _Gone(Exception):
    """A study or series row remembered by the session no longer exists."""


@dataclass
class _Known:
    studies: dict = field(default_factory=dict)  # study UID -> Study
    series: dict = field(default_factory=dict)  # series UID -> Series
    stability_due: dict = field(default_factory=dict)  # study pk -> when its check is due

    def forget(self, parsed: ParsedInstance) -> None:
        """After a failed index transaction: what it created may have been rolled back."""
        study = self.studies.pop(parsed.study_uid, None)
        self.series.pop(parsed.series_uid, None)
        if study is not None:
            self.stability_due.pop(study.pk, None)


def _same_or_conflict(result: IngestResult, existing: dict, sha256: str) -> IngestResult:
    result.instance_id = existing["id"]
    if existing["sha256"] == sha256:
        result.status = DUPLICATE
    else:
        result.status, result.code = CONFLICT, "sop_instance_conflict"
        result.message = "An instance with this SOP Instance UID and different content is stored."
    return result


def _incoming_dir(storage) -> str:
    """Where an arriving file waits while it is parsed: beside the store for a plain local
    store (so the rename into place is atomic); in memory (/dev/shm) for an encrypting store,
    so plaintext never reaches its disk."""
    encrypts = getattr(storage, "encrypts", False)
    if encrypts and os.path.isdir("/dev/shm"):
        path = os.path.join("/dev/shm", "aimass-incoming")
    elif isinstance(storage, FileSystemStorage) and not encrypts:
        path = storage.path(".incoming")
    else:
        path = os.path.join(tempfile.gettempdir(), "aimass-incoming")
    os.makedirs(path, exist_ok=True)
    return path


def _storage_name(parsed: ParsedInstance, sha256: str) -> str:
    # Content-addressed: a different file for the same UID never overwrites the stored one.
    return f"{parsed.study_uid}/{parsed.series_uid}/{parsed.sop_uid}.{sha256[:16]}.dcm"


def _store(storage, name: str, tmp_path: str) -> None:
    if isinstance(storage, FileSystemStorage) and not getattr(storage, "encrypts", False):
        final = storage.path(name)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.chmod(tmp_path, 0o640)
        os.replace(tmp_path, final)  # same file system: atomic
    else:
        with open(tmp_path, "rb") as f:
            storage.save(name, File(f))


def _match_patient(patient_id: str) -> Patient | None:
    if not patient_id:
        return None
    return Patient.objects.filter(mrn=patient_id).first()


def _study_create(parsed: ParsedInstance, now) -> Study:
    """A new study, matched to a patient by PatientID (looked up once per study, not per
    instance); a concurrent creator of the same study wins and its row is used."""
    try:
        with transaction.atomic():
            return Study.objects.create(
                study_uid=parsed.study_uid,
                patient=_match_patient(parsed.patient_id),
                dicom_patient_id=parsed.patient_id,
                patient_name=parsed.patient_name,
                patient_birth_date=parsed.patient_birth_date,
                patient_sex=parsed.patient_sex,
                study_date=parsed.study_date,
                study_time=parsed.study_time,
                accession_number=parsed.accession_number,
                study_id=parsed.study_id,
                study_description=parsed.study_description,
                referring_physician_name=parsed.referring_physician_name,
                created_at=now,
            )
    except IntegrityError:
        return Study.objects.get(study_uid=parsed.study_uid)


@transaction.atomic
def _index(
    parsed: ParsedInstance, *, name: str, size: int, sha256: str, known: _Known
) -> Instance:
    now = timezone.now()
    study = known.studies.get(parsed.study_uid)
    if study is None:
        study = Study.objects.filter(study_uid=parsed.study_uid).first()
        if study is None:
            study = _study_create(parsed, now)
    series, series_created = known.series.get(parsed.series_uid), False
    if series is None:
        series, series_created = Series.objects.get_or_create(
            series_uid=parsed.series_uid,
            defaults=dict(
                study=study,
                modality=parsed.modality,
                series_number=parsed.series_number,
                series_description=parsed.series_description,
                body_part_examined=parsed.body_part_examined,
                created_at=now,
            ),
        )
    instance = Instance.objects.create(
        sop_uid=parsed.sop_uid,
        series=series,
        sop_class_uid=parsed.sop_class_uid,
        instance_number=parsed.instance_number,
        number_of_frames=parsed.number_of_frames,
        rows=parsed.rows,
        columns=parsed.columns,
        transfer_syntax_uid=parsed.transfer_syntax_uid,
        file=name,
        size=size,
        sha256=sha256,
        frames=[[list(r) for r in f.fragments] for f in parsed.frames],
        bulkdata={k: list(v) for k, v in parsed.bulkdata.items()},
        metadata=json.dumps(parsed.metadata, separators=(",", ":")),
        created_at=now,
    )
    if not Series.objects.filter(pk=series.pk).update(
        number_of_instances=F("number_of_instances") + 1
    ):
        raise _Gone()  # rolls this instance back; the caller retries without remembered rows
    study_changes = dict(
        number_of_instances=F("number_of_instances") + 1,
        last_received_at=now,
        revision=F("revision") + 1,
    )
    if series_created:
        study_changes["number_of_series"] = F("number_of_series") + 1
        modalities = [m for m in study.modalities.split("\\") if m]
        if parsed.modality and parsed.modality not in modalities:
            # Re-read under lock so two new series of a study do not lose a modality.
            locked = (
                Study.objects.select_for_update().only("modalities").filter(pk=study.pk).first()
            )
            if locked is None:
                raise _Gone()  # the remembered study was deleted meanwhile
            modalities = [m for m in locked.modalities.split("\\") if m]
            if parsed.modality not in modalities:
                study_changes["modalities"] = "\\".join([*modalities, parsed.modality])
    if not Study.objects.filter(pk=study.pk).update(**study_changes):
        raise _Gone()
    if known.stability_due.get(study.pk, now) <= now:
        # This session has not scheduled a check that is still to come: make sure one is.
        # (A scheduled check looks at the latest arrival itself and reschedules.)
        stability.study_changed(study_id=study.pk)
        known.stability_due[study.pk] = now + timedelta(seconds=settings.STABLE_SECONDS / 2)
    instance.series = series
    series.study = study
    known.studies[parsed.study_uid] = study
    known.series[parsed.series_uid] = series
    return instance
