"""Two-step sign-in pages, under /accounts/two-step/ (clinic.mfa_views)."""

from django.urls import path

from . import mfa_views

app_name = "mfa"

urlpatterns = [
    path("", mfa_views.manage, name="manage"),
    path("verify/", mfa_views.verify, name="verify"),
    path("setup/", mfa_views.enrol, name="enrol"),
    path("recovery-codes/", mfa_views.recovery_codes_regenerate, name="recovery_codes"),
]
