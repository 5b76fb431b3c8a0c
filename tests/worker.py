"""A real Celery worker process for integration tests, on the test database and the broker.

On CI the broker is Redis (``REDIS_URL``); locally the embedded SQLite broker under var/.
The worker consumes every queue with one solo process, like a small deployment.
"""

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = quote(db.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate a test's server or worker process; kill it if it does not stop in time."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """Start ``celery worker`` against the test database; stop it when the session ends.

    The worker keeps its files (DICOM, model bundles) under ``proc.media_root``; a test whose
    worker reads files points its own storages there with the ``worker_storage`` fixture."""
    from config.celery import app

    media_root = tmp_path_factory.mktemp("worker-media")

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "PYTHONUNBUFFERED": "1",
        # Study-stability tests wait this long; they set the same in the test process.
        "STABLE_SECONDS": "1",
        # Roster solves in integration tests are short.
        "ROSTER_TIME_LIMIT_SECONDS": "4",
        "ROSTER_SLICE_SECONDS": "2",
        "MEDIA_ROOT": str(media_root),
        "MODEL_CACHE_DIR": str(media_root / "model-cache"),
    }
    log_path = Path(settings.VAR_DIR) / f"test-worker-{os.getpid()}.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "-Q",
            "default,gpu,scheduling",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"test-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited: {log_path.read_text()[-3000:]}")
            try:
                with django_db_blocker.unblock():
                    result = app.send_task("config.ping").get(timeout=5)
                if result.get("pong"):
                    break
            except Exception as exc:  # noqa: BLE001 - still starting
                if time.monotonic() > deadline:
                    log_tail = log_path.read_text()[-3000:]
                    raise RuntimeError(f"worker did not answer: {log_tail}") from exc
        proc.media_root = media_root
        yield proc
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def worker_storage(celery_worker_process, settings):
    """This test's storages are the worker's: what the test stores, the worker reads."""
    import copy

    media_root = celery_worker_process.media_root
    storages = copy.deepcopy(settings.STORAGES)
    storages["dicom"]["OPTIONS"]["location"] = str(media_root / "dicom")
    storages["models"]["OPTIONS"]["location"] = str(media_root / "models")
    settings.MEDIA_ROOT = str(media_root)
    settings.MODEL_CACHE_DIR = media_root / "model-cache"
    settings.STORAGES = storages
    return media_root
