"""A study exported as a zip of DICOM files: as stored (identifiable, for care), or de-identified
(PS3.15 Annex E basic profile, imaging.dicom.deidentify) for teaching, research or a second
opinion outside the hospital. Either way the export is audited with what left."""

import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from typing import BinaryIO
from zipfile import ZIP_DEFLATED, ZIP_STORED, ZipFile

import pydicom

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction

from .dicom.deidentify import BurnedInAnnotation, Deidentifier, dataset_bytes
from .models import Instance, Study
from .storage import dicom_storage


@dataclass
class StudyExportSummary:
    deidentified: bool
    instances: int = 0
    series: int = 0
    left_out_burned_in: int = 0
    left_out_sop_classes: list[str] = field(default_factory=list)
    pseudonym: str = ""
    sha256: str = ""


def _instances(study: Study):
    return (
        Instance.objects.filter(series__study=study)
        .select_related("series")
        .order_by("series__series_number", "series_id", "instance_number", "id")
    )


def study_export(
    *,
    study: Study,
    actor: Actor,
    out: BinaryIO,
    deidentify: bool,
    pseudonym: str = "",
    retain_dates: bool = True,
    retain_device_identity: bool = False,
) -> StudyExportSummary:
    """Write ``study`` to ``out`` as a zip (``SERIES/INSTANCE.dcm`` plus ``manifest.json``) and
    audit it. De-identified, every UID is remapped consistently within the export (so a SEG
    still points at its images), dates move by one offset per patient when ``retain_dates``,
    and an image that may show burned-in identifying text is left out and counted."""
    summary = StudyExportSummary(deidentified=deidentify)
    deidentifier = (
        Deidentifier(
            retain_longitudinal_modified_dates=retain_dates,
            retain_device_identity=retain_device_identity,
        )
        if deidentify
        else None
    )
    if deidentify:
        summary.pseudonym = pseudonym.strip()[:64] or (
            "ANON-" + hashlib.sha256(f"{study.pk}:{id(deidentifier)}".encode()).hexdigest()[:8]
        )
    patient_key = f"patient:{study.patient_id or study.dicom_patient_id or study.pk}"
    folders: dict[int, str] = {}
    with ZipFile(out, "w", ZIP_DEFLATED if deidentify else ZIP_STORED) as archive:
        for instance in _instances(study):
            with dicom_storage().open(instance.file, "rb") as stored:
                raw = stored.read()
            if deidentifier is not None:
                try:
                    clean = deidentifier.deidentify(
                        pydicom.dcmread(io.BytesIO(raw)),
                        pseudonym=summary.pseudonym,
                        patient_key=patient_key,
                    )
                except BurnedInAnnotation:
                    summary.left_out_burned_in += 1
                    if instance.sop_class_uid not in summary.left_out_sop_classes:
                        summary.left_out_sop_classes.append(instance.sop_class_uid)
                    continue
                raw = dataset_bytes(clean)
            folder = folders.setdefault(instance.series_id, f"series-{len(folders) + 1:03d}")
            summary.instances += 1
            archive.writestr(f"{folder}/{summary.instances:05d}.dcm", raw)
        summary.series = len(folders)
        manifest = {
            "deidentified": deidentify,
            "method": deidentifier.method if deidentifier else None,
            "series": summary.series,
            "instances": summary.instances,
            "left_out_burned_in": summary.left_out_burned_in,
        }
        if not deidentify:
            manifest["study_instance_uid"] = study.study_uid
        archive.writestr("manifest.json", json.dumps(manifest, indent=1))
    out.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: out.read(1 << 20), b""):
        digest.update(chunk)
    out.seek(0)
    summary.sha256 = digest.hexdigest()
    audit_record(
        actor=actor,
        action=AuditAction.EXPORT,
        obj=study,
        patient=study.patient,
        details={"event": "study_export", **asdict(summary)},
    )
    return summary
