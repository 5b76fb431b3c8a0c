"""The report of a signed study: the findings table frozen at sign-off, and its SR stored into the
study through the same ingest path as any other instance."""

import io
import json

import pydicom

from clinic.audit import Actor

from ..dicom.report_sr import ReportFinding, SignedReport, signed_report_build
from ..models import FindingStatus, Instance, Study, StudyReport
from ..storage import dicom_storage
from .errors import ReviewError

REPORT_ORGANIZATION = "AI Mass"


def _pixel_spacing(instance: Instance | None) -> tuple[float, float] | None:
    if instance is None:
        return None
    try:
        value = json.loads(instance.metadata).get("00280030", {}).get("Value")
        return float(value[0]), float(value[1])  # row spacing, column spacing
    except (ValueError, TypeError, IndexError, AttributeError):
        return None


def _box_size_mm(geometry: list[dict], spacing) -> list[float] | None:
    """Width and height in mm of the largest box of a reader's geometry."""
    if not geometry or spacing is None:
        return None
    widths = [(g["bbox"][2] - g["bbox"][0] + 1) * spacing[1] for g in geometry]
    heights = [(g["bbox"][3] - g["bbox"][1] + 1) * spacing[0] for g in geometry]
    return [round(max(widths), 1), round(max(heights), 1)]


def findings_table(study: Study) -> list[dict]:
    """One row per finding with its final verdict, measurements and where it is."""
    rows = []
    from .selectors import review_findings

    findings = review_findings(study).exclude(kind="heatmap")
    for finding in findings:
        review = next((r for r in finding.reviews.all() if r.current), None)
        geometry = review.geometry if review and review.geometry else finding.instances
        first = geometry[0] if geometry else {}
        instance = (
            Instance.objects.filter(sop_uid=first["sop_instance_uid"]).first() if first else None
        )
        corrected = finding.status in (FindingStatus.EDITED, FindingStatus.ADDED)
        rows.append(
            {
                "finding": finding.pk,
                "label": finding.label,
                "verdict": finding.status,
                "reason": review.get_reason_display() if review and review.reason else "",
                "comment": review.comment if review else "",
                "found_by": (
                    f"{finding.model_version.model.name} {finding.model_version.version}"
                    if finding.model_version
                    else "reader"
                ),
                "urgent": finding.urgent,
                "score": finding.score,
                "diameter_mm": None if corrected else finding.diameter_mm,
                "volume_mm3": None if corrected else finding.volume_mm3,
                "size_mm": _box_size_mm(geometry, _pixel_spacing(instance)) if corrected else None,
                "images": len(geometry),
                "instance_number": instance.instance_number if instance else None,
                "sop_instance_uid": first.get("sop_instance_uid", ""),
                "sop_class_uid": instance.sop_class_uid if instance else "",
            }
        )
    return rows


def _header(instance: Instance) -> pydicom.Dataset:
    with dicom_storage().open(instance.file, "rb") as stored:
        return pydicom.dcmread(stored, stop_before_pixels=True)


def report_sr_store(*, report: StudyReport, actor: Actor) -> pydicom.Dataset:
    """Build the verified SR of ``report`` and store it into its study."""
    from ..services import IngestSession

    study = report.study
    kept = [row for row in report.findings_table if row["verdict"] != FindingStatus.REJECTED]
    uids = [row["sop_instance_uid"] for row in kept if row["sop_instance_uid"]]
    evidence_instances = list(Instance.objects.filter(sop_uid__in=uids))
    if not evidence_instances:
        first = (
            Instance.objects.filter(series__study=study)
            .exclude(series__modality__in=["SR", "SEG", "KO", "PR"])
            .order_by("series__series_number", "instance_number")
            .first()
        )
        evidence_instances = [first] if first else []
    if not evidence_instances:
        raise ReviewError("no_images", "The study has no images to report on.")
    headers = {i.sop_uid: _header(i) for i in evidence_instances}
    sr = signed_report_build(
        report=SignedReport(
            impression=report.impression,
            reader_name=report.signed_by.display_name,
            organization=REPORT_ORGANIZATION,
            version=report.version,
            findings=[
                ReportFinding(
                    label=row["label"],
                    verdict=row["verdict"],
                    found_by=row["found_by"],
                    sop_instance_uid=row["sop_instance_uid"],
                    sop_class_uid=row["sop_class_uid"],
                    diameter_mm=row["diameter_mm"],
                    volume_mm3=row["volume_mm3"],
                    comment=row["comment"],
                )
                for row in kept
                if row["sop_instance_uid"] in headers
            ],
        ),
        evidence=list(headers.values()),
    )
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, sr, enforce_file_format=True)
    with IngestSession(actor=actor, source="report") as ingest:
        stored = ingest.ingest(buffer.getvalue())
    if not stored.ok:
        raise ReviewError("report_not_stored", f"{stored.code}: {stored.message}")
    return sr
