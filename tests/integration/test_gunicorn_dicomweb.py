"""DICOMweb through the production stack: gunicorn serving ``config.wsgi`` (with the WSGI frames
fast path in front of Django), dicomweb-client as the client, the test database underneath."""

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from django.conf import settings
from pydicom.uid import generate_uid

from clinic.models import AuditAction, AuditEvent
from imaging.models import Instance

from ..conftest import api_session
from ..imaging.instances import dataset
from ..worker import ROOT, _database_url, stop

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn_url(tmp_path):
    """gunicorn on a free port, one worker (so the second request meets the first's memories)."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        # Its own cache keys: an audit key left in Redis by an earlier run (same user and study
        # ids in a fresh test database) would otherwise stand for this run's audit row.
        "CACHE_KEY_PREFIX": f"test-gunicorn-{uuid.uuid4().hex}",
    }
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--worker-class", "gthread", "--threads", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {log_path.read_text()[-3000:]}")
            try:
                requests.get(f"{url}/healthz", timeout=2)
                break
            except requests.ConnectionError as exc:
                if time.monotonic() > deadline:
                    tail = log_path.read_text()[-3000:]
                    raise RuntimeError(f"gunicorn did not start: {tail}") from exc
                time.sleep(0.2)
        yield url
    finally:
        stop(proc)


def test_frames_through_gunicorn_are_the_stored_bytes_audited_once_and_refused_to_outsiders(
    gunicorn_url, owner, outsider, patient
):
    client = DICOMwebClient(f"{gunicorn_url}/dicomweb", session=api_session(owner))
    study_uid, series_uid = generate_uid(), generate_uid()
    made = [
        dataset(patient_id=patient.mrn, study_uid=study_uid, series_uid=series_uid, number=n)
        for n in range(1, 5)
    ]
    client.store_instances(made)
    assert Instance.objects.filter(series__series_uid=series_uid).count() == 4

    frame_url = (
        f"{gunicorn_url}/dicomweb/studies/{study_uid}/series/{series_uid}/instances/"
        f"{made[0].SOPInstanceUID}/frames/1"
    )
    accept = {"Accept": 'multipart/related; type="application/octet-stream"'}
    first = api_session(owner).get(frame_url, headers=accept)
    assert first.status_code == 200
    for ds in made:
        (frame,) = client.retrieve_instance_frames(
            study_uid, series_uid, ds.SOPInstanceUID, frame_numbers=[1]
        )
        assert frame == ds.PixelData
    again = api_session(owner).get(frame_url, headers=accept)
    assert again.status_code == 200 and again.content == first.content.replace(
        first.headers["Content-Type"].rsplit("=", 1)[1].encode(),
        again.headers["Content-Type"].rsplit("=", 1)[1].encode(),
    )
    # Django's (DRF's) answer carries Allow; the fast path's does not: it answered the second.
    assert first.headers.get("Allow") == "GET, HEAD, OPTIONS"
    assert "Allow" not in again.headers
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert AuditEvent.objects.filter(action=AuditAction.VIEW, user=owner).count() == 1

    refused = api_session(outsider).get(
        f"{gunicorn_url}/dicomweb/studies/{study_uid}/series/{series_uid}/instances/"
        f"{made[1].SOPInstanceUID}/frames/1",
        headers=accept,
    )
    assert refused.status_code == 404
