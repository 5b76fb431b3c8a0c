"""The Celery app. Workers consume the queues ``gpu`` (inference), ``default`` (ingest
post-processing, notifications, imports) and ``scheduling`` (optimisers)."""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("aimass")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue its own direct exchange and routing key: a Queue declared without them would take
# Celery's defaults ("default"/"default") and a task sent to one queue could land in all three.
app.conf.task_queues = [
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in ("default", "gpu", "scheduling")
]
app.autodiscover_tasks()


@app.task(name="config.ping")
def ping() -> dict:
    """Round trip through broker, worker and database; used by tests and operators."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {"pong": True, "database": one == 1, "pid": os.getpid()}
