"""The model service's REST API (``/api/v1/ai/``): the model registry, running inference on a
study, following its jobs, and the inference error codes.

Who may do what: staff roles read the registry, administrators change it; doctors and
administrators run and cancel inference on studies they may see (imaging.access); clinical staff
follow the jobs of those studies. The services write and audit; reads of a study's AI results are
audited here, once per user session per study, so a client polling a job writes one row, not one
per poll.
"""

import json

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponseNotModified
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic import access as clinic_access
from clinic.api import HasRole, IsAdminRole, IsStaffRole
from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Role
from config.api import DomainError

from . import access, selectors
from .ai.bundle import BundleError
from .inference import JOB_ERRORS, inference_request, job_cancel
from .models import AIModel, InferenceJob, JobStatus, ModelVersion, Study
from .registry import (
    model_rollback,
    model_storage,
    model_version_activate,
    model_version_import_upload,
)

# Registry errors that are about the registry's state, not the request: answered 409.
CONFLICT_CODES = {"version_exists", "no_previous_version"}
READ_AUDIT_SECONDS = 8 * 3600


# --- Permissions ------------------------------------------------------------------------------


class StaffReadsAdminWrites(IsAuthenticated):
    """Staff roles read; only administrators write."""

    def has_permission(self, request, view):
        roles = IsStaffRole.roles if request.method in SAFE_METHODS else IsAdminRole.roles
        return super().has_permission(request, view) and request.user.role in roles


class IsClinicalRole(HasRole):
    """Roles that see studies and their AI results (which studies: imaging.access)."""

    roles = (Role.ADMIN, Role.DOCTOR, Role.NURSE)


class CanRequestInference(HasRole):
    roles = (Role.ADMIN, Role.DOCTOR)


# --- Renderers for the non-JSON answers -------------------------------------------------------


class _PassThroughRenderer(BaseRenderer):
    """Bodies built by the view itself; an error body (a dict) is still written as JSON."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | str):
            return data
        return json.dumps(data, ensure_ascii=False).encode()


class ZipRenderer(_PassThroughRenderer):
    media_type = "application/zip"
    format = "zip"
    charset = None
    render_style = "binary"


class PlainTextRenderer(_PassThroughRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"


# --- Helpers ----------------------------------------------------------------------------------


def _bundle_error(exc: BundleError, *, field: str) -> DomainError:
    code = "conflict" if exc.code in CONFLICT_CODES else "validation_error"
    return DomainError(
        code, exc.message, details={field: [{"code": exc.code, "message": exc.message}]}
    )


def _version_get(name: str, version: str) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.select_related("model"), model__name=name, version=version
    )


def _job_for_user(user, pk: int) -> InferenceJob:
    """The job, if ``user`` may see its study; otherwise Http404 (same as "no such job")."""
    job = (
        InferenceJob.objects.select_related("model_version__model", "series", "study__patient")
        .filter(pk=pk, study__in=access.studies_visible_to(user))
        .first()
    )
    if job is None:
        raise Http404
    return job


def audit_inference_read(request, study: Study) -> None:
    """One audit row per study per user session (or per API credential) for reading the study's
    AI results, as DICOMweb's ``audit_retrieve`` does for images."""
    session = getattr(request, "session", None)
    session_key = session.session_key if session is not None and session.session_key else "api"
    key = f"audit:ai:{request.user.pk}:{session_key}:{study.pk}"
    if not cache.add(key, 1, timeout=READ_AUDIT_SECONDS):
        return
    try:
        # A read through emergency access is flagged, as clinic's patient_read_audit does.
        grant = (
            clinic_access.break_glass_active(user=request.user, patient=study.patient)
            if study.patient is not None
            else None
        )
        with transaction.atomic():
            audit_record(
                actor=Actor.from_request(request),
                action=AuditAction.VIEW,
                obj=study,
                patient=study.patient,
                flagged=grant is not None,
                reason=f"break-glass #{grant.pk}: {grant.reason}" if grant else "",
                details={"via": "api", "what": "inference"},
            )
    except BaseException:
        cache.delete(key)  # not recorded: the next read tries again
        raise


def job_detail(job: InferenceJob) -> dict:
    """The contract's job summary plus how far the job is."""
    return {
        **selectors.job_summary(job),
        "state": job.status,
        "study": job.study.study_uid,
        "trigger": job.trigger,
        "progress": job.progress,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "seconds_forward": job.seconds_forward,
        "seconds_total": job.seconds_total,
    }


# --- Serializers ------------------------------------------------------------------------------


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class JobFindingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    score = serializers.FloatField(allow_null=True)
    kind = serializers.CharField()
    volume_mm3 = serializers.FloatField(allow_null=True)
    diameter_mm = serializers.FloatField(allow_null=True)
    urgent = serializers.BooleanField()
    status = serializers.CharField()
    segment_number = serializers.IntegerField(allow_null=True)
    instances = serializers.JSONField()


class InferenceJobSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    status = serializers.CharField(
        help_text='"succeeded", "failed" (also skipped and cancelled), or "queued"/"running".'
    )
    state = serializers.ChoiceField(choices=JobStatus.choices, help_text="The job's own status.")
    error = JobErrorSerializer(allow_null=True)
    model = serializers.CharField()
    version = serializers.CharField()
    study = serializers.CharField()
    series = serializers.CharField(allow_null=True)
    trigger = serializers.CharField()
    progress = serializers.IntegerField(help_text="Percent.")
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    seconds_forward = serializers.FloatField(allow_null=True)
    seconds_total = serializers.FloatField(allow_null=True)
    findings = JobFindingSerializer(many=True)


class ModelVersionSerializer(serializers.Serializer):
    name = serializers.CharField(source="model.name")
    version = serializers.CharField()
    kind = serializers.CharField()
    labels = serializers.JSONField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    imported_at = serializers.DateTimeField()
    is_active = serializers.BooleanField()
    activated_at = serializers.DateTimeField(allow_null=True)
    not_for_clinical_use = serializers.BooleanField()
    intended_use = serializers.CharField(source="metadata.intended_use", allow_null=True)
    description = serializers.CharField(source="metadata.description", allow_null=True)
    eval_metrics = serializers.JSONField(source="metadata.eval_metrics", allow_null=True)
    bundle_url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_bundle_url(self, version: ModelVersion) -> str:
        return reverse(
            "api-ai-model-bundle", kwargs={"name": version.model.name, "version": version.version}
        )


class AIModelSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    active_version = serializers.SerializerMethodField()
    versions = serializers.IntegerField(source="versions_count")

    @extend_schema_field(OpenApiTypes.STR)
    def get_active_version(self, model: AIModel) -> str | None:
        # From the prefetched versions: no query per model.
        return next((v.version for v in model.versions.all() if v.is_active), None)


# --- Views: the registry ----------------------------------------------------------------------


class ModelListCreateView(generics.ListAPIView):
    """Registered models (staff); importing a bundle as a new version (administrators)."""

    permission_classes = [StaffReadsAdminWrites]
    serializer_class = AIModelSummarySerializer
    ordering_fields = ["name", "created_at"]

    @extend_schema_serializer(component_name="AIModelImport")
    class InputSerializer(serializers.Serializer):
        bundle = serializers.FileField(help_text="The MONAI Bundle as a zip.")
        activate = serializers.BooleanField(default=False)
        name = serializers.SlugField(
            required=False,
            allow_blank=True,
            max_length=64,
            help_text="Registry name; default: the bundle's x_aimass.model_name or folder name.",
        )

    def get_queryset(self):
        return selectors.model_list().annotate(versions_count=Count("versions"))

    @extend_schema(
        request={"multipart/form-data": InputSerializer},
        responses={
            201: ModelVersionSerializer,
            400: OpenApiResponse(description="validation_error: the bundle is refused"),
            409: OpenApiResponse(description="conflict: this version is already registered"),
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = model_version_import_upload(
                upload=data.validated_data["bundle"],
                actor=Actor.from_request(request),
                activate=data.validated_data["activate"],
                name=data.validated_data.get("name") or None,
            )
        except BundleError as exc:
            raise _bundle_error(exc, field="bundle") from exc
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class ModelDetailView(APIView):
    permission_classes = [IsStaffRole]

    @extend_schema_serializer(component_name="AIModelDetail")
    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        title = serializers.CharField()
        description = serializers.CharField()
        created_at = serializers.DateTimeField()
        versions = ModelVersionSerializer(many=True, source="versions.all")

    @extend_schema(responses=OutputSerializer)
    def get(self, request, name):
        model = get_object_or_404(selectors.model_list(), name=name)
        return Response(self.OutputSerializer(model).data)


class BundleDownloadView(APIView):
    """The version's bundle as stored (a zip); its ETag is the zip's sha256."""

    permission_classes = [IsStaffRole]
    renderer_classes = [JSONRenderer, ZipRenderer]

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request, name, version):
        stored = _version_get(name, version)
        etag = f'"{stored.sha256}"'
        if request.headers.get("If-None-Match") == etag:
            return HttpResponseNotModified(headers={"ETag": etag})
        try:
            bundle = model_storage().open(stored.bundle_file, "rb")
        except FileNotFoundError as exc:
            raise DomainError("not_found", "The stored bundle file is missing.") from exc
        response = FileResponse(
            bundle,
            as_attachment=True,
            filename=f"{stored.model.name}-{stored.version}.zip",
            content_type="application/zip",
        )
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response


class VersionActivateView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema_serializer(component_name="AIVersionActivate")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses=ModelVersionSerializer)
    def post(self, request, name, version):
        stored = _version_get(name, version)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activated = model_version_activate(
            version=stored, actor=Actor.from_request(request), reason=data.validated_data["reason"]
        )
        return Response(ModelVersionSerializer(activated).data)


