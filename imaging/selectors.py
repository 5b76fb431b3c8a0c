"""Reads of the model service: findings and jobs as the API, the commands and the pages show
them. Access is decided by the caller (imaging.access); these only shape and order."""

from django.db.models import Prefetch, QuerySet

from .models import AIModel, Finding, InferenceJob, JobStatus, ModelVersion, Study


def finding_summary(finding: Finding) -> dict:
    """The contract's finding object (DESIGN.md, run_inference --wait)."""
    return {
        "id": finding.pk,
        "label": finding.label,
        "score": finding.score,
        "kind": finding.kind,
        "volume_mm3": finding.volume_mm3,
        "diameter_mm": finding.diameter_mm,
        "urgent": finding.urgent,
        "status": finding.status,
        "segment_number": finding.segment_number,
        "instances": finding.instances,
    }


def job_summary(job: InferenceJob) -> dict:
    """The contract's job object: status is "succeeded" or "failed" (skipped and cancelled jobs
    are failures with their reason's code)."""
    succeeded = job.status == JobStatus.SUCCEEDED
    return {
        "job": job.pk,
        "status": "succeeded" if succeeded else ("failed" if job.is_finished else job.status),
        "error": None
        if succeeded or not job.error_code
        else {"code": job.error_code, "message": job.error_message},
        "model": job.model_version.model.name,
        "version": job.model_version.version,
        "series": job.series.series_uid if job.series_id else None,
        "findings": [finding_summary(f) for f in job.findings.order_by("id")],
    }


def study_jobs(study: Study) -> QuerySet[InferenceJob]:
    return study.inference_jobs.select_related("model_version__model", "series").order_by("-id")


def study_findings(study: Study) -> QuerySet[Finding]:
    """The findings of each (model version, series)'s latest successful job, most urgent first."""
    latest = {}
    for job in study.inference_jobs.filter(status=JobStatus.SUCCEEDED).order_by("id"):
        latest[(job.model_version_id, job.series_id)] = job.pk
    return (
        Finding.objects.filter(job_id__in=latest.values())
        .select_related("model_version__model", "series")
        .order_by("-urgent", "-diameter_mm", "id")
    )


def model_list() -> QuerySet[AIModel]:
    return AIModel.objects.prefetch_related(
        Prefetch("versions", queryset=ModelVersion.objects.order_by("-imported_at", "-id"))
    ).order_by("name")
