"""The labelled dataset of one model version, for retraining: a zip of de-identified images, one
labelmap per series and the examples, built from the current reviews charged to the version.

Layout of the zip::

    examples.json                   every example: verdict, reason, label, geometry (original
                                    and corrected, with the de-identified UIDs), its series
    series-001/images/0001.dcm ...  the series' instances, de-identified (PS3.15 Annex E)
    series-001/mask.nii.gz          uint8 labelmap aligned with the image volume: 1 where the
                                    reader's final geometry says lesion

What is painted: accepted — the model's SEG segment (or its boxes when it has no SEG); edited
and added — the reader's mask when drawn, else the box filled; rejected — nothing (the example
is listed, its pixels stay 0). Instances that may show burned-in text are left out and counted.

One audit row per export (action export, on the model version, no patient): what leaves is
de-identified, and the row's counts and checksum say exactly what was handed out.
"""

import gzip
import hashlib
import json
from dataclasses import asdict, dataclass, field
from itertools import groupby
from typing import BinaryIO
from zipfile import ZIP_DEFLATED, ZipFile

import numpy as np
import pydicom
from django.utils import timezone

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction

from ..ai.volume import SliceRef, Volume
from ..dicom.deidentify import BurnedInAnnotation, Deidentifier, dataset_bytes
from ..models import FindingReview, ModelVersion, Series, Verdict
from ..storage import dicom_storage
from .feedback import current_reviews
from .geometry import rle_decode
from .masks import finding_mask_frames

SPACING_TOLERANCE = 0.05
PAINTED = (Verdict.ACCEPTED, Verdict.EDITED, Verdict.ADDED)


@dataclass
class DatasetSummary:
    model: str
    version: str
    series: int = 0
    images: int = 0
    masks: int = 0
    patients: int = 0
    examples: int = 0
    excluded_burned_in: int = 0
    examples_without_series: int = 0
    verdicts: dict = field(default_factory=dict)
    sha256: str = ""


class MaskUnavailable(Exception):
    """The series' images do not form one regular volume, so no labelmap can be aligned."""


def review_dataset_export(
    *, version: ModelVersion, actor: Actor, out: BinaryIO, username: str = ""
) -> DatasetSummary:
    """Write ``version``'s labelled dataset as a zip to ``out`` and audit the export once.
    ``username`` names a command-line actor that has no user."""
    reviews = list(
        current_reviews(version)
        .select_related("finding__series__study", "finding__job", "model_version__model")
        .order_by("finding__series_id", "finding_id")
    )
    summary = DatasetSummary(model=version.model.name, version=version.version)
    deidentifier = Deidentifier(
        retain_longitudinal_modified_dates=True, retain_device_identity=True
    )
    pseudonyms: dict[str, str] = {}
    examples, series_entries = [], []
    with ZipFile(out, "w", ZIP_DEFLATED) as archive:
        for series_id, group in groupby(reviews, key=lambda r: r.finding.series_id):
            group = list(group)
            if series_id is None:
                summary.examples_without_series += len(group)
                continue
            series = group[0].finding.series
            key = _patient_key(series)
            pseudonym = pseudonyms.setdefault(key, f"ANON-{len(pseudonyms) + 1:04d}")
            folder = f"series-{len(series_entries) + 1:03d}"
            entry = _series_write(
                archive,
                series=series,
                reviews=group,
                deidentifier=deidentifier,
                pseudonym=pseudonym,
                patient_key=key,
                folder=folder,
                summary=summary,
            )
            series_entries.append(entry)
            examples += [_example(r, folder, deidentifier) for r in group]
        summary.series = len(series_entries)
        summary.patients = len(pseudonyms)
        summary.examples = len(examples)
        summary.verdicts = {
            verdict.value: sum(1 for e in examples if e["verdict"] == verdict.value)
            for verdict in Verdict
        }
        archive.writestr(
            "examples.json",
            json.dumps(
                _manifest(version, deidentifier, summary, series_entries, examples),
                ensure_ascii=False,
                indent=1,
            ),
        )
    summary.sha256 = _sha256(out)
    audit_record(
        actor=actor,
        action=AuditAction.EXPORT,
        obj=version,
        username=username,
        details={"event": "review_dataset_export", **asdict(summary)},
    )
    return summary


