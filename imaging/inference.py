"""Inference jobs: which series get which models (routing), queueing, running on a worker, and
writing the results — findings plus a DICOM SEG and SR stored back into the study — all at once.

A job is claimed with a conditional update, and its results are committed in the same
transaction that marks it succeeded for that attempt; a redelivered task for a finished job does
nothing, and a task redelivered after its worker died runs the job again from the start, so each
job's findings exist exactly once.
"""

import io
import re
import threading
import traceback
from collections import OrderedDict

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.audit import Actor, audit_record
from clinic.consent import NOT_ASKED, ai_refusal
from clinic.models import AuditAction

from .ai.bundle import BundleError
from .ai.volume import VolumeError
from .models import (
    AIModel,
    Finding,
    InferenceJob,
    JobStatus,
    ModelVersion,
    RoutingRule,
    Series,
    Study,
)

NON_IMAGE_MODALITIES = {"SEG", "SR", "PR", "KO", "DOC", "RTSTRUCT", "REG"}
LOG_LIMIT = 64 * 1024

# Codes a job can end with (besides the bundle's own: see imaging.ai.bundle.BundleError).
JOB_ERRORS = {
    "model_error": _("The model raised an error while running; the job log has the details."),
    "out_of_memory": _("The model ran out of memory even at the smallest batch."),
    "time_limit": _("The job ran past the time limit and was stopped."),
    "internal_error": _("An unexpected error in the runner; the job log has the traceback."),
    "cancelled": _("Cancelled by a user."),
    "modality_mismatch": _("The series' modality is not one the model takes."),
    "too_few_slices": _("The series has fewer slices than the model needs."),
    "inconsistent_spacing": _("The distance between slices varies; the series is not one volume."),
    "inconsistent_orientation": _("The series' slices are not parallel."),
    "inconsistent_size": _("The series' slices differ in size."),
    "duplicate_position": _("Two slices share one position."),
    "bad_geometry": _("Position, orientation or pixel spacing is missing or malformed."),
    "multiframe_unsupported": _("Multi-frame instances are not read yet."),
    "empty_series": _("The series has no image instances."),
    "not_a_bundle": _("The file is neither a bundle folder nor a zip."),
    "unsafe_zip": _("A zip member points outside the bundle."),
    "corrupt_zip": _("The zip file cannot be read."),
    "too_large": _("The bundle unpacks to more than allowed."),
    "metadata_missing": _("configs/metadata.json is missing."),
    "metadata_invalid": _("configs/metadata.json is incomplete or malformed."),
    "config_missing": _("configs/inference.json is missing."),
    "config_invalid": _("The inference config cannot be parsed or built."),
    "weights_missing": _("models/model.ts or models/model.pt is missing."),
    "weights_corrupt": _("The weights file cannot be loaded."),
    "weights_mismatch": _("The weights do not fit the network definition."),
    "input_spec_mismatch": _("The network does not take the input metadata.json declares."),
    "output_spec_mismatch": _("The network does not give the output metadata.json declares."),
    "version_exists": _("This model version is already registered."),
    "no_previous_version": _("There is no earlier version to roll back to."),
    "bundle_altered": _("The stored bundle no longer matches its checksum."),
    "consent_declined": _(
        "The patient declined or withdrew consent to AI analysis or to the processing of their "
        "data; the model was not run."
    ),
    "consent_required": _(
        "AI analysis needs the patient's consent here (AI_REQUIRES_CONSENT) and none is recorded."
    ),
}
SKIP_CODES = {
    "modality_mismatch",
    "too_few_slices",
    "inconsistent_spacing",
    "inconsistent_orientation",
    "inconsistent_size",
    "duplicate_position",
    "bad_geometry",
    "multiframe_unsupported",
    "empty_series",
}


# --- Routing ----------------------------------------------------------------------------------


def rule_mismatch(rule: RoutingRule, series: Series) -> tuple[str, str] | None:
    """Why ``rule`` does not send ``series`` to its model, as (code, message); None if it does."""
    if rule.modality and series.modality.upper() != rule.modality.upper():
        return "modality_mismatch", f"Modality {series.modality or '?'} is not {rule.modality}."
    if rule.body_part and series.body_part_examined.upper() != rule.body_part.upper():
        return (
            "modality_mismatch",
            f"Body part {series.body_part_examined or '?'} is not {rule.body_part}.",
        )
    pattern = rule.series_description_pattern
    if pattern and not re.search(pattern, series.series_description or "", re.IGNORECASE):
        return "modality_mismatch", f"Series description does not match /{pattern}/."
    if series.number_of_instances < rule.min_slices:
        return (
            "too_few_slices",
            f"{series.number_of_instances} slices; the model needs at least {rule.min_slices}.",
        )
    return None


