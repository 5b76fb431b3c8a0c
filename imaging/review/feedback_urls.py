"""The feedback loop's pages, under the imaging namespace: a model version's reader feedback and
its labelled dataset."""

from django.urls import path

from . import feedback_views

urlpatterns = [
    path(
        "ai/models/<slug:name>/versions/<int:pk>/feedback/",
        feedback_views.model_version_feedback,
        name="model_version_feedback",
    ),
    path(
        "ai/models/<slug:name>/versions/<int:pk>/feedback/dataset.zip",
        feedback_views.model_version_dataset,
        name="model_version_dataset",
    ),
]
