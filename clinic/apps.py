from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = _("Clinic")

    def ready(self) -> None:
        from django.core.checks import Tags, register

        from . import (
            auth_events,  # noqa: F401  (connects the login/logout audit receivers)
            authentication,  # noqa: F401  (API tokens end with the sessions)
            schema,  # noqa: F401  (OpenAPI descriptions of our authentication classes)
        )
        from .phi import deploy_check

        register(deploy_check, Tags.security, deploy=True)
