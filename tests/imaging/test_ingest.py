"""The ingest service's guarantees that no client can observe directly."""

import io
import os

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from clinic.audit import Actor
from imaging import services
from imaging.models import Instance, Study
from imaging.services import IngestSession

from .instances import dataset, to_bytes

pytestmark = pytest.mark.django_db


def instance_bytes() -> bytes:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def pixel_data_cut_short() -> bytes:
    """An instance whose file ends 1000 bytes before the end of its pixel data (CT_small has a
    trailing padding element after the pixels; without it the pixels come last)."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ds[0xFFFCFFFC]
    ds.StudyInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()[:-1000]


def files_under(path) -> list[str]:
    return [os.path.join(d, f) for d, _, names in os.walk(path) for f in names]


def test_a_crash_while_indexing_leaves_no_file_and_no_row(dicom_storage_dir, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(services, "_count_arrivals", crash)  # after the row's insert
    with pytest.raises(RuntimeError), IngestSession(actor=Actor(user=None), source="test") as s:
        s.ingest(instance_bytes())
    assert not Instance.objects.exists()
    assert not Study.objects.exists()
    assert files_under(dicom_storage_dir) == []


@pytest.mark.parametrize(
    "data,code",
    [
        (b"plain text, not DICOM at all", "not_dicom"),
        # Cut inside the pixel data, wherever the random-length UIDs put it.
        (pixel_data_cut_short(), "truncated"),
    ],
)
def test_bad_input_is_a_failure_with_a_reason_and_stores_nothing(dicom_storage_dir, data, code):
    with IngestSession(actor=Actor(user=None), source="test") as session:
        result = session.ingest(data)
    assert (result.status, result.code) == ("failed", code)
    assert not Instance.objects.exists()
    assert files_under(dicom_storage_dir) == []


def test_a_dataset_without_a_sop_instance_uid_is_refused(dicom_storage_dir):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ds.SOPInstanceUID
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=False)
    with IngestSession(actor=Actor(user=None), source="test") as session:
        result = session.ingest(buffer.getvalue())
    assert result.status == "failed"
    assert result.code == "missing_uid"


def test_a_stow_request_over_the_limit_is_413(client_as, owner, settings):
    settings.DICOMWEB_MAX_UPLOAD_BYTES = 1000
    body = b"--b\r\nContent-Type: application/dicom\r\n\r\n" + instance_bytes() + b"\r\n--b--\r\n"
    response = client_as(owner).post(
        "/dicomweb/studies",
        data=body,
        content_type='multipart/related; type="application/dicom"; boundary=b',
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not Instance.objects.exists()


def test_a_session_looks_a_study_and_its_series_up_once(dicom_storage_dir, patient):
    """The instances of a study arrive together: after the first, each costs its insert and
    the two counter updates, not another study and series lookup or stability claim."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    study_uid, series_uid = generate_uid(), generate_uid()

    def one(number):
        return to_bytes(
            dataset(patient_id=patient.mrn, study_uid=study_uid, series_uid=series_uid,
                    number=number)
        )

    with IngestSession(actor=Actor(user=None), source="test") as session:
        assert session.ingest(one(1)).status == "stored"
        with CaptureQueriesContext(connection) as later:
            for number in range(2, 6):
                assert session.ingest(one(number)).status == "stored"
    statements = [q["sql"].split()[0].upper() for q in later.captured_queries]
    assert statements.count("SELECT") == 0
    assert statements.count("INSERT") == 4
    assert statements.count("UPDATE") == 8  # series and study counters
    study = Study.objects.get(study_uid=study_uid)
    assert study.number_of_instances == 5 and study.series.get().number_of_instances == 5


def test_a_session_carries_on_when_its_study_is_deleted_meanwhile(dicom_storage_dir, patient):
    """An association stays open while an administrator deletes the study it is sending to:
    the next instance makes the study again instead of failing."""
    study_uid = generate_uid()

    series_uid = generate_uid()

    def one():
        return to_bytes(dataset(patient_id=patient.mrn, study_uid=study_uid, series_uid=series_uid))

    with IngestSession(actor=Actor(user=None), source="test") as session:
        assert session.ingest(one()).status == "stored"
        Study.objects.filter(study_uid=study_uid).delete()
        again = session.ingest(one())
    assert again.status == "stored", again
    assert Study.objects.get(study_uid=study_uid).number_of_instances == 1


def test_a_new_series_for_a_study_deleted_meanwhile_makes_the_study_again(
    dicom_storage_dir, patient
):
    study_uid = generate_uid()
    with IngestSession(actor=Actor(user=None), source="test") as session:
        first = dataset(patient_id=patient.mrn, study_uid=study_uid)
        first.Modality = "CT"
        assert session.ingest(to_bytes(first)).status == "stored"
        Study.objects.filter(study_uid=study_uid).delete()
        second = dataset(patient_id=patient.mrn, study_uid=study_uid)  # another series
        second.Modality = "MR"
        again = session.ingest(to_bytes(second))
    assert again.status == "stored", again
    study = Study.objects.get(study_uid=study_uid)
    assert study.number_of_instances == 1 and study.modalities == "MR"