def _version_mismatch(version: ModelVersion, series: Series) -> tuple[str, str] | None:
    """For a model without routing rules: what its bundle says it takes."""
    extras = version.extras
    modality = str(extras.get("modality") or "")
    if modality and series.modality.upper() != modality.upper():
        return "modality_mismatch", f"Modality {series.modality or '?'} is not {modality}."
    min_slices = int(extras.get("min_slices") or 1)
    if series.number_of_instances < min_slices:
        return (
            "too_few_slices",
            f"{series.number_of_instances} slices; the model needs at least {min_slices}.",
        )
    return None


def series_route(*, model: AIModel, series: Series) -> tuple[str, str] | None:
    """None when the model should run on the series, else the reason it should not."""
    rules = [r for r in model.routing_rules.all() if r.enabled]
    if not rules:
        return _version_mismatch(model.active_version, series)
    reasons = [rule_mismatch(rule, series) for rule in rules]
    if any(reason is None for reason in reasons):
        return None
    # The most telling reason: a rule that matched all but the slice count.
    return next((r for r in reasons if r[0] == "too_few_slices"), reasons[0])


def _image_series(study: Study):
    return [s for s in study.series.all() if s.modality.upper() not in NON_IMAGE_MODALITIES]


def _consent_block(study: Study) -> tuple[str, str] | None:
    """Why the patient's consent stops AI on ``study``, as (code, message); None when it may run,
    and for a study not matched to a patient yet (see clinic.consent)."""
    refusal = ai_refusal(study.patient) if study.patient_id else None
    if refusal is None:
        return None
    purpose, status = refusal
    if status == NOT_ASKED:
        return "consent_required", "AI analysis needs the patient's consent; none is recorded."
    what = "AI analysis" if purpose == "ai_analysis" else "the processing of their data"
    return "consent_declined", f"The patient has {status} consent to {what}."


def _enqueue(job: InferenceJob) -> None:
    from .tasks import inference_job_run

    transaction.on_commit(lambda: inference_job_run.apply_async((job.pk,)))


@transaction.atomic
def inference_request(
    *, study: Study, actor: Actor, model: AIModel | None = None, trigger: str = "manual"
) -> list[InferenceJob]:
    """Queue the active version of ``model`` (or of every routed model) on the study's series.

    A series the model does not take gets a job "skipped" with the reason, so a person who asked
    sees why; on automatic runs only a near miss (too few slices) is recorded that way. A series
    already queued, running or done for the same version and content is not run again. When the
    patient's consent does not allow AI, the series it would run on get such a job instead,
    with the consent code.
    """
    models = (
        [model]
        if model is not None
        else list(
            AIModel.objects.filter(versions__is_active=True, routing_rules__enabled=True).distinct()
        )
    )
    jobs = []
    now = timezone.now()
    blocked = _consent_block(study)
    for candidate in models:
        version = candidate.active_version
        if version is None:
            continue
        for series in _image_series(study):
            existing = InferenceJob.objects.filter(
                model_version=version,
                series=series,
                series_instances=series.number_of_instances,
            )
            active = existing.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).first()
            if active is not None:
                jobs.append(active)
                continue
            if (
                trigger == "stable"
                and existing.exclude(status__in=[JobStatus.FAILED, JobStatus.CANCELLED]).exists()
            ):
                continue
            reason = series_route(model=candidate, series=series)
            if reason is not None and trigger == "stable" and reason[0] != "too_few_slices":
                continue
            reason = blocked or reason
            job = InferenceJob(
                model_version=version,
                study=study,
                series=series,
                series_instances=series.number_of_instances,
                trigger=trigger,
                requested_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
            )
            if reason is not None:
                job.status = JobStatus.SKIPPED
                job.error_code, job.error_message = reason
                job.finished_at = now
            job.save()
            if reason is None:
                _enqueue(job)
            jobs.append(job)
    if jobs and trigger != "stable":
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            obj=study,
            patient=study.patient,
            details={"event": "inference_requested", "jobs": [j.pk for j in jobs]},
        )
    return jobs


def on_study_stable(sender, *, study: Study, event, **kwargs) -> None:
    """Receiver of imaging.stability.study_stable: route the stable study to its models."""
    if not settings.INFERENCE_ON_STABLE:
        return
    study = Study.objects.prefetch_related("series").get(pk=study.pk)
    inference_request(study=study, actor=Actor.system(None), trigger="stable")


