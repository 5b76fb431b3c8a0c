"""The DICOM index, read-only: instances enter only through ingest (STOW-RS, C-STORE, upload),
so that files on disk and rows here never disagree. The one change allowed is matching an
unmatched study to its patient by PatientID.

The model service: models come from imported bundles ("Import bundle"), versions are activated
and rolled back through the registry's services (audited), routing rules are edited on the
model's page; jobs and findings are read-only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Patient

from .ai.bundle import BundleError
from .inference import job_cancel
from .models import (
    AIModel,
    Finding,
    InferenceJob,
    Instance,
    JobStatus,
    ModelVersion,
    RoutingRule,
    Series,
    Study,
    StudyStableEvent,
)
from .registry import model_rollback, model_version_activate, model_version_import_upload


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


class ReadOnlyInline(admin.TabularInline):
    """Rows shown for reference, linked to their own page; never added or edited inline."""

    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SeriesInline(ReadOnlyInline):
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


# --- The model service ------------------------------------------------------------------------


def _bundle_error_text(exc: BundleError) -> str:
    return _("%(message)s (code: %(code)s)") % {"message": exc.message, "code": exc.code}


class BundleImportForm(forms.Form):
    bundle = forms.FileField(
        label=_("Bundle (zip)"),
        help_text=_(
            "A MONAI Bundle zipped: configs/metadata.json, configs/inference.json and "
            "models/model.ts or model.pt. It is checked completely, a forward pass included."
        ),
    )
    name = forms.SlugField(
        label=_("Registry name"),
        max_length=64,
        required=False,
        help_text=_("Default: the bundle's x_aimass.model_name, else its folder's name."),
    )
    activate = forms.BooleanField(
        label=_("Make it the active version"),
        required=False,
    )


class RoutingRuleInline(admin.TabularInline):
    model = RoutingRule
    fields = ("enabled", "modality", "body_part", "series_description_pattern", "min_slices")
    extra = 0


class ModelVersionInline(ReadOnlyInline):
    model = ModelVersion
    fields = (
        "version",
        "is_active",
        "activated_at",
        "kind",
        "not_for_clinical_use",
        "imported_at",
        "sha256",
    )
    readonly_fields = fields


@admin.register(AIModel)
class AIModelAdmin(admin.ModelAdmin):
    """Title, description and routing rules are edited here; versions come from bundles."""

    list_display = ("name", "title", "active_version_display", "versions_count", "created_at")
    search_fields = ("name", "title")
    fields = ("name", "title", "description", "created_at")
    readonly_fields = ("name", "created_at")
    inlines = [RoutingRuleInline, ModelVersionInline]
    actions = ["roll_back"]

    change_list_template = "admin/imaging/aimodel/change_list.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(versions_total=Count("versions"))
            .prefetch_related("versions")
        )

    @admin.display(description=_("active version"))
    def active_version_display(self, obj):
        return next((v.version for v in obj.versions.all() if v.is_active), "—")

    @admin.display(description=_("versions"), ordering="versions_total")
    def versions_count(self, obj):
        return obj.versions_total

    def has_add_permission(self, request):
        return False  # a model is registered by importing its bundle

    def has_delete_permission(self, request, obj=None):
        return False  # the registry keeps every version and the jobs that ran them

    def has_import_permission(self, request):
        return request.user.has_perm("imaging.add_modelversion")

    def has_roll_back_permission(self, request):
        return request.user.has_perm("imaging.change_modelversion")

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="imaging_aimodel_import",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "has_import_permission": self.has_import_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        """Upload a bundle zip and register it through the registry (audited)."""

        if not self.has_import_permission(request):
            raise PermissionDenied
        form = BundleImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                version = model_version_import_upload(
                    upload=form.cleaned_data["bundle"],
                    actor=Actor.from_request(request),
                    activate=form.cleaned_data["activate"],
                    name=form.cleaned_data["name"] or None,
                )
            except BundleError as exc:
                form.add_error("bundle", _bundle_error_text(exc))
            else:
                self.message_user(
                    request,
                    _("Imported %(model)s version %(version)s.")
                    % {"model": version.model.name, "version": version.version},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:imaging_aimodel_change", args=[version.model_id]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import a model bundle"),
            "form": form,
        }
        return TemplateResponse(request, "admin/imaging/aimodel/import_bundle.html", context)

    @admin.action(
        description=_("Roll back to the previously active version"), permissions=["roll_back"]
    )
    def roll_back(self, request, queryset):
        actor = Actor.from_request(request)
        for model in queryset:
            try:
                version = model_rollback(model=model, actor=actor, reason="admin rollback")
            except BundleError as exc:
                self.message_user(request, _bundle_error_text(exc), messages.WARNING)
                continue
            self.message_user(
                request,
                _("%(model)s: version %(version)s is active again.")
                % {"model": model.name, "version": version.version},
                messages.SUCCESS,
            )


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = (
        "model",
        "version",
        "is_active",
        "activated_at",
        "kind",
        "not_for_clinical_use",
        "imported_at",
        "imported_by",
        "size",
    )
    list_filter = ("is_active", "model", "kind", "not_for_clinical_use")
    search_fields = ("model__name", "version", "sha256")
    list_select_related = ("model", "imported_by")
    actions = ["activate_selected"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_activate_permission(self, request):
        # The form stays read-only; activation needs the change permission on the model.
        return request.user.has_perm("imaging.change_modelversion")

    @admin.action(description=_("Activate selected version"), permissions=["activate"])
    def activate_selected(self, request, queryset):
        chosen: dict[int, list[ModelVersion]] = {}
        for version in queryset.select_related("model"):
            chosen.setdefault(version.model_id, []).append(version)
        actor = Actor.from_request(request)
        for versions in chosen.values():
            if len(versions) > 1:
                self.message_user(
                    request,
                    _("%(model)s: choose one version to activate, not %(count)d.")
                    % {"model": versions[0].model.name, "count": len(versions)},
                    messages.ERROR,
                )
                continue
            version = model_version_activate(
                version=versions[0], actor=actor, reason="activated in the admin"
            )
            self.message_user(
                request,
                _("%(model)s: version %(version)s is active.")
                % {"model": version.model.name, "version": version.version},
                messages.SUCCESS,
            )


@admin.register(InferenceJob)
class InferenceJobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "status",
        "model_version",
        "study",
        "series",
        "progress",
        "trigger",
        "attempts",
        "error_code",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "model_version__model", "trigger", "error_code")
    search_fields = ("=study__study_uid", "=series__series_uid", "error_code")
    list_select_related = ("model_version__model", "study", "series")
    date_hierarchy = "created_at"
    exclude = ("log",)
    actions = ["cancel_selected"]

    def get_readonly_fields(self, request, obj=None):
        return [*(f.name for f in self.model._meta.fields if f.name != "log"), "log_text"]

    @admin.display(description=_("log"))
    def log_text(self, obj):
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.log or "—")

    def has_cancel_permission(self, request):
        return request.user.has_perm("imaging.change_inferencejob")

    @admin.action(description=_("Cancel selected jobs"), permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        actor = Actor.from_request(request)
        cancelled = sum(
            job_cancel(job=job, actor=actor)
            for job in queryset.filter(
                status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
            ).select_related("study")
        )
        self.message_user(
            request,
            ngettext("%(count)d job cancelled.", "%(count)d jobs cancelled.", cancelled)
            % {"count": cancelled},
            messages.SUCCESS if cancelled else messages.INFO,
        )


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "label",
        "kind",
        "score",
        "diameter_mm",
        "volume_mm3",
        "urgent",
        "status",
        "model_version",
        "study",
        "job",
    )
    list_filter = ("status", "urgent", "kind", "model_version__model")
    search_fields = ("=study__study_uid", "label")
    list_select_related = ("model_version__model", "study", "job")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
