"""The model service's API, mounted at /api/v1/ai/."""

from django.urls import path

from . import api

urlpatterns = [
    path("models/", api.ModelListCreateView.as_view(), name="api-ai-models"),
    path("models/<slug:name>/", api.ModelDetailView.as_view(), name="api-ai-model"),
    path(
        "models/<slug:name>/versions/<str:version>/bundle",
        api.BundleDownloadView.as_view(),
        name="api-ai-model-bundle",
    ),
    path(
        "models/<slug:name>/versions/<str:version>/activate",
        api.VersionActivateView.as_view(),
        name="api-ai-model-activate",
    ),
    path(
        "models/<slug:name>/rollback", api.ModelRollbackView.as_view(), name="api-ai-model-rollback"
    ),
    path(
        "studies/<str:study_uid>/inference",
        api.StudyInferenceView.as_view(),
        name="api-ai-study-inference",
    ),
    path("jobs/<int:pk>/", api.JobDetailView.as_view(), name="api-ai-job"),
    path("jobs/<int:pk>/log", api.JobLogView.as_view(), name="api-ai-job-log"),
    path("jobs/<int:pk>/cancel", api.JobCancelView.as_view(), name="api-ai-job-cancel"),
    path("errors/", api.JobErrorCatalogueView.as_view(), name="api-ai-errors"),
]