def _patient_key(series: Series) -> str:
    study = series.study
    if study.patient_id:
        return f"patient:{study.patient_id}"
    if study.dicom_patient_id:
        return f"dicom:{study.dicom_patient_id}"
    return f"study:{study.pk}"


def _series_write(
    archive: ZipFile,
    *,
    series: Series,
    reviews: list[FindingReview],
    deidentifier: Deidentifier,
    pseudonym: str,
    patient_key: str,
    folder: str,
    summary: DatasetSummary,
) -> dict:
    storage = dicom_storage()
    headers, excluded, written = [], 0, 0
    for instance in series.instances.order_by("instance_number", "id").only("file"):
        with storage.open(instance.file, "rb") as stored:
            ds = pydicom.dcmread(stored)
        try:
            clean = deidentifier.deidentify(ds, pseudonym=pseudonym, patient_key=patient_key)
        except BurnedInAnnotation:
            excluded += 1
            continue
        written += 1
        archive.writestr(f"{folder}/images/{written:04d}.dcm", dataset_bytes(clean))
        if "PixelData" in ds:
            del ds.PixelData  # only the geometry is needed from here on
            headers.append(ds)
    summary.images += written
    summary.excluded_burned_in += excluded
    entry = {
        "folder": folder,
        "patient": pseudonym,
        "modality": series.modality,
        "study_instance_uid": deidentifier.uid(series.study.study_uid),
        "series_instance_uid": deidentifier.uid(series.series_uid),
        "images": written,
        "excluded_burned_in": excluded,
        "mask": None,
    }
    try:
        volume = _volume_grid(headers)
    except MaskUnavailable as exc:
        entry["mask_unavailable"] = str(exc)
        return entry
    labelmap = _labelmap(volume, reviews)
    image = _nifti(labelmap, volume)
    archive.writestr(f"{folder}/mask.nii.gz", image)
    entry["mask"] = f"{folder}/mask.nii.gz"
    entry["mask_shape_xyz"] = [int(n) for n in labelmap.shape[::-1]]
    entry["lesion_voxels"] = int(labelmap.sum())
    summary.masks += 1
    return entry


def _volume_grid(headers: list[pydicom.Dataset]) -> Volume:
    """The volume the images form, geometry only (no pixels are loaded), slices sorted along the
    normal as imaging.ai.volume sorts them, so the mask's affine is the runner's."""
    if not headers:
        raise MaskUnavailable("no images")
    first = headers[0]
    try:
        orientation = np.array([float(v) for v in first.ImageOrientationPatient])
        row_cosine, column_cosine = orientation[:3], orientation[3:]
        normal = np.cross(row_cosine, column_cosine)
        spacing = [float(v) for v in first.PixelSpacing]
        rows, columns = int(first.Rows), int(first.Columns)
        placed = []
        for ds in headers:
            if int(getattr(ds, "NumberOfFrames", 1) or 1) != 1:
                raise MaskUnavailable("multi-frame images")
            if (int(ds.Rows), int(ds.Columns)) != (rows, columns):
                raise MaskUnavailable("images of different sizes")
            position = np.array([float(v) for v in ds.ImagePositionPatient])
            placed.append((float(position @ normal), position, str(ds.SOPInstanceUID)))
    except (AttributeError, TypeError, ValueError) as exc:
        raise MaskUnavailable("images without patient geometry") from exc
    placed.sort(key=lambda item: item[0])
    distances = np.diff([p[0] for p in placed])
    step = (
        float(np.median(distances))
        if len(placed) > 1
        else float(getattr(first, "SliceThickness", 0) or 1.0)
    )
    if len(placed) > 1 and (
        step <= 0 or np.any(np.abs(distances - step) > SPACING_TOLERANCE * step)
    ):
        raise MaskUnavailable("irregular slice spacing")
    return Volume(
        pixels=np.broadcast_to(np.uint8(0), (len(placed), rows, columns)),
        spacing=(step, spacing[0], spacing[1]),
        origin=placed[0][1],
        row_cosine=row_cosine,
        column_cosine=column_cosine,
        normal=normal,
        slices=[SliceRef(uid, 1) for _, _, uid in placed],
    )


