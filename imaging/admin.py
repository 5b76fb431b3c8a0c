"""The DICOM index, read-only: instances enter only through ingest (STOW-RS, C-STORE, upload),
so that files on disk and rows here never disagree. The one change allowed is matching an
unmatched study to its patient by PatientID."""

from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Patient

from .models import Instance, Series, Study, StudyStableEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MatchedFilter(admin.SimpleListFilter):
    title = _("patient matched")
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        return [("yes", _("Matched")), ("no", _("Unmatched"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(patient__isnull=False)
        if self.value() == "no":
            return queryset.filter(patient__isnull=True)
        return queryset


class SeriesInline(admin.TabularInline):
    model = Series
    fields = (
        "series_number",
        "modality",
        "series_description",
        "body_part_examined",
        "number_of_instances",
        "series_uid",
    )
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Study)
class StudyAdmin(ReadOnlyAdmin):
    list_display = (
        "study_date",
        "patient_name",
        "dicom_patient_id",
        "patient",
        "accession_number",
        "modalities",
        "study_description",
        "number_of_series",
        "number_of_instances",
        "last_received_at",
    )
    list_filter = (MatchedFilter, "study_date", "last_received_at")
    search_fields = (
        "=study_uid",
        "patient_name",
        "dicom_patient_id",
        "accession_number",
        "patient__mrn",
        "patient__name",
        "study_description",
    )
    list_select_related = ("patient",)
    date_hierarchy = "study_date"
    inlines = [SeriesInline]
    actions = ["match_to_patient"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_match_permission(self, request):
        # The form stays read-only; matching needs the change permission on the model.
        return request.user.has_perm("imaging.change_study")

    @admin.action(description=_("Match to patient by PatientID"), permissions=["match"])
    def match_to_patient(self, request, queryset):
        actor = Actor.from_request(request)
        matched = missing = 0
        for study in queryset.filter(patient__isnull=True).exclude(dicom_patient_id=""):
            patient = Patient.objects.filter(mrn=study.dicom_patient_id).first()
            if patient is None:
                missing += 1
                continue
            with transaction.atomic():
                # Claim only a study still unmatched: a concurrent match is not overwritten.
                claimed = Study.objects.filter(pk=study.pk, patient__isnull=True).update(
                    patient=patient
                )
                if not claimed:
                    continue
                audit_record(
                    actor=actor,
                    action=AuditAction.UPDATE,
                    obj=study,
                    patient=patient,
                    details={"matched_by": "PatientID", "dicom_patient_id": study.dicom_patient_id},
                )
            matched += 1
        skipped = queryset.count() - matched - missing
        self.message_user(
            request,
            ngettext("%(count)d study matched.", "%(count)d studies matched.", matched)
            % {"count": matched},
            messages.SUCCESS if matched else messages.INFO,
        )
        if missing:
            self.message_user(
                request,
                ngettext(
                    "%(count)d study has no patient with that medical record number.",
                    "%(count)d studies have no patient with that medical record number.",
                    missing,
                )
                % {"count": missing},
                messages.WARNING,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d study was already matched or has no PatientID.",
                    "%(count)d studies were already matched or have no PatientID.",
                    skipped,
                )
                % {"count": skipped},
                messages.INFO,
            )


@admin.register(Series)
class SeriesAdmin(ReadOnlyAdmin):
    list_display = (
        "series_uid",
        "study",
        "modality",
        "series_number",
        "series_description",
        "body_part_examined",
        "number_of_instances",
        "created_at",
    )
    list_filter = ("modality", "body_part_examined")
    search_fields = (
        "=series_uid",
        "=study__study_uid",
        "series_description",
        "study__dicom_patient_id",
    )
    list_select_related = ("study",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Instance)
class InstanceAdmin(ReadOnlyAdmin):
    list_display = (
        "sop_uid",
        "series",
        "instance_number",
        "sop_class_uid",
        "number_of_frames",
        "rows",
        "columns",
        "transfer_syntax_uid",
        "size",
        "created_at",
    )
    list_filter = ("sop_class_uid", "transfer_syntax_uid")
    search_fields = ("=sop_uid", "=series__series_uid", "=series__study__study_uid", "sha256")
    list_select_related = ("series",)
    # Frame offsets and bulk data ranges can run to thousands of entries; they are for WADO-RS.
    fields = (
        "sop_uid",
        "series",
        "sop_class_uid",
        "instance_number",
        "number_of_frames",
        "rows",
        "columns",
        "transfer_syntax_uid",
        "file",
        "size",
        "sha256",
        "created_at",
        "metadata",
    )
    readonly_fields = fields
    show_full_result_count = False


@admin.register(StudyStableEvent)
class StudyStableEventAdmin(ReadOnlyAdmin):
    list_display = ("fired_at", "study", "revision", "number_of_instances")
    search_fields = ("=study__study_uid",)
    list_select_related = ("study",)
    date_hierarchy = "fired_at"
    readonly_fields = ("study", "revision", "number_of_instances", "fired_at")
