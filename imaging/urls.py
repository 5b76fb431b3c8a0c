from django.urls import include, path

from . import model_views, views

app_name = "imaging"

urlpatterns = [
    path("studies/", views.study_list, name="study_list"),
    path("studies/upload/", views.study_upload, name="study_upload"),
    path("studies/upload/file/", views.study_upload_file, name="study_upload_file"),
    path("studies/<int:pk>/", views.study_detail, name="study_detail"),
    path("studies/<int:pk>/export.zip", views.study_export_view, name="study_export"),
    path(
        "studies/<int:pk>/inference/", model_views.study_inference_run, name="study_inference_run"
    ),
    path(
        "studies/<int:pk>/inference/status/",
        model_views.study_inference_status,
        name="study_inference_status",
    ),
    path(
        "findings/<int:pk>/overlay/<str:sop_uid>.png",
        model_views.finding_overlay,
        name="finding_overlay",
    ),
    path("", include("imaging.review.urls")),
    path("", include("imaging.review.feedback_urls")),
    path("", include("imaging.review.worklist_urls")),
    path("ai/models/", model_views.model_list, name="model_list"),
    path("ai/models/<slug:name>/", model_views.model_card, name="model_card"),
    path(
        "ai/models/<slug:name>/versions/<int:pk>/activate/",
        model_views.model_version_activate_view,
        name="model_version_activate",
    ),
    path("ai/models/<slug:name>/rollback/", model_views.model_rollback_view, name="model_rollback"),
]