@transaction.atomic
def job_cancel(*, job: InferenceJob, actor: Actor) -> bool:
    """Cancel a job that has not finished; a running one stops writing (its results are dropped)."""
    cancelled = InferenceJob.objects.filter(
        pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).update(
        status=JobStatus.CANCELLED,
        error_code="cancelled",
        error_message="Cancelled by a user.",
        finished_at=timezone.now(),
    )
    if cancelled:
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            obj=job,
            patient=job.study.patient,
            details={"event": "inference_cancelled"},
        )
    job.refresh_from_db()
    return bool(cancelled)


# --- Running (worker side) --------------------------------------------------------------------


class _Superseded(Exception):
    """Another attempt or a cancellation finished the job first: drop this attempt's results."""


class BundleCache:
    """Loaded bundles per worker process, least recently used dropped first."""

    def __init__(self):
        self._loaded: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: ModelVersion):
        import torch

        from .ai.bundle import bundle_inspect
        from .ai.runner import bundle_load, default_device
        from .registry import bundle_local_path

        with self._lock:
            if version.sha256 in self._loaded:
                self._loaded.move_to_end(version.sha256)
                return self._loaded[version.sha256]
            device = (
                torch.device(settings.INFERENCE_DEVICE)
                if settings.INFERENCE_DEVICE
                else default_device()
            )
            info = bundle_inspect(bundle_local_path(version), name=version.model.name)
            loaded = bundle_load(info, device=device)
            self._loaded[version.sha256] = loaded
            while len(self._loaded) > max(1, settings.INFERENCE_MODEL_CACHE_SIZE):
                self._loaded.popitem(last=False)
            return loaded

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()


bundle_cache = BundleCache()


class _JobLog:
    def __init__(self, job: InferenceJob):
        self.job = job
        self.lines: list[str] = [job.log] if job.log else []

    def line(self, text: str) -> None:
        self.lines.append(f"{timezone.now():%Y-%m-%d %H:%M:%S} {text}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)[-LOG_LIMIT:]

    def progress(self, percent: int, text: str) -> None:
        self.line(text)
        InferenceJob.objects.filter(
            pk=self.job.pk, status=JobStatus.RUNNING, attempts=self.job.attempts
        ).update(progress=percent, log=self.text)


def _series_datasets(series: Series) -> list:
    import pydicom

    from .storage import dicom_storage

    storage = dicom_storage()
    datasets = []
    for instance in series.instances.all().only("file", "sop_uid"):
        with storage.open(instance.file, "rb") as stored:
            ds = pydicom.dcmread(stored)
        if "PixelData" in ds:
            datasets.append(ds)
    return datasets


def job_run(*, job_id: int, worker: str = "") -> str:
    """Run one job to its end; returns its final status (or "already finished")."""
    claimed = InferenceJob.objects.filter(
        pk=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=timezone.now(),
        worker=worker[:200],
        progress=1,
    )
    if not claimed:
        return "already finished"
    job = InferenceJob.objects.select_related(
        "model_version__model", "series", "study__patient"
    ).get(pk=job_id)
    log = _JobLog(job)
    log.line(f"attempt {job.attempts} on {worker or 'worker'}")
    try:
        # Consent may have been withdrawn while the job waited in the queue.
        blocked = _consent_block(job.study)
        if blocked is not None:
            return _job_end(job, log, JobStatus.SKIPPED, *blocked)
        return _job_execute(job, log)
    except _Superseded:
        return "superseded"
    except (VolumeError, BundleError) as exc:
        status = JobStatus.SKIPPED if exc.code in SKIP_CODES else JobStatus.FAILED
        return _job_end(job, log, status, exc.code, exc.message)
    except Exception as exc:
        from celery.exceptions import SoftTimeLimitExceeded

        from .ai.runner import RunnerError

        if isinstance(exc, RunnerError) and not exc.transient:
            log.line(f"{exc.code}: {exc.message}")
            if exc.__cause__ is not None:
                log.line("".join(traceback.format_exception(exc.__cause__))[-8000:])
            return _job_end(job, log, JobStatus.FAILED, exc.code, exc.message)
        if isinstance(exc, SoftTimeLimitExceeded):
            return _job_end(
                job,
                log,
                JobStatus.FAILED,
                "time_limit",
                f"Stopped after {settings.INFERENCE_TIME_LIMIT_SECONDS - 30} seconds.",
            )
        if _transient(exc):
            log.progress(job.progress, f"transient error, will retry: {exc!r}")
            raise
        log.line(traceback.format_exc()[-8000:])
        return _job_end(
            job, log, JobStatus.FAILED, "internal_error", f"{type(exc).__name__}: {exc}"[:500]
        )


def _transient(exc: Exception) -> bool:
    from django.db import InterfaceError, OperationalError

    from .ai.runner import RunnerError

    return isinstance(exc, (OperationalError, InterfaceError, ConnectionError)) or (
        isinstance(exc, RunnerError) and exc.transient
    )


def _job_end(job: InferenceJob, log: _JobLog, status: str, code: str, message: str) -> str:
    log.line(f"{status}: {code}: {message}")
    InferenceJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        status=status,
        error_code=code,
        error_message=message,
        finished_at=timezone.now(),
        log=log.text,
    )
    return status


