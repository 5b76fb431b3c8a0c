import pytest

from config.celery import app

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_task_round_trips_through_broker_worker_and_database(celery_worker_process):
    result = app.send_task("config.ping").get(timeout=30)

    assert result["pong"] is True
    assert result["database"] is True
    assert result["pid"] == celery_worker_process.pid


@pytest.mark.parametrize("queue", ["default", "gpu", "scheduling"])
def test_the_worker_consumes_every_queue(celery_worker_process, queue):
    result = app.send_task("config.ping", queue=queue).get(timeout=30)

    assert result["pid"] == celery_worker_process.pid
