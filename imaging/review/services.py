"""Writes of the review: a reader's verdict on a finding, a finding the model missed, sign-off and
re-opening. Each runs in one transaction with its audit row; a signed study takes no changes."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Role

from ..models import (
    Finding,
    FindingReview,
    FindingStatus,
    InferenceJob,
    JobStatus,
    RejectReason,
    ReportStatus,
    Series,
    Study,
    StudyReport,
    Verdict,
)
from .errors import ReviewError
from .geometry import geometry_clean

LABEL_MAX = 64


def _may_review(actor: Actor, study: Study) -> None:
    if actor.user.role != Role.DOCTOR:
        raise ReviewError("not_a_reader", _("Only doctors review findings and sign studies."))


def _locked_open(study: Study) -> Study:
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.review_status == "signed":
        raise ReviewError(
            "study_signed", _("This study is signed; an administrator must re-open it first.")
        )
    return study


def _mark_in_progress(study: Study) -> None:
    if study.review_status == "unread":
        study.review_status = "in_progress"
        study.save(update_fields=["review_status"])


def _review_write(*, finding: Finding, actor: Actor, verdict: str, **fields) -> FindingReview:
    FindingReview.objects.filter(finding=finding, current=True).update(current=False)
    review = FindingReview(
        finding=finding,
        model_version=fields.pop("model_version", finding.model_version),
        verdict=verdict,
        original_geometry=finding.instances,
        reviewer=actor.user,
        **fields,
    )
    review.full_clean()
    review.save()
    finding.status = {
        Verdict.ACCEPTED: FindingStatus.ACCEPTED,
        Verdict.REJECTED: FindingStatus.REJECTED,
        Verdict.EDITED: FindingStatus.EDITED,
        Verdict.ADDED: FindingStatus.ADDED,
    }[verdict]
    finding.reviewed_by = actor.user
    finding.reviewed_at = review.created_at
    finding.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE if verdict != Verdict.ADDED else AuditAction.CREATE,
        obj=finding,
        patient=finding.study.patient,
        details={
            "event": f"finding_{verdict}",
            "study": finding.study.study_uid,
            "label": finding.label,
            "reason": review.reason,
        },
    )
    return review


@transaction.atomic
def finding_review(
    *,
    finding: Finding,
    actor: Actor,
    verdict: str,
    reason: str = "",
    comment: str = "",
    geometry: list | None = None,
) -> FindingReview:
    """Record a reader's verdict: ``accepted``; ``rejected`` with a reason from RejectReason (and
    free text); ``edited`` with the corrected geometry — the model's own stays on the finding.
    A later verdict replaces the earlier one as the current label; both are kept."""
    _may_review(actor, finding.study)
    _mark_in_progress(_locked_open(finding.study))
    finding = (
        Finding.objects.select_for_update(of=("self",))
        .select_related("study__patient")
        .get(pk=finding.pk)
    )
    comment = (comment or "").strip()
    if verdict == Verdict.ACCEPTED:
        return _review_write(
            finding=finding,
            actor=actor,
            verdict=verdict,
            comment=comment,
            geometry=finding.instances,
        )
    if verdict == Verdict.REJECTED:
        if reason not in RejectReason.values:
            raise ReviewError("reason_required", _("Choose why the finding is rejected."))
        if reason == RejectReason.OTHER and not comment:
            raise ReviewError("comment_required", _("Say why in the comment when you pick Other."))
        return _review_write(
            finding=finding,
            actor=actor,
            verdict=verdict,
            reason=reason,
            comment=comment,
            geometry=finding.instances,
        )
    if verdict == Verdict.EDITED:
        if finding.series is None:
            raise ReviewError("geometry_invalid", _("This finding has no image to correct."))
        cleaned = geometry_clean(geometry, series=finding.series)
        return _review_write(
            finding=finding, actor=actor, verdict=verdict, comment=comment, geometry=cleaned
        )
    raise ReviewError("verdict_invalid", _("The verdict must be accepted, rejected or edited."))


def _version_that_missed(series: Series):
    """The model version whose latest successful run covered ``series``: it missed what a reader
    adds there."""
    job = (
        InferenceJob.objects.filter(series=series, status=JobStatus.SUCCEEDED)
        .select_related("model_version")
        .order_by("-finished_at", "-id")
        .first()
    )
    return job.model_version if job else None


@transaction.atomic
def finding_add(
    *, study: Study, series: Series, actor: Actor, label: str, geometry, comment: str = ""
) -> Finding:
    """A finding the model missed, drawn by the reader: kept as a labelled example (verdict
    ``added``) charged to the model version that ran on the series."""
    _may_review(actor, study)
    study = _locked_open(study)
    if series.study_id != study.pk:
        raise ReviewError("geometry_invalid", _("That series is not in this study."))
    label = (label or "").strip()
    if not label or len(label) > LABEL_MAX:
        raise ReviewError("label_required", _("Name what you found (up to 64 characters)."))
    cleaned = geometry_clean(geometry, series=series)
    finding = Finding.objects.create(
        study=study,
        series=series,
        source="reader",
        label=label,
        kind="detection",
        instances=cleaned,
        created_by=actor.user,
        status=FindingStatus.ADDED,
    )
    finding.study = study
    _review_write(
        finding=finding,
        actor=actor,
        verdict=Verdict.ADDED,
        comment=(comment or "").strip(),
        geometry=cleaned,
        model_version=_version_that_missed(series),
    )
    _mark_in_progress(study)
    return finding


@transaction.atomic
def study_sign(*, study: Study, actor: Actor, impression: str) -> StudyReport:
    """Freeze the review: every AI finding must have a verdict; the report (findings table and
    impression) is kept, and an SR of it is stored into the study."""
    from .report import findings_table, report_sr_store

    _may_review(actor, study)
    study = _locked_open(study)
    impression = (impression or "").strip()
    if not impression:
        raise ReviewError("impression_required", _("Write an impression before signing."))
    from .selectors import review_findings

    # Findings of superseded runs are not shown to the reader, so they do not hold sign-off up.
    pending = review_findings(study).filter(status=FindingStatus.PENDING_REVIEW).count()
    if pending:
        raise ReviewError(
            "findings_pending",
            _("%(n)d finding(s) still need a verdict before signing.") % {"n": pending},
        )
    last = study.reports.order_by("-version").first()
    report = StudyReport(
        study=study,
        version=(last.version + 1) if last else 1,
        impression=impression,
        findings_table=findings_table(study),
        signed_by=actor.user,
        signed_at=timezone.now(),
    )
    report.full_clean()
    report.save()
    sr = report_sr_store(report=report, actor=actor)
    report.sr_series_uid = str(sr.SeriesInstanceUID)
    report.sr_sop_instance_uid = str(sr.SOPInstanceUID)
    report.save(update_fields=["sr_series_uid", "sr_sop_instance_uid"])
    study.review_status = "signed"
    study.save(update_fields=["review_status"])
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=report,
        patient=study.patient,
        details={"event": "study_signed", "study": study.study_uid, "version": report.version},
    )
    return report


@transaction.atomic
def study_reopen(*, study: Study, actor: Actor, reason: str) -> StudyReport:
    """Unfreeze a signed study (administrators, with a reason): the report stays, marked
    re-opened; the next sign-off writes a new version."""
    if actor.user.role != Role.ADMIN:
        raise ReviewError("not_an_admin", _("Only an administrator may re-open a signed study."))
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("reason_required", _("Say why the study is re-opened."))
    study = Study.objects.select_for_update().get(pk=study.pk)
    report = study.reports.filter(status=ReportStatus.SIGNED).first()
    if report is None or study.review_status != "signed":
        raise ReviewError("study_not_signed", _("This study is not signed."))
    report.status = ReportStatus.REOPENED
    report.reopened_by = actor.user
    report.reopened_at = timezone.now()
    report.reopen_reason = reason
    report.save(update_fields=["status", "reopened_by", "reopened_at", "reopen_reason"])
    study.review_status = "in_progress"
    study.save(update_fields=["review_status"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=report,
        patient=study.patient,
        reason=reason,
        flagged=True,
        details={"event": "study_reopened", "study": study.study_uid, "version": report.version},
    )
    return report
