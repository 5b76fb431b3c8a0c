import pytest


def test_healthz_answers_while_the_process_serves(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.django_db
def test_readyz_reports_database_and_broker(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body == {"ready": True, "checks": {"database": "ok", "broker": "ok"}, "failed": []}


@pytest.mark.django_db
def test_readyz_names_an_unreachable_broker(client, monkeypatch):
    from config.celery import app

    # Nothing listens on port 1: the check must fail and say which dependency is down.
    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.conf, "broker_write_url", None)
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["failed"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error:")
