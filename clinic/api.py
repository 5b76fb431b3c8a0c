"""REST API for patient records. Access rules come from clinic.access; writes from services."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import DomainError

from . import access, selectors, services
from .audit import Actor, audit_record
from .codes import OBSERVATION_CODES
from .models import (
    AllergyIntolerance,
    AuditAction,
    AuditEvent,
    Condition,
    Department,
    Encounter,
    Observation,
    Patient,
    Role,
)
from .phi import blind_index


def _as_drf(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(exc.message_dict)
    return exceptions.ValidationError({"non_field_errors": exc.messages})


class ServiceCallMixin:
    """Runs a service and turns Django's errors into the API's."""

    def call(self, service, **kwargs):
        try:
            return service(actor=Actor.from_request(self.request), **kwargs)
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied from exc


class HasRole(IsAuthenticated):
    roles: tuple = ()

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.role in self.roles


class IsAdminRole(HasRole):
    roles = (Role.ADMIN,)


class IsStaffRole(HasRole):
    roles = (Role.ADMIN, Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.SCHEDULER)


# --- Serializers ------------------------------------------------------------------------------


class DepartmentSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Department
        fields = ["id", "code", "name", "name_en", "display_name", "parent"]


class PatientSerializer(serializers.ModelSerializer):
    age = serializers.IntegerField(read_only=True)

    class Meta:
        model = Patient
        fields = ["id", "mrn", *services.PATIENT_FIELDS, "age", "created_at", "updated_at"]
        read_only_fields = ["id", "mrn", "created_at", "updated_at"]


class EncounterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Encounter
        fields = [
            "id",
            "patient",
            "practitioner",
            *services.ENCOUNTER_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "patient", "practitioner", "created_at", "updated_at"]


class ObservationSerializer(serializers.ModelSerializer):
    code = serializers.ChoiceField(choices=sorted(OBSERVATION_CODES))

    class Meta:
        model = Observation
        fields = [
            "id",
            "patient",
            "encounter",
            "category",
            "code",
            "display",
            "value",
            "unit",
            "effective_at",
            "recorded_at",
        ]
        read_only_fields = ["id", "patient", "category", "display", "unit", "recorded_at"]


class ConditionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Condition
        fields = [
            "id",
            "patient",
            "encounter",
            "icd10_code",
            "text",
            "clinical_status",
            "onset_date",
            "recorded_at",
        ]
        read_only_fields = ["id", "patient", "recorded_at"]


class AllergySerializer(serializers.ModelSerializer):
    class Meta:
        model = AllergyIntolerance
        fields = [
            "id",
            "patient",
            "substance",
            "category",
            "criticality",
            "reaction",
            "recorded_at",
        ]
        read_only_fields = ["id", "patient", "recorded_at"]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "user",
            "username",
            "role",
            "action",
            "object_type",
            "object_id",
            "patient",
            "ip",
            "user_agent",
            "reason",
            "flagged",
            "details",
        ]


# --- Views ------------------------------------------------------------------------------------


class MeView(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        display_name = serializers.CharField()
        role = serializers.CharField()

        class Meta:
            ref_name = "Me"  # a component name of its own in the OpenAPI schema
        department = serializers.IntegerField(source="department_id", allow_null=True)

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        return Response(self.OutputSerializer(request.user).data)


class DepartmentListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = DepartmentSerializer
    queryset = Department.objects.all()
    filterset_fields = ["parent"]


class PatientFilter(filters.FilterSet):
    q = filters.CharFilter(method="search", label="exact MRN, full name, phone or ID-card number")
    # Encrypted at rest: matched whole through their blind indexes (clinic.phi).
    phone = filters.CharFilter(method="by_identifier", label="phone (exact)")
    id_number = filters.CharFilter(method="by_identifier", label="ID-card number (exact)")

    class Meta:
        model = Patient
        fields = ["mrn", "sex"]

    def search(self, queryset, name, value):
        return queryset & selectors.patient_search(user=self.request.user, query=value)

    def by_identifier(self, queryset, name, value):
        digest = blind_index(name, value)
        return queryset.filter(**{f"{name}_index": digest}) if digest else queryset.none()


class PatientListCreateView(ServiceCallMixin, generics.ListCreateAPIView):
    """Patients the user may see; receptionists may search everyone (demographics)."""

    permission_classes = [IsStaffRole]
    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    ordering_fields = ["mrn", "birth_date"]  # names are encrypted: no order to sort by

    def get_queryset(self):
        return access.patients_findable_by(self.request.user).order_by("mrn")

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit_record(
            actor=Actor.from_request(request),
            action=AuditAction.SEARCH,
            details={"query": request.query_params.dict(), "results": response.data["count"]},
        )
        return response

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = self.call(services.patient_create, **serializer.validated_data)
        return Response(self.get_serializer(patient).data, status=status.HTTP_201_CREATED)


class PatientDetailView(ServiceCallMixin, APIView):
    permission_classes = [IsAuthenticated]

    def get_patient(self):
        user = self.request.user
        if user.role == Role.RECEPTIONIST:
            return get_object_or_404(access.patients_findable_by(user), pk=self.kwargs["pk"])
        return access.patient_get_for_user(user=user, patient_id=self.kwargs["pk"])

    @extend_schema(responses=PatientSerializer)
    def get(self, request, pk):
        patient = self.get_patient()
        with transaction.atomic():
            services.patient_read_audit(actor=Actor.from_request(request), patient=patient)
        return Response(PatientSerializer(patient).data)

    @extend_schema(request=PatientSerializer, responses=PatientSerializer)
    def patch(self, request, pk):
        patient = self.get_patient()
        serializer = PatientSerializer(patient, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        patient = self.call(services.patient_update, patient=patient, **serializer.validated_data)
        return Response(PatientSerializer(patient).data)


class PatientChildListCreateView(ServiceCallMixin, generics.ListCreateAPIView):
    """A list under one patient's chart (encounters, observations, ...) and adding to it."""

    permission_classes = [IsAuthenticated]
    related_name: str = ""
    service = None

    def get_patient(self):
        if not hasattr(self, "_patient"):
            self._patient = access.patient_get_for_user(
                user=self.request.user, patient_id=self.kwargs["pk"]
            )
        return self._patient

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.serializer_class.Meta.model.objects.none()
        return getattr(self.get_patient(), self.related_name).all()

    def list(self, request, *args, **kwargs):
        patient = self.get_patient()
        response = super().list(request, *args, **kwargs)
        with transaction.atomic():
            services.patient_read_audit(
                actor=Actor.from_request(request),
                patient=patient,
                obj=patient,
                action=AuditAction.VIEW,
            )
        return response

    def create(self, request, *args, **kwargs):
        patient = self.get_patient()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = self.call(type(self).service, patient=patient, **serializer.validated_data)
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)


