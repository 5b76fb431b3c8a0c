"""The Celery app. Workers consume the queues ``gpu`` (inference), ``default`` (ingest
post-processing, notifications, imports) and ``scheduling`` (optimisers)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("aimass")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "gpu", "scheduling")]
app.autodiscover_tasks()


@app.task(name="config.ping")
def ping() -> dict:
    """Round trip through broker, worker and database; used by tests and operators."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {"pong": True, "database": one == 1, "pid": os.getpid()}
