"""The DICOM store's index: studies, series and instances, with what QIDO-RS matches on and
what WADO-RS needs to answer without parsing files (frame byte ranges, cached metadata)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Patient


class Study(models.Model):
    study_uid = models.CharField(_("Study Instance UID"), max_length=64, unique=True)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="studies",
        verbose_name=_("patient"), help_text=_("Empty while no patient has this PatientID."),
    )
    dicom_patient_id = models.CharField(_("PatientID"), max_length=64, blank=True, db_index=True)
    patient_name = models.CharField(_("PatientName"), max_length=324, blank=True, db_index=True)
    patient_birth_date = models.DateField(null=True, blank=True)
    patient_sex = models.CharField(max_length=16, blank=True)
    study_date = models.DateField(_("StudyDate"), null=True, blank=True, db_index=True)
    study_time = models.TimeField(null=True, blank=True)
    accession_number = models.CharField(max_length=64, blank=True, db_index=True)
    study_id = models.CharField(max_length=64, blank=True)
    study_description = models.CharField(max_length=200, blank=True)
    referring_physician_name = models.CharField(max_length=324, blank=True)
    modalities = models.CharField(
        _("ModalitiesInStudy"), max_length=200, blank=True,
        help_text=_("Backslash-separated, as DICOM writes multiple values."),
    )
    number_of_series = models.PositiveIntegerField(default=0)
    number_of_instances = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_received_at = models.DateTimeField(default=timezone.now)
    # Stability: each new instance bumps `revision`; the "study stable" event fires once for
    # each revision that then stays quiet for STABLE_SECONDS (see imaging.stability).
    revision = models.PositiveIntegerField(default=0)
    stable_revision = models.PositiveIntegerField(default=0)
    stability_check_due = models.DateTimeField(null=True, blank=True)
    review_status = models.CharField(
        _("review"),
        max_length=12,
        choices=[
            ("unread", _("Not read")),
            ("in_progress", _("Being read")),
            ("signed", _("Signed")),
        ],
        default="unread",
        db_index=True,
    )

    class Meta:
        ordering = ["-study_date", "-study_time", "-id"]
        verbose_name = _("study")
        verbose_name_plural = _("studies")

    def __str__(self) -> str:
        return f"{self.study_date or ''} {self.study_description or self.study_uid}"


class Series(models.Model):
    series_uid = models.CharField(_("Series Instance UID"), max_length=64, unique=True)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    modality = models.CharField(max_length=16, blank=True, db_index=True)
    series_number = models.IntegerField(null=True, blank=True)
    series_description = models.CharField(max_length=200, blank=True)
    body_part_examined = models.CharField(max_length=64, blank=True)
    number_of_instances = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["series_number", "id"]
        verbose_name = _("series")
        verbose_name_plural = _("series")

    def __str__(self) -> str:
        return f"{self.modality} {self.series_number or ''} {self.series_description}".strip()


class Instance(models.Model):
    sop_uid = models.CharField(_("SOP Instance UID"), max_length=64, unique=True)
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_class_uid = models.CharField(max_length=64, db_index=True)
    instance_number = models.IntegerField(null=True, blank=True)
    number_of_frames = models.PositiveIntegerField(default=1)
    rows = models.PositiveIntegerField(null=True, blank=True)
    columns = models.PositiveIntegerField(null=True, blank=True)
    transfer_syntax_uid = models.CharField(max_length=64)
    file = models.CharField(_("file in storage"), max_length=300)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # [[[offset, length], ...] per frame]: the frame's bytes are those ranges of the file.
    frames = models.JSONField(default=list)
    # {"7FE00010": [offset, length], ...}: values replaced by BulkDataURIs in `metadata`.
    bulkdata = models.JSONField(default=dict)
    # The DICOM JSON of the instance as text, BulkDataURIs written as "{bulk}/<tag>".
    metadata = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["instance_number", "id"]
        verbose_name = _("instance")
        verbose_name_plural = _("instances")

    def __str__(self) -> str:
        return self.sop_uid


class StudyStableEvent(models.Model):
    """A study went quiet for STABLE_SECONDS after a change: fired once per change (revision).
    Consumers (the model service) react to ``imaging.stability.study_stable``."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="stable_events")
    revision = models.PositiveIntegerField()
    number_of_instances = models.PositiveIntegerField()
    fired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-fired_at"]
        constraints = [
            models.UniqueConstraint(fields=["study", "revision"], name="stable_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.study} r{self.revision}"
