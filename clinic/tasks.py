"""Celery tasks of the clinic app: thin wrappers that take ids and call a service.

They run on the ``default`` queue (``CELERY_TASK_DEFAULT_QUEUE``; no route sends them elsewhere).
"""

from celery import shared_task
from django.conf import settings
from django.utils import translation

from . import imports


@shared_task(
    name="clinic.tasks.patient_import_run", bind=True, acks_late=True,
    soft_time_limit=10 * 60, time_limit=11 * 60,
)
def patient_import_run(self, import_id: int, language: str | None = None) -> None:
    """Run a queued patient CSV import; see ``imports.patient_import_run``.

    ``language`` is the submitter's, so the report's messages read in the language of the page
    that asked for it. A redelivered message (its worker died) may take over a "running" import.
    """
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    with translation.override(language or settings.LANGUAGE_CODE):
        imports.patient_import_run(import_id=import_id, redelivered=redelivered)
