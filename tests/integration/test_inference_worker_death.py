"""A worker killed in the middle of a job: the task goes back to the queue (acks_late,
visibility timeout), another worker runs the job again, and its results exist exactly once.

This test runs its own workers on a Redis database of its own (Redis is on every machine that
runs the suite), so the session's shared worker never sees its task.
"""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest
import redis
from celery import Celery

from clinic.audit import Actor
from imaging.models import Finding, InferenceJob, JobStatus, Series
from imaging.registry import model_version_import
from imaging.services import IngestSession
from tests.ai_core.builders import ct_series, sphere_hu, threshold_bundle
from tests.factories import PatientFactory
from tests.worker import ROOT, _database_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BROKER = os.environ.get("AIMASS_TEST_KILL_BROKER", "redis://127.0.0.1:6379/11")


def _start_worker(name: str, media_root: Path, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_RESULT_BACKEND": BROKER,
        # A task taken by a dead worker is handed out again after 2 s.
        "CELERY_VISIBILITY_TIMEOUT": "2",
        "MEDIA_ROOT": str(media_root),
        "MODEL_CACHE_DIR": str(media_root / "model-cache"),
        "INFERENCE_ON_STABLE": "false",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
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
            "gpu",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
            "--hostname",
            f"{name}-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _slow_bundle(root: Path) -> Path:
    """The threshold bundle with a preprocessing step that takes six seconds."""
    threshold_bundle(root)
    config = json.loads((root / "configs" / "inference.json").read_text())
    config["imports"].append("$import time")
    config["preprocessing"]["transforms"].insert(
        1, {"_target_": "Lambdad", "keys": "image", "func": "$lambda x: time.sleep(6) or x"}
    )
    (root / "configs" / "inference.json").write_text(json.dumps(config))
    return root


def test_a_job_whose_worker_dies_completes_exactly_once_on_another(tmp_path, settings):
    redis.Redis.from_url(BROKER).flushdb()
    media_root = tmp_path / "media"
    storages = dict(settings.STORAGES)
    storages["dicom"] = {**storages["dicom"], "OPTIONS": {"location": str(media_root / "dicom")}}
    storages["models"] = {**storages["models"], "OPTIONS": {"location": str(media_root / "models")}}
    settings.STORAGES = storages
    settings.INFERENCE_ON_STABLE = False

    version = model_version_import(
        source=_slow_bundle(tmp_path / "slow-finder"), actor=Actor.system(None), activate=True
    )
    patient = PatientFactory()
    hu, _ = sphere_hu(
        (12, 24, 24),
        spacing=(2, 1, 1),
        origin=(0, 0, 0),
        row_cosine=(1, 0, 0),
        column_cosine=(0, 1, 0),
        centre_lps=(12, 12, 12),
        radius_mm=5,
    )
    datasets = ct_series(hu, spacing=(2, 1, 1), origin=(0, 0, 0), patient_id=patient.mrn)
    with IngestSession(actor=Actor(user=None), source="test") as session:
        for ds in datasets:
            buffer = io.BytesIO()
            pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
            assert session.ingest(buffer.getvalue()).ok
    series = Series.objects.get(series_uid=datasets[0].SeriesInstanceUID)
    job = InferenceJob.objects.create(
        model_version=version,
        study=series.study,
        series=series,
        series_instances=series.number_of_instances,
    )
    # Not the current app: the tests after this one send tasks to the shared worker's broker.
    sender = Celery(broker=BROKER, backend=BROKER, set_as_current=False)

    first = _start_worker("doomed", media_root, tmp_path / "doomed.log")
    second = None
    try:
        sender.send_task("imaging.ai.inference_job_run", args=[job.pk], queue="gpu")
        _wait(
            lambda: InferenceJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists(),
            90,
            "the first worker to start the job",
        )
        time.sleep(1.0)  # well inside the six-second step
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        job.refresh_from_db()
        assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
        assert not Finding.objects.filter(job=job).exists()

        second = _start_worker("rescuer", media_root, tmp_path / "rescuer.log")
        _wait(
            lambda: InferenceJob.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).exists(),
            120,
            "the job to finish on the second worker: " + (tmp_path / "rescuer.log").name,
        )
        job.refresh_from_db()
        assert job.attempts == 2, job.log
        assert "rescuer" in job.worker

        # A late redelivery of the finished job's task does nothing.
        sender.send_task("imaging.ai.inference_job_run", args=[job.pk], queue="gpu")
        time.sleep(3)
        job.refresh_from_db()
        assert job.attempts == 2
        assert Finding.objects.filter(job=job).count() == 1
        assert Series.objects.filter(study=series.study, modality="SEG").count() == 1
        assert Series.objects.filter(study=series.study, modality="SR").count() == 1
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
