from django.urls import path

from . import views

app_name = "imaging"

urlpatterns = [
    path("studies/", views.study_list, name="study_list"),
    path("studies/upload/", views.study_upload, name="study_upload"),
    path("studies/upload/file/", views.study_upload_file, name="study_upload_file"),
    path("studies/<int:pk>/", views.study_detail, name="study_detail"),
]
