"""The doctor's review of AI findings: one row per decision on a finding (the labelled examples the
feedback loop counts and exports) and one row per signed report of a study.

Geometry, wherever it is stored here, has the shape the runner gives ``Finding.instances``:
``[{"sop_instance_uid", "frame", "bbox": [col_min, row_min, col_max, row_max]}]`` (frame from 1,
pixel indices inclusive), optionally with ``"mask": [run, run, ...]`` per frame — the finding's
pixels inside that box, row by row, as alternating runs of outside/inside starting with outside.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .ai import Finding, ModelVersion
from .store import Study


class Verdict(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    EDITED = "edited", _("Corrected")
    ADDED = "added", _("Added by the reader")


class RejectReason(models.TextChoices):
    FALSE_POSITIVE = "false_positive", _("Not a lesion (false positive)")
    ARTEFACT = "artefact", _("Artefact")
    NORMAL_ANATOMY = "normal_anatomy", _("Normal anatomy (vessel, bone, scar)")
    KNOWN_BENIGN = "known_benign", _("Known benign finding")
    DUPLICATE = "duplicate", _("Duplicate of another finding")
    WRONG_LABEL = "wrong_label", _("Wrong label")
    OTHER = "other", _("Other")


class FindingReview(models.Model):
    """One decision of a reader on one finding. A finding's decisions form its history; the latest
    one (``current``) is the label the feedback loop counts for the finding's model version."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="reviews")
    # The model version judged: the one that produced the finding, or for a finding the reader
    # added, the version that ran on that series and missed it (null when no model ran there).
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="reviews", null=True, blank=True
    )
    verdict = models.CharField(_("verdict"), max_length=12, choices=Verdict.choices)
    reason = models.CharField(_("reason"), max_length=20, choices=RejectReason.choices, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    original_geometry = models.JSONField(default=list)  # the model's, never changed
    geometry = models.JSONField(default=list)  # what the reader says; equals original unless edited
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="finding_reviews"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    current = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("finding review")
        verbose_name_plural = _("finding reviews")
        constraints = [
            models.UniqueConstraint(
                fields=["finding"], condition=Q(current=True), name="one_current_review_per_finding"
            ),
            models.CheckConstraint(
                condition=~Q(verdict="rejected") | ~Q(reason=""), name="rejection_has_a_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.finding_id}: {self.verdict}"


class ReportStatus(models.TextChoices):
    SIGNED = "signed", _("Signed")
    REOPENED = "reopened", _("Re-opened")


class StudyReport(models.Model):
    """A signed read of a study: the findings table and impression frozen at sign-off, and the SR
    stored into the study. Re-opening keeps the report (status ``reopened``) and the next sign-off
    writes version n+1."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="reports")
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default="signed")
    impression = models.TextField(_("impression"))
    # [{"finding", "label", "verdict", "diameter_mm", "volume_mm3", "slices", "source", ...}]
    findings_table = models.JSONField(default=list)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signed_reports"
    )
    signed_at = models.DateTimeField(default=timezone.now)
    sr_series_uid = models.CharField(max_length=64, blank=True)
    sr_sop_instance_uid = models.CharField(max_length=64, blank=True)
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopen_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("study report")
        verbose_name_plural = _("study reports")
        constraints = [
            models.UniqueConstraint(fields=["study", "version"], name="report_version_unique"),
            models.UniqueConstraint(
                fields=["study"], condition=Q(status="signed"), name="one_signed_report_per_study"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study_id} v{self.version}"
