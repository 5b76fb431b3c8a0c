from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from appointments.urls import booking_patterns
from clinic import views as clinic_views

from . import api, health

urlpatterns = [
    path("", clinic_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-step/", include("clinic.mfa_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/ai/", include("imaging.api_urls")),
    path("api/v1/", include("clinic.api_urls")),
    path("api/v1/errors/", api.ErrorCatalogueView.as_view(), name="api-errors"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up code as a script of its own (?script), not
    # inline, so the docs run under the Content-Security-Policy's script-src 'self'.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("dicomweb/", include("imaging.dicomweb.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("b/", include(booking_patterns)),
    path("appointments/", include("appointments.urls")),
    path("rosters/", include("appointments.roster_urls")),
    path("", include("imaging.urls")),
    path("", include("clinic.urls")),
]

handler404 = "config.api.handler404"
handler500 = "config.api.handler500"