def _job_execute(job: InferenceJob, log: _JobLog) -> str:
    from .ai.volume import volume_from_datasets

    version = job.model_version
    if job.series is None:
        raise VolumeError("empty_series", "The job names no series.")
    reason = _version_mismatch(version, job.series)
    if reason is not None and reason[0] == "modality_mismatch":
        raise VolumeError(*reason)
    datasets = _series_datasets(job.series)
    log.progress(15, f"read {len(datasets)} image instances of series {job.series.series_uid}")
    volume = volume_from_datasets(datasets)
    min_slices = int(version.extras.get("min_slices") or 1)
    if volume.shape[0] < min_slices:
        raise VolumeError(
            "too_few_slices", f"{volume.shape[0]} slices; the model needs {min_slices}."
        )
    log.progress(
        25, f"volume {volume.shape} spacing {tuple(round(s, 3) for s in volume.spacing)} mm"
    )
    bundle = bundle_cache.get(version)
    log.progress(35, f"model {version} on {bundle.device}")

    from .ai.runner import run

    result = run(bundle, volume, slice_batch=settings.INFERENCE_SLICE_BATCH)
    log.progress(
        75,
        f"{len(result.findings)} findings; forward pass {result.seconds_forward:.2f} s, "
        f"run {result.seconds_total:.2f} s",
    )
    heatmaps = _heatmaps_build(job, bundle, volume, result, log)
    exports = _exports_build(job, datasets, volume, result)
    log.progress(90, f"built {', '.join(ds.Modality for ds in exports) or 'no export'}")
    _results_commit(job, log, result, exports, heatmaps)
    return JobStatus.SUCCEEDED


def _heatmaps_build(job: InferenceJob, bundle, volume, result, log: _JobLog) -> list:
    """Saliency heatmaps, for bundles that ask for them (x_aimass.saliency = "gradient"):
    one per label that has findings, stored as uint8 .npz, returned as heatmap findings."""
    import numpy as np

    from .ai.findings import HEATMAP, frame_boxes
    from .ai.findings import Finding as CoreFinding
    from .ai.saliency import gradient_saliency

    if job.model_version.extras.get("saliency") != "gradient" or result.labelmap is None:
        return []
    heatmaps = []
    for index in sorted({f.label_index for f in result.findings if f.label_index is not None}):
        heat = gradient_saliency(bundle, volume, label=index, region=result.labelmap == index)
        quantized = np.round(heat * 255).astype(np.uint8)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            heat=quantized,
            sop_instance_uids=np.array([s.sop_instance_uid for s in volume.slices]),
        )
        name = f"heatmaps/{job.study.study_uid}/{job.pk}-{index}.npz"
        storage = default_storage
        if storage.exists(name):
            storage.delete(name)
        storage.save(name, ContentFile(buffer.getvalue()))
        label = job.model_version.labels.get(str(index), str(index))
        finding = CoreFinding(
            label=label,
            kind=HEATMAP,
            label_index=index,
            instances=frame_boxes(quantized >= 128, volume),
        )
        heatmaps.append((finding, name))
    log.line(f"saliency: {len(heatmaps)} heatmap(s)")
    return heatmaps


def _lesion_labelmap(result) -> tuple:
    """One segment per finding (so each can be shown or hidden alone), labelled by its label."""
    import numpy as np

    findings = [f for f in result.findings if f.mask is not None][:255]
    labelmap = (
        np.zeros(result.labelmap.shape, dtype=np.uint8) if result.labelmap is not None else None
    )
    labels = {}
    for number, finding in enumerate(findings, start=1):
        labelmap[finding.mask] = number
        labels[number] = finding.label
    return labelmap, labels, findings


