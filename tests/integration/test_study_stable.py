"""The "study stable" event fires once per change of a study, from a real worker."""

import io
import time

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from clinic.audit import Actor
from imaging.models import StudyStableEvent
from imaging.services import IngestSession

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def instance_bytes(study_uid: str) -> bytes:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SOPInstanceUID = study_uid, generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def wait_for_events(study_uid: str, count: int, timeout: float = 20.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = list(StudyStableEvent.objects.filter(study__study_uid=study_uid)
                      .order_by("revision"))
        if len(events) >= count:
            return events
        time.sleep(0.2)
    return list(StudyStableEvent.objects.filter(study__study_uid=study_uid))


def ingest(study_uid: str, n: int) -> None:
    with IngestSession(actor=Actor(user=None), source="test") as session:
        for _ in range(n):
            assert session.ingest(instance_bytes(study_uid)).ok


def test_the_event_fires_once_per_change_after_the_study_goes_quiet(
    celery_worker_process, settings, tmp_path
):
    settings.STABLE_SECONDS = 1
    study_uid = generate_uid()
    ingest(study_uid, 3)
    time.sleep(0.5)
    ingest(study_uid, 2)  # still arriving: no event yet for the first three

    (first,) = wait_for_events(study_uid, 1)
    assert (first.revision, first.number_of_instances) == (5, 5)
    time.sleep(2.5)
    assert StudyStableEvent.objects.filter(study__study_uid=study_uid).count() == 1

    ingest(study_uid, 1)  # a late instance is a new change: one more event
    events = wait_for_events(study_uid, 2)
    assert [e.revision for e in events] == [5, 6]
    time.sleep(2.5)
    assert StudyStableEvent.objects.filter(study__study_uid=study_uid).count() == 2