class PatientEncountersView(PatientChildListCreateView):
    serializer_class = EncounterSerializer
    related_name = "encounters"
    service = staticmethod(services.encounter_create)
    filterset_fields = ["kind", "department"]


class PatientObservationsView(PatientChildListCreateView):
    serializer_class = ObservationSerializer
    related_name = "observations"
    service = staticmethod(services.observation_create)
    filterset_fields = ["code", "category"]


class PatientConditionsView(PatientChildListCreateView):
    serializer_class = ConditionSerializer
    related_name = "conditions"
    service = staticmethod(services.condition_create)
    filterset_fields = ["clinical_status"]


class PatientAllergiesView(PatientChildListCreateView):
    serializer_class = AllergySerializer
    related_name = "allergies"
    service = staticmethod(services.allergy_create)


class EncounterDetailView(ServiceCallMixin, APIView):
    permission_classes = [IsAuthenticated]

    def get_encounter(self, pk):
        encounter = get_object_or_404(Encounter.objects.select_related("patient"), pk=pk)
        # Same 404 for "no such encounter" and "not yours".
        access.patient_get_for_user(user=self.request.user, patient_id=encounter.patient_id)
        return encounter

    @extend_schema(responses=EncounterSerializer)
    def get(self, request, pk):
        encounter = self.get_encounter(pk)
        with transaction.atomic():
            services.patient_read_audit(
                actor=Actor.from_request(request), patient=encounter.patient, obj=encounter
            )
        return Response(EncounterSerializer(encounter).data)

    @extend_schema(request=EncounterSerializer, responses=EncounterSerializer)
    def patch(self, request, pk):
        encounter = self.get_encounter(pk)
        serializer = EncounterSerializer(encounter, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        encounter = self.call(
            services.encounter_update, encounter=encounter, **serializer.validated_data
        )
        return Response(EncounterSerializer(encounter).data)


class BreakGlassView(ServiceCallMixin, APIView):
    """A doctor's emergency access to a chart without a care relation; audited, flagged."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(allow_blank=True)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        patient = serializers.IntegerField(source="patient_id")
        expires_at = serializers.DateTimeField()

        class Meta:
            ref_name = "BreakGlassGrant"  # a component name of its own in the OpenAPI schema

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request, pk):
        if not access.can_break_glass(user=request.user):
            raise exceptions.NotFound
        patient = selectors.patient_for_break_glass(patient_id=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            grant = services.break_glass_open(
                actor=Actor.from_request(request),
                patient=patient,
                reason=data.validated_data["reason"],
            )
        except DjangoValidationError as exc:
            raise DomainError("break_glass_reason_required", details=exc.message_dict) from exc
        return Response(self.OutputSerializer(grant).data, status=status.HTTP_201_CREATED)


class PatientAccessLogView(generics.ListAPIView):
    """Who accessed this patient's record: admins and the patient themself."""

    permission_classes = [IsAuthenticated]
    serializer_class = AuditEventSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        patient = access.patient_get_for_user(user=self.request.user, patient_id=self.kwargs["pk"])
        if not access.can_read_access_log(user=self.request.user, patient=patient):
            raise exceptions.PermissionDenied
        services.patient_read_audit(
            actor=Actor.from_request(self.request), patient=patient, action=AuditAction.EXPORT
        )
        return selectors.patient_access_log(patient=patient)


class AuditEventFilter(filters.FilterSet):
    at_after = filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    at_before = filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["user", "username", "action", "patient", "flagged", "object_type"]


@extend_schema(parameters=[OpenApiParameter("action", str)])
class AuditEventListView(generics.ListAPIView):
    """The audit trail, for administrators and inspectors."""

    permission_classes = [IsAdminRole]
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    queryset = AuditEvent.objects.all()
