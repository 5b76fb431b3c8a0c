"""The review's pages and the viewer's JSON, under the imaging namespace."""

from django.urls import path

from . import views

urlpatterns = [
    path("studies/<int:pk>/viewer/", views.study_viewer, name="study_viewer"),
    path("studies/<int:pk>/viewer/data.json", views.viewer_data, name="viewer_data"),
    path("findings/<int:pk>/mask.json", views.finding_mask, name="finding_mask"),
    path("findings/<int:pk>/review/", views.finding_review_view, name="finding_review"),
    path("studies/<int:pk>/findings/", views.finding_add_view, name="finding_add"),
    path("studies/<int:pk>/sign/", views.study_sign_view, name="study_sign"),
    path("studies/<int:pk>/report/", views.study_report, name="study_report"),
    path("studies/<int:pk>/reopen/", views.study_reopen_view, name="study_reopen"),
]
