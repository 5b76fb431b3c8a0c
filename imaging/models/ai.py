"""The model service: registered models and their versions (MONAI Bundles), the rules that route
series to them, inference jobs and the findings they produce."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .store import Series, Study


class AIModel(models.Model):
    """A model as the hospital knows it ("lung-nodule-ct"); its versions are the bundles."""

    name = models.SlugField(_("name"), max_length=64, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("AI model")
        verbose_name_plural = _("AI models")

    def __str__(self) -> str:
        return self.name

    @property
    def active_version(self) -> "ModelVersion | None":
        return self.versions.filter(is_active=True).first()


class ModelVersion(models.Model):
    model = models.ForeignKey(AIModel, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(_("version"), max_length=32)
    # The bundle as imported (a zip), through the storage API, content-addressed by sha256.
    bundle_file = models.CharField(_("bundle file in storage"), max_length=300)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    metadata = models.JSONField(_("bundle metadata"), default=dict)
    kind = models.CharField(_("finding kind"), max_length=20)
    labels = models.JSONField(_("labels"), default=dict)  # {"1": "nodule"}
    not_for_clinical_use = models.BooleanField(_("not for clinical use"), default=False)
    is_active = models.BooleanField(_("active"), default=False)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    imported_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["model__name", "-imported_at", "-id"]
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="model_version_unique"),
            models.UniqueConstraint(
                fields=["model"], condition=Q(is_active=True), name="model_one_active_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model.name} {self.version}"

    @property
    def extras(self) -> dict:
        return self.metadata.get("x_aimass") or {}


class RoutingRule(models.Model):
    """Which series of a stable study a model runs on. Empty conditions match anything."""

    model = models.ForeignKey(AIModel, on_delete=models.CASCADE, related_name="routing_rules")
    modality = models.CharField(_("modality"), max_length=16, blank=True)
    body_part = models.CharField(
        _("body part examined"),
        max_length=64,
        blank=True,
        help_text=_("Compared without regard to case, e.g. CHEST."),
    )
    series_description_pattern = models.CharField(
        _("series description pattern"),
        max_length=200,
        blank=True,
        help_text=_("A regular expression searched in the series description, ignoring case."),
    )
    min_slices = models.PositiveIntegerField(_("minimum number of slices"), default=1)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["model__name", "id"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        parts = [self.modality, self.body_part, self.series_description_pattern]
        return f"{self.model.name}: {' / '.join(p for p in parts if p) or '*'} ≥{self.min_slices}"

    def clean(self):
        import re

        from django.core.exceptions import ValidationError

        if self.series_description_pattern:
            try:
                re.compile(self.series_description_pattern)
            except re.error as exc:
                raise ValidationError(
                    {
                        "series_description_pattern": _("Not a valid regular expression: %(error)s")
                        % {"error": exc}
                    }
                ) from exc


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    SKIPPED = "skipped", _("Skipped")


class InferenceJob(models.Model):
    """One model version on one series. Findings and the SEG/SR export are written in the same
    transaction that marks the job succeeded, so a job has all of its results or none."""

    FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SKIPPED)

    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="jobs")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="inference_jobs")
    series = models.ForeignKey(
        Series, on_delete=models.CASCADE, related_name="inference_jobs", null=True, blank=True
    )
    series_instances = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    trigger = models.CharField(max_length=12, default="manual")  # manual | stable | api
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    log = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds_forward = models.FloatField(null=True, blank=True)
    seconds_total = models.FloatField(null=True, blank=True)
    seg_series_uid = models.CharField(max_length=64, blank=True)
    sr_series_uid = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("inference job")
        verbose_name_plural = _("inference jobs")
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="job_progress_percent")
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.model_version} {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class FindingStatus(models.TextChoices):
    PENDING_REVIEW = "pending", _("AI-generated, pending review")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    EDITED = "edited", _("Edited")
    ADDED = "added", _("Added by the reader")


class Finding(models.Model):
    """One AI output in DICOM terms: where (SOP instance, frame, pixel box on each frame it
    touches) and how big; always tied to the model version that produced it."""

    # Null for a finding a reader added (the model missed it); see ``source``.
    job = models.ForeignKey(
        InferenceJob, on_delete=models.CASCADE, related_name="findings", null=True, blank=True
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="findings", null=True, blank=True
    )
    source = models.CharField(
        max_length=8, choices=[("ai", _("AI model")), ("reader", _("Reader"))], default="ai"
    )
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="findings")
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="findings", null=True)
    label = models.CharField(_("label"), max_length=64)
    kind = models.CharField(_("kind"), max_length=20)
    score = models.FloatField(_("score"), null=True, blank=True)
    volume_mm3 = models.FloatField(_("volume (mm³)"), null=True, blank=True)
    diameter_mm = models.FloatField(_("longest diameter (mm)"), null=True, blank=True)
    centroid_lps = models.JSONField(null=True, blank=True)
    bbox_index = models.JSONField(null=True, blank=True)  # [z0, y0, x0, z1, y1, x1] inclusive
    # [{"sop_instance_uid", "frame", "bbox": [col_min, row_min, col_max, row_max]}]
    instances = models.JSONField(default=list)
    segment_number = models.PositiveIntegerField(null=True, blank=True)  # in the job's SEG
    # Heatmap findings: the map itself (uint8 [slice, row, column] + slice UIDs, .npz) in storage.
    overlay_file = models.CharField(max_length=300, blank=True)
    urgent = models.BooleanField(_("urgent"), default=False)
    status = models.CharField(
        max_length=12, choices=FindingStatus.choices, default=FindingStatus.PENDING_REVIEW
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(  # the reader, for a finding added in review
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-urgent", "-diameter_mm", "id"]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")

    def __str__(self) -> str:
        return f"{self.label} ({self.model_version})"

    @property
    def slice_range(self) -> tuple[int, int] | None:
        return (self.bbox_index[0], self.bbox_index[3]) if self.bbox_index else None
