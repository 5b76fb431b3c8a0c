from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = _("Imaging")

    def ready(self) -> None:
        from .inference import on_study_stable
        from .stability import study_stable

        # A stable study is routed to its models (imaging.inference).
        study_stable.connect(on_study_stable, dispatch_uid="imaging.inference.on_study_stable")
