import os
import socket

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import stability


@shared_task(
    name="imaging.tasks.study_stability_check",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=60,
    time_limit=90,
)
def study_stability_check(study_id: int) -> None:
    stability.study_stability_check(study_id=study_id)


# Routed to queue "gpu" by name (CELERY_TASK_ROUTES: imaging.ai.*). acks_late with
# reject_on_worker_lost: a worker that dies mid-job gives the task back to the queue, and the
# job runs again from the start on another worker; a finished job ignores a redelivery.
@shared_task(
    name="imaging.ai.inference_job_run",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError, ConnectionError),
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=max(settings.INFERENCE_TIME_LIMIT_SECONDS - 30, 30),
    time_limit=settings.INFERENCE_TIME_LIMIT_SECONDS,
)
def inference_job_run(self, job_id: int) -> str:
    from .inference import job_run

    worker = f"{self.request.hostname or socket.gethostname()} pid {os.getpid()}"
    return job_run(job_id=job_id, worker=worker)
