"""The viewer page, its JSON, the review actions and the report. Reads are audited (the page and
the report on every opening; the viewer's data once per study per session, like DICOMweb);
writes go through imaging.review.services, which audit them."""

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Role

from .. import access
from ..dicomweb.lookup import audit_retrieve
from ..models import Finding, RejectReason
from . import selectors, services
from .errors import ReviewError
from .masks import finding_mask_frames

BODY_LIMIT = 2 * 1024 * 1024


# Review errors that are not the request's fault as such: who may not, or what is frozen.
_STATUS = {"not_a_reader": 403, "not_an_admin": 403, "study_signed": 409}


def _error(code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": str(message)}}, status=_STATUS.get(code, 400)
    )


def _body(request) -> dict:
    if request.content_type != "application/json":
        raise ReviewError("json_required", _("Send the request as application/json."))
    if len(request.body) > BODY_LIMIT:
        raise ReviewError("too_large", _("The request is too large."))
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReviewError("json_invalid", _("The request is not valid JSON.")) from exc
    if not isinstance(data, dict):
        raise ReviewError("json_invalid", _("The request must be a JSON object."))
    return data


def _viewer_text() -> dict:
    """The viewer script's words, in the page's language."""
    return {
        "image": _("Image"),
        "loading": _("Loading images…"),
        "loaded": _("Images loaded"),
        "failed": _("could not be loaded:"),
        "load_failed": _("The study could not be loaded. Reload the page to try again."),
        "no_images": _("This study has no images to show."),
        "reader": _("Reader"),
        "show": _("Show on the image"),
        "urgent": _("urgent"),
        "score": _("score"),
        "accept": _("Accept"),
        "reject": _("Reject"),
        "correct": _("Correct"),
        "pending": _("AI-generated, pending review"),
        "reviewed_by": _("Reviewed by"),
        "new_finding": _("new finding"),
        "empty_geometry": _("Mark at least one pixel before saving."),
    }


def _finding_for_reader(request, pk) -> Finding:
    finding = Finding.objects.select_related("study").filter(pk=pk).first()
    if finding is None:
        raise Http404
    access.study_get_for_reader(user=request.user, pk=finding.study_id)
    return finding


def _audit_open(request, study, event: str) -> None:
    with transaction.atomic():
        audit_record(
            actor=Actor.from_request(request),
            action=AuditAction.VIEW,
            obj=study,
            patient=study.patient,
            details={"via": event},
        )


@login_required
@require_GET
def study_viewer(request, pk):
    study = access.study_get_for_reader(user=request.user, pk=pk)
    _audit_open(request, study, "viewer")
    report = selectors.signed_report(study)
    return render(
        request,
        "imaging/review/viewer.html",
        {
            "study": study,
            "report": report,
            "may_review": request.user.role == Role.DOCTOR and report is None,
            "may_reopen": request.user.role == Role.ADMIN and report is not None,
            "reasons": RejectReason.choices,
            "i18n": _viewer_text(),
        },
    )


@login_required
@require_GET
def viewer_data(request, pk):
    study = access.study_get_for_reader(user=request.user, pk=pk)
    audit_retrieve(request, study)
    report = selectors.signed_report(study)
    patient = study.patient
    return JsonResponse(
        {
            "study": {
                "pk": study.pk,
                "uid": study.study_uid,
                "description": study.study_description,
                "date": study.study_date.isoformat() if study.study_date else None,
                "accession": study.accession_number,
                "review_status": study.review_status,
                "patient": {
                    "name": patient.name if patient else study.patient_name,
                    "mrn": patient.mrn if patient else study.dicom_patient_id,
                    "sex": study.patient_sex,
                    "birth_date": study.patient_birth_date.isoformat()
                    if study.patient_birth_date
                    else None,
                },
            },
            "dicomweb": reverse("dicomweb:studies").removesuffix("/studies"),
            "series": selectors.image_series(study),
            "findings": [
                selectors.finding_for_viewer(f, signed_report=report)
                for f in selectors.review_findings(study)
            ],
            "signed": report is not None,
            "signed_by": report.signed_by.display_name if report else None,
        }
    )


@login_required
@require_GET
def finding_mask(request, pk):
    finding = _finding_for_reader(request, pk)
    audit_retrieve(request, finding.study)
    return JsonResponse({"finding": finding.pk, "frames": finding_mask_frames(finding)})


def _finding_json(finding: Finding) -> dict:
    finding = selectors.review_findings(finding.study).get(pk=finding.pk)
    return selectors.finding_for_viewer(finding, signed_report=None)


@login_required
@require_POST
def finding_review_view(request, pk):
    finding = _finding_for_reader(request, pk)
    try:
        data = _body(request)
        services.finding_review(
            finding=finding,
            actor=Actor.from_request(request),
            verdict=str(data.get("verdict", "")),
            reason=str(data.get("reason", "") or ""),
            comment=str(data.get("comment", "") or ""),
            geometry=data.get("geometry"),
        )
    except ReviewError as exc:
        return _error(exc.code, exc.message)
    return JsonResponse({"finding": _finding_json(finding)})


@login_required
@require_POST
def finding_add_view(request, pk):
    study = access.study_get_for_reader(user=request.user, pk=pk)
    try:
        data = _body(request)
        series = selectors.series_of(study, str(data.get("series_uid", "")))
        if series is None:
            raise ReviewError("geometry_invalid", _("That series is not in this study."))
        finding = services.finding_add(
            study=study,
            series=series,
            actor=Actor.from_request(request),
            label=str(data.get("label", "") or ""),
            geometry=data.get("geometry"),
            comment=str(data.get("comment", "") or ""),
        )
    except ReviewError as exc:
        return _error(exc.code, exc.message)
    return JsonResponse({"finding": _finding_json(finding)}, status=201)


@login_required
@require_POST
def study_sign_view(request, pk):
    study = access.study_get_for_reader(user=request.user, pk=pk)
    try:
        if request.content_type == "application/json":
            impression = str(_body(request).get("impression", "") or "")
        else:
            impression = request.POST.get("impression", "")
        services.study_sign(study=study, actor=Actor.from_request(request), impression=impression)
    except ReviewError as exc:
        return _error(exc.code, exc.message)
    return JsonResponse({"report": reverse("imaging:study_report", args=[study.pk])}, status=201)


@login_required
@require_GET
def study_report(request, pk):
    study = access.study_get_for_reader(user=request.user, pk=pk)
    reports = list(study.reports.select_related("signed_by", "reopened_by"))
    if not reports:
        raise Http404
    _audit_open(request, study, "report")
    return render(
        request,
        "imaging/review/report.html",
        {
            "study": study,
            "report": reports[0],
            "earlier": reports[1:],
            "may_reopen": request.user.role == Role.ADMIN and reports[0].status == "signed",
        },
    )


@login_required
@require_POST
def study_reopen_view(request, pk):
    study = access.study_get_for_reader(user=request.user, pk=pk)
    if request.user.role != Role.ADMIN:
        raise PermissionDenied
    try:
        services.study_reopen(
            study=study, actor=Actor.from_request(request), reason=request.POST.get("reason", "")
        )
    except ReviewError as exc:
        from django.contrib import messages

        messages.error(request, exc.message)
    return redirect("imaging:study_report", pk=study.pk)