def _labelmap(volume: Volume, reviews: list[FindingReview]) -> np.ndarray:
    """[slice, row, column] uint8: 1 where an accepted, edited or added example says lesion."""
    labelmap = np.zeros(volume.shape, dtype=np.uint8)
    slice_of = {(s.sop_instance_uid, s.frame): index for index, s in enumerate(volume.slices)}
    for review in reviews:
        if review.verdict not in PAINTED:
            continue
        for item in finding_mask_frames(review.finding):
            index = slice_of.get((item["sop_instance_uid"], item.get("frame", 1)))
            if index is None:
                continue
            c0, r0, c1, r1 = item["bbox"]
            height, width = r1 - r0 + 1, c1 - c0 + 1
            block = np.ones((height, width), dtype=np.uint8)
            if item.get("mask"):
                bits = np.asarray(rle_decode(item["mask"]), dtype=np.uint8)
                if bits.size == height * width:
                    block = bits.reshape(height, width)
            region = labelmap[index, r0 : r1 + 1, c0 : c1 + 1]
            np.maximum(region, block[: region.shape[0], : region.shape[1]], out=region)
    return labelmap


def _nifti(labelmap: np.ndarray, volume: Volume) -> bytes:
    """NIfTI-1 in (column, row, slice) order with the RAS affine, as MONAI reads the series."""
    import nibabel as nib

    image = nib.Nifti1Image(np.ascontiguousarray(labelmap.transpose(2, 1, 0)), volume.affine_ras())
    image.header.set_xyzt_units("mm")
    image.set_qform(volume.affine_ras(), code=1)
    image.set_sform(volume.affine_ras(), code=1)
    return gzip.compress(image.to_bytes(), mtime=0)


def _geometry(items: list, deidentifier: Deidentifier) -> list:
    return [
        {**item, "sop_instance_uid": deidentifier.uid(item["sop_instance_uid"])}
        for item in items or []
        if isinstance(item, dict) and item.get("sop_instance_uid")
    ]


def _example(review: FindingReview, folder: str, deidentifier: Deidentifier) -> dict:
    """One labelled example. No ids, dates, names or free-text comments: nothing that leads back
    to the patient or the reader."""
    finding = review.finding
    return {
        "series": folder,
        "verdict": review.verdict,
        "reason": review.reason,
        "label": finding.label,
        "kind": finding.kind,
        "source": finding.source,
        "score": finding.score,
        "model": review.model_version.model.name if review.model_version else None,
        "model_version": review.model_version.version if review.model_version else None,
        "painted": review.verdict in PAINTED,
        "original_geometry": _geometry(review.original_geometry, deidentifier),
        "geometry": _geometry(review.geometry, deidentifier),
    }


def _manifest(version, deidentifier, summary, series_entries, examples) -> dict:
    return {
        "model": version.model.name,
        "version": version.version,
        "exported_on": timezone.localdate().isoformat(),
        "deidentification": deidentifier.method,
        "geometry_format": (
            "per frame: sop_instance_uid, frame (from 1), bbox [col_min, row_min, col_max, "
            "row_max] inclusive, optional mask: run lengths outside/inside inside the box, row "
            "by row, starting outside"
        ),
        "mask_format": (
            "NIfTI-1, uint8, axes (column, row, slice), slices sorted along the slice normal, "
            "RAS affine; 1 = lesion by the reader's final verdict"
        ),
        "counts": {
            "series": summary.series,
            "images": summary.images,
            "patients": summary.patients,
            "examples": summary.examples,
            "excluded_burned_in": summary.excluded_burned_in,
            "examples_without_series": summary.examples_without_series,
            "verdicts": summary.verdicts,
        },
        "series": series_entries,
        "examples": examples,
    }


def _sha256(out: BinaryIO) -> str:
    if not (hasattr(out, "seekable") and out.seekable()):
        return ""
    end = out.tell()
    out.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: out.read(1 << 20), b""):
        digest.update(chunk)
    out.seek(end)
    return digest.hexdigest()
