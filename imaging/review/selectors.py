"""Reads for the viewer: a study's image series in slice order and its findings as the reader
last left them. Access is decided by the caller (imaging.review.access)."""

import json

from django.db.models import Q, QuerySet
from django.urls import reverse

from ..models import Finding, Instance, Series, Study, StudyReport
from ..selectors import study_findings

NON_IMAGE_MODALITIES = ("SR", "SEG", "KO", "PR", "RTSTRUCT", "DOC")


def _tag(meta: dict, tag: str):
    return (meta.get(tag) or {}).get("Value")


def _slice_key(instance: Instance) -> tuple:
    """Position along the slice normal when the geometry is there, else InstanceNumber."""
    try:
        meta = json.loads(instance.metadata)
        position = [float(v) for v in _tag(meta, "00200032")]
        cosines = [float(v) for v in _tag(meta, "00200037")]
        row, column = cosines[:3], cosines[3:]
        normal = (
            row[1] * column[2] - row[2] * column[1],
            row[2] * column[0] - row[0] * column[2],
            row[0] * column[1] - row[1] * column[0],
        )
        return (0, sum(p * n for p, n in zip(position, normal, strict=True)), instance.pk)
    except (TypeError, ValueError, IndexError):
        return (1, instance.instance_number or 0, instance.pk)


def image_series(study: Study) -> list[dict]:
    """The study's image series, each with its instances in slice order (head to feet for an
    axial CT: descending position along the normal, as radiologists scroll)."""
    out = []
    series_list = study.series.exclude(modality__in=NON_IMAGE_MODALITIES).order_by(
        "series_number", "id"
    )
    for series in series_list:
        instances = list(
            Instance.objects.filter(series=series).only(
                "pk",
                "sop_uid",
                "instance_number",
                "number_of_frames",
                "metadata",
                "rows",
                "columns",
            )
        )
        instances.sort(key=_slice_key, reverse=True)
        out.append(
            {
                "uid": series.series_uid,
                "number": series.series_number,
                "modality": series.modality,
                "description": series.series_description,
                "body_part": series.body_part_examined,
                "thumbnail": reverse(
                    "dicomweb:series-thumbnail",
                    kwargs={"study_uid": study.study_uid, "series_uid": series.series_uid},
                ),
                "instances": [
                    {"sop": i.sop_uid, "frames": i.number_of_frames, "number": i.instance_number}
                    for i in instances
                ],
            }
        )
    return out


def review_findings(study: Study) -> QuerySet[Finding]:
    """The AI findings of each model's latest run and the findings readers added."""
    ai_ids = list(study_findings(study).values_list("pk", flat=True))
    return (
        Finding.objects.filter(Q(pk__in=ai_ids) | Q(study=study, source="reader"))
        .select_related("model_version__model", "series", "reviewed_by", "created_by")
        .prefetch_related("reviews")
        .order_by("-urgent", "-diameter_mm", "id")
    )


def finding_for_viewer(finding: Finding, *, signed_report: StudyReport | None) -> dict:
    review = next((r for r in finding.reviews.all() if r.current), None)
    version = finding.model_version
    geometry = review.geometry if review and review.geometry else finding.instances
    if signed_report is not None and finding.reviewed_by is not None:
        note = "reviewed"
    elif finding.source == "reader":
        note = "reader"
    else:
        note = "pending" if review is None else "reviewed"
    return {
        "id": finding.pk,
        "label": finding.label,
        "kind": finding.kind,
        "source": finding.source,
        "score": finding.score,
        "diameter_mm": finding.diameter_mm,
        "volume_mm3": finding.volume_mm3,
        "urgent": finding.urgent,
        "status": finding.status,
        "status_display": finding.get_status_display(),
        "note": note,
        "reviewed_by": finding.reviewed_by.display_name if finding.reviewed_by else None,
        "reason": review.reason if review else "",
        "comment": review.comment if review else "",
        "model": version.model.name if version else None,
        "version": version.version if version else None,
        "series_uid": finding.series.series_uid if finding.series else None,
        "geometry": [{k: g[k] for k in ("sop_instance_uid", "frame", "bbox")} for g in geometry],
        "original": finding.instances,
        "mask_url": reverse("imaging:finding_mask", args=[finding.pk])
        if finding.kind == "segmentation" or (review and review.verdict in ("edited", "added"))
        else None,
        "overlay_url": reverse("imaging:finding_overlay", args=[finding.pk, "SOP"])
        if finding.overlay_file
        else None,
    }


def signed_report(study: Study) -> StudyReport | None:
    return study.reports.filter(status="signed").select_related("signed_by").first()


def series_of(study: Study, series_uid: str) -> Series | None:
    return study.series.filter(series_uid=series_uid).first()
