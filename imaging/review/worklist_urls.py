"""The doctor's AI worklist and its live update, under the imaging namespace."""

from django.urls import path

from . import worklist_views

urlpatterns = [
    path("worklist/", worklist_views.worklist, name="worklist"),
    path("worklist/status.json", worklist_views.worklist_status, name="worklist_status"),
]