class ModelRollbackView(APIView):
    """Re-activate the version that was active before the current one."""

    permission_classes = [IsAdminRole]

    @extend_schema_serializer(component_name="AIModelRollback")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer,
        responses={
            200: ModelVersionSerializer,
            409: OpenApiResponse(description="conflict: no earlier version to roll back to"),
        },
    )
    def post(self, request, name):
        model = get_object_or_404(AIModel, name=name)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = model_rollback(
                model=model, actor=Actor.from_request(request), reason=data.validated_data["reason"]
            )
        except BundleError as exc:
            raise _bundle_error(exc, field="model") from exc
        return Response(ModelVersionSerializer(version).data)


# --- Views: inference -------------------------------------------------------------------------


class StudyInferenceView(APIView):
    """Queue the active version of a model (or of every model routed to the study) on the
    study's series. Without a worker the jobs stay queued; follow them at ``jobs/<id>/``."""

    permission_classes = [CanRequestInference]

    @extend_schema_serializer(component_name="AIInferenceRequest")
    class InputSerializer(serializers.Serializer):
        model = serializers.SlugField(
            required=False,
            allow_blank=True,
            max_length=64,
            help_text="A registered model's name; default: the models the routing rules pick.",
        )

    @extend_schema(request=InputSerializer, responses={202: InferenceJobSerializer(many=True)})
    def post(self, request, study_uid):
        study = access.study_get_for_user(user=request.user, study_uid=study_uid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = None
        if name := data.validated_data.get("model"):
            model = AIModel.objects.filter(name=name).first()
            if model is None:
                raise serializers.ValidationError({"model": [f"No model is registered as {name}."]})
            if model.active_version is None:
                raise DomainError(
                    "conflict",
                    f"{name} has no active version.",
                    details={"model": [f"{name} has no active version."]},
                )
        jobs = inference_request(
            study=study, actor=Actor.from_request(request), model=model, trigger="api"
        )
        return Response(
            InferenceJobSerializer([job_detail(job) for job in jobs], many=True).data,
            status=status.HTTP_202_ACCEPTED,
        )


class JobDetailView(APIView):
    permission_classes = [IsClinicalRole]

    @extend_schema(responses=InferenceJobSerializer)
    def get(self, request, pk):
        job = _job_for_user(request.user, pk)
        audit_inference_read(request, job.study)
        return Response(InferenceJobSerializer(job_detail(job)).data)


class JobLogView(APIView):
    """The job's log: JSON, or the bare text with ``Accept: text/plain``."""

    permission_classes = [IsClinicalRole]
    renderer_classes = [JSONRenderer, PlainTextRenderer]

    @extend_schema_serializer(component_name="AIJobLog")
    class OutputSerializer(serializers.Serializer):
        job = serializers.IntegerField(source="pk")
        state = serializers.CharField(source="status")
        progress = serializers.IntegerField()
        log = serializers.CharField()

    @extend_schema(
        responses={
            (200, "application/json"): OutputSerializer,
            (200, "text/plain"): OpenApiTypes.STR,
        }
    )
    def get(self, request, pk):
        job = _job_for_user(request.user, pk)
        audit_inference_read(request, job.study)
        if isinstance(request.accepted_renderer, PlainTextRenderer):
            return Response(job.log)
        return Response(self.OutputSerializer(job).data)


class JobCancelView(APIView):
    """Cancel a queued or running job; a finished one answers 409."""

    permission_classes = [CanRequestInference]

    @extend_schema(
        request=None,
        responses={
            200: InferenceJobSerializer,
            409: OpenApiResponse(description="conflict: the job has already finished"),
        },
    )
    def post(self, request, pk):
        job = _job_for_user(request.user, pk)
        if not job_cancel(job=job, actor=Actor.from_request(request)):
            raise DomainError(
                "conflict",
                f"Job {job.pk} has already finished ({job.status}).",
                details={"state": job.status},
            )
        return Response(InferenceJobSerializer(job_detail(job)).data)


class JobErrorCatalogueView(APIView):
    """The codes an inference job or a bundle import can end with, and what each means."""

    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="AIJobError")
    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        description = serializers.CharField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        data = [{"code": code, "description": str(text)} for code, text in JOB_ERRORS.items()]
        return Response(self.OutputSerializer(data, many=True).data)
