from django.urls import path

from . import consent_views, views

app_name = "clinic"

urlpatterns = [
    path("patients/", views.patient_search, name="patient_search"),
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/import/", views.patient_import, name="patient_import"),
    path("patients/import/<int:pk>/", views.patient_import_detail, name="patient_import_detail"),
    path("patients/<int:pk>/", views.patient_chart, name="patient_chart"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="patient_edit"),
    path("patients/<int:pk>/encounters/new/", views.encounter_create, name="encounter_create"),
    path(
        "patients/<int:pk>/encounters/<int:encounter_id>/edit/",
        views.encounter_edit,
        name="encounter_edit",
    ),
    path(
        "patients/<int:pk>/observations/new/", views.observation_create, name="observation_create"
    ),
    path("patients/<int:pk>/conditions/new/", views.condition_create, name="condition_create"),
    path("patients/<int:pk>/allergies/new/", views.allergy_create, name="allergy_create"),
    path("patients/<int:pk>/break-glass/", views.break_glass, name="break_glass"),
    path("patients/<int:pk>/access-log/", views.patient_access_log, name="patient_access_log"),
    path("patients/<int:pk>/consent/", consent_views.patient_consent, name="patient_consent"),
    path("me/privacy/", consent_views.my_privacy, name="my_privacy"),
    path("me/privacy/export.json", consent_views.my_privacy_export, name="my_privacy_export"),
    path("audit/", views.audit_search, name="audit_search"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path("staff/", views.staff_directory, name="staff_directory"),
]