def series_payloads(patient, count: int, study_uid: str | None = None) -> list[bytes]:
    study_uid, series_uid = study_uid or generate_uid(), generate_uid()
    return [
        to_bytes(dataset(patient_id=patient.mrn, study_uid=study_uid, series_uid=series_uid,
                         number=n))
        for n in range(1, count + 1)
    ]


def stored_files(path) -> list[str]:
    return [f for f in files_under(path) if "/.incoming" not in f]


def test_a_batch_commits_once_and_reports_each_instance(dicom_storage_dir, patient, monkeypatch):
    """STOW's many instances: each is judged on its own, the index commits once per batch."""
    monkeypatch.setattr(services, "BATCH_SIZE", 4)
    payloads = series_payloads(patient, 5)
    payloads.insert(2, b"not DICOM")
    payloads.append(payloads[0])  # sent twice: a duplicate, not a failure
    with IngestSession(actor=Actor(user=None), source="test") as session:
        results = session.ingest_many(payloads)
    assert [r.status for r in results] == [
        "stored", "stored", "failed", "stored", "stored", "stored", "duplicate"
    ]
    assert results[2].code == "not_dicom"
    study = Study.objects.get(study_uid=results[0].study_uid)
    assert study.number_of_instances == 5 == Instance.objects.count()
    assert sorted(stored_files(dicom_storage_dir)) == sorted(
        str(dicom_storage_dir / name) for name in Instance.objects.values_list("file", flat=True)
    )


def test_a_batch_whose_transaction_fails_is_stored_one_by_one(
    dicom_storage_dir, patient, monkeypatch
):
    """A deadlock with a concurrent batch rolls the whole batch back: its files go, and the
    instances are stored again one at a time; nothing is lost or stored twice."""
    from django.db import OperationalError

    real_batch, batches = services._index_batch, []

    def deadlock(prepared, **kwargs):
        batches.append(len(prepared))
        real_batch(prepared, **kwargs)  # rows inserted, counters bumped, then:
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(services, "_index_batch", deadlock)
    payloads = series_payloads(patient, 4)
    with IngestSession(actor=Actor(user=None), source="test") as session:
        results = session.ingest_many(payloads)
    assert batches == [4]
    assert [r.status for r in results] == ["stored"] * 4
    study = Study.objects.get(study_uid=results[0].study_uid)
    assert study.number_of_instances == 4 == Instance.objects.count()
    assert study.series.get().number_of_instances == 4
    assert len(stored_files(dicom_storage_dir)) == 4


def test_a_crash_in_a_batch_leaves_nothing_of_it(dicom_storage_dir, patient, monkeypatch):
    real_batch = services._index_batch

    def crash(prepared, **kwargs):
        real_batch(prepared, **kwargs)
        raise RuntimeError("power cut")

    monkeypatch.setattr(services, "_index_batch", crash)
    with pytest.raises(RuntimeError), IngestSession(actor=Actor(user=None), source="t") as s:
        s.ingest_many(series_payloads(patient, 4))
    assert not Instance.objects.exists()
    assert not Study.objects.exists()
    assert stored_files(dicom_storage_dir) == []


def test_a_batch_into_a_stored_series_adds_to_its_counts(dicom_storage_dir, patient):
    """A second request into the same study: counts add up, a new series adds its modality,
    a resent instance with other bytes is a conflict and keeps the original file."""
    study_uid = generate_uid()
    first = series_payloads(patient, 3, study_uid=study_uid)
    with IngestSession(actor=Actor(user=None), source="test") as session:
        assert [r.status for r in session.ingest_many(first)] == ["stored"] * 3
    mr_series_uid = generate_uid()
    second_series = [
        dataset(patient_id=patient.mrn, study_uid=study_uid, series_uid=mr_series_uid, number=n)
        for n in (1, 2)
    ]
    for ds in second_series:
        ds.Modality = "MR"
    changed = pydicom.dcmread(io.BytesIO(first[0]))
    changed.SeriesDescription = "edited elsewhere"
    with IngestSession(actor=Actor(user=None), source="test") as session:
        results = session.ingest_many([*map(to_bytes, second_series), to_bytes(changed)])
    assert [r.status for r in results] == ["stored", "stored", "conflict"]
    assert results[2].code == "sop_instance_conflict"
    study = Study.objects.get(study_uid=study_uid)
    assert (study.number_of_instances, study.number_of_series) == (5, 2)
    assert set(study.modalities.split("\\")) == {"CT", "MR"}
    assert sorted(study.series.values_list("number_of_instances", flat=True)) == [2, 3]
    assert len(stored_files(dicom_storage_dir)) == 5