def _exports_build(job: InferenceJob, datasets: list, volume, result) -> list:
    from .ai.export import AlgorithmInfo, measurement_report_build, segmentation_build

    version = job.model_version
    algorithm = AlgorithmInfo(name=version.model.name, version=version.version)
    seg = None
    segment_of = {}
    if result.labelmap is not None:
        labelmap, labels, segmented = _lesion_labelmap(result)
        segment_of = {id(f): n for n, f in enumerate(segmented, start=1)}
        if labels:
            seg = segmentation_build(
                source_datasets=datasets,
                volume=volume,
                labelmap=labelmap,
                labels=labels,
                algorithm=algorithm,
                series_number=9000 + job.pk % 1000,
            )
    exports = [seg] if seg is not None else []
    if result.findings:
        exports.append(
            measurement_report_build(
                source_datasets=datasets,
                volume=volume,
                findings=result.findings,
                algorithm=algorithm,
                series_number=9500 + job.pk % 500,
                segmentation=seg,
                segment_numbers=[
                    segment_of.get(id(f)) if seg is not None else None for f in result.findings
                ],
            )
        )
    return exports


def _urgent(version: ModelVersion, finding) -> bool:
    extras = version.extras
    if finding.label in (extras.get("critical_labels") or []):
        return True
    threshold = extras.get("urgent_diameter_mm")
    return bool(threshold and finding.diameter_mm and finding.diameter_mm >= float(threshold))


def _results_commit(
    job: InferenceJob, log: _JobLog, result, exports: list, heatmaps: list = ()
) -> None:
    import pydicom

    from .services import IngestSession

    version = job.model_version
    segment_of = {}
    if result.labelmap is not None:
        _, _, segmented = _lesion_labelmap(result)
        segment_of = {id(f): n for n, f in enumerate(segmented, start=1)}
    with transaction.atomic():
        done = InferenceJob.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts
        ).update(
            status=JobStatus.SUCCEEDED,
            progress=100,
            finished_at=timezone.now(),
            seconds_forward=result.seconds_forward,
            seconds_total=result.seconds_total,
            error_code="",
            error_message="",
            seg_series_uid=next(
                (str(d.SeriesInstanceUID) for d in exports if d.Modality == "SEG"), ""
            ),
            sr_series_uid=next(
                (str(d.SeriesInstanceUID) for d in exports if d.Modality == "SR"), ""
            ),
        )
        if not done:
            raise _Superseded
        Finding.objects.bulk_create(
            Finding(
                job=job,
                model_version=version,
                study=job.study,
                series=job.series,
                label=f.label,
                kind=f.kind,
                score=f.score,
                volume_mm3=f.volume_mm3,
                diameter_mm=f.diameter_mm,
                centroid_lps=list(f.centroid_lps) if f.centroid_lps else None,
                bbox_index=[int(v) for v in f.bbox_index] if f.bbox_index else None,
                instances=[
                    {"sop_instance_uid": b.sop_instance_uid, "frame": b.frame, "bbox": list(b.bbox)}
                    for b in f.instances
                ],
                segment_number=segment_of.get(id(f)),
                urgent=_urgent(version, f),
            )
            for f in result.findings
        )
        Finding.objects.bulk_create(
            Finding(
                job=job,
                model_version=version,
                study=job.study,
                series=job.series,
                label=f.label,
                kind=f.kind,
                overlay_file=name,
                instances=[
                    {"sop_instance_uid": b.sop_instance_uid, "frame": b.frame, "bbox": list(b.bbox)}
                    for b in f.instances
                ],
            )
            for f, name in heatmaps
        )
        actor = Actor.system(None)
        with IngestSession(
            actor=actor, source=f"ai:{version.model.name}:{version.version}"
        ) as ingest:
            for ds in exports:
                buffer = io.BytesIO()
                pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
                stored = ingest.ingest(buffer.getvalue())
                if not stored.ok:
                    raise RuntimeError(
                        f"storing the {ds.Modality} failed: {stored.code} {stored.message}"
                    )
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            obj=job,
            patient=job.study.patient,
            username=f"ai:{version.model.name}",
            details={
                "event": "inference_succeeded",
                "findings": len(result.findings),
                "model": version.model.name,
                "version": version.version,
            },
        )
        log.line(f"succeeded: {len(result.findings)} findings stored")
        InferenceJob.objects.filter(pk=job.pk).update(log=log.text)
