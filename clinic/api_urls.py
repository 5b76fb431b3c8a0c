from django.urls import path

from . import api, api_token

urlpatterns = [
    path("auth/token/", api_token.ObtainTokenView.as_view(), name="api-token"),
    path("me/", api.MeView.as_view(), name="api-me"),
    path("departments/", api.DepartmentListView.as_view(), name="api-departments"),
    path("patients/", api.PatientListCreateView.as_view(), name="api-patients"),
    path("patients/<int:pk>/", api.PatientDetailView.as_view(), name="api-patient"),
    path(
        "patients/<int:pk>/encounters/",
        api.PatientEncountersView.as_view(),
        name="api-patient-encounters",
    ),
    path(
        "patients/<int:pk>/observations/",
        api.PatientObservationsView.as_view(),
        name="api-patient-observations",
    ),
    path(
        "patients/<int:pk>/conditions/",
        api.PatientConditionsView.as_view(),
        name="api-patient-conditions",
    ),
    path(
        "patients/<int:pk>/allergies/",
        api.PatientAllergiesView.as_view(),
        name="api-patient-allergies",
    ),
    path(
        "patients/<int:pk>/break-glass/",
        api.BreakGlassView.as_view(),
        name="api-patient-break-glass",
    ),
    path(
        "patients/<int:pk>/access-log/",
        api.PatientAccessLogView.as_view(),
        name="api-patient-access-log",
    ),
    path("encounters/<int:pk>/", api.EncounterDetailView.as_view(), name="api-encounter"),
    path("audit-events/", api.AuditEventListView.as_view(), name="api-audit-events"),
]
