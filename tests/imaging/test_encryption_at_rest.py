"""DICOM files encrypted at rest: the file format on its own (round trips at every offset,
tampering, truncation, reordering, unknown keys), then the store switched on — nothing
readable on disk, while DICOMweb still serves byte-identical instances, frames, bulk data
ranges and renderings — and key rotation / switching off with ``rotate_dicom_keys``."""

import copy
import io
import os

import pydicom
import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from clinic.models import AuditEvent
from imaging.encryption import (
    HEADER_SIZE,
    MAGIC,
    SEGMENT,
    TAG,
    DecryptingReader,
    DecryptionError,
    KeyRing,
    MasterKey,
    ciphertext_size,
    encrypt_stream,
)
from imaging.models import Instance
from imaging.storage import dicom_storage

from ..conftest import api_session
from .instances import dataset, to_bytes

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def sealed(data: bytes, key: str = OLD) -> io.BytesIO:
    out = io.BytesIO()
    assert encrypt_stream(io.BytesIO(data), out, MasterKey(key)) == len(data)
    return out


def reader(ciphertext: bytes, keys=(OLD,), tmp_path=None) -> DecryptingReader:
    path = tmp_path / "file.enc"
    path.write_bytes(ciphertext)
    return DecryptingReader(open(path, "rb"), KeyRing(keys))


# --- The format ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 5, 4 * SEGMENT]
)
def test_any_range_reads_back_exactly(tmp_path, size):
    plain = os.urandom(size)
    ciphertext = sealed(plain).getvalue()
    assert len(ciphertext) == ciphertext_size(size)
    assert ciphertext.startswith(MAGIC)
    f = reader(ciphertext, tmp_path=tmp_path)
    assert f.size == size
    assert f.readall() == plain
    for offset, length in [(0, 10), (SEGMENT - 3, 7), (size // 2, SEGMENT + 9), (size - 1, 5)]:
        offset = max(0, min(offset, size))
        f.seek(offset)
        assert f.read(length) == plain[offset : offset + length]
    if size >= 3:
        f.seek(-3, io.SEEK_END)
        assert f.read() == plain[-3:]
    with pytest.raises(ValueError):
        f.seek(-1)


def test_the_plaintext_does_not_appear_in_the_file():
    plain = b"PatientName=Zhang^Wei " * 5000
    assert b"Zhang^Wei" not in sealed(plain).getvalue()


def test_two_encryptions_of_the_same_file_differ():
    # A fresh salt (so a fresh file key) and nonce prefix per file.
    assert sealed(b"same bytes").getvalue() != sealed(b"same bytes").getvalue()


def test_a_changed_byte_fails_the_integrity_check(tmp_path):
    plain = os.urandom(2 * SEGMENT + 100)
    ciphertext = bytearray(sealed(plain).getvalue())
    ciphertext[HEADER_SIZE + SEGMENT + TAG + 7] ^= 1  # inside the second segment
    f = reader(bytes(ciphertext), tmp_path=tmp_path)
    assert f.read(100) == plain[:100]  # the first segment is untouched and still reads
    f.seek(SEGMENT + 5)
    with pytest.raises(DecryptionError, match="integrity"):
        f.read(10)


def test_a_changed_header_fails(tmp_path):
    ciphertext = bytearray(sealed(b"x" * 1000).getvalue())
    ciphertext[HEADER_SIZE - 2] ^= 1  # the nonce prefix
    with pytest.raises(DecryptionError):
        reader(bytes(ciphertext), tmp_path=tmp_path).read(1)


def test_cutting_whole_segments_off_the_end_is_detected(tmp_path):
    plain = os.urandom(3 * SEGMENT)
    ciphertext = sealed(plain).getvalue()
    shortened = ciphertext[: HEADER_SIZE + 2 * (SEGMENT + TAG)]
    f = reader(shortened, tmp_path=tmp_path)
    f.seek(SEGMENT)
    with pytest.raises(DecryptionError):
        f.read(SEGMENT)  # the new last segment was not sealed as the last


def test_swapped_segments_are_detected(tmp_path):
    ciphertext = sealed(os.urandom(3 * SEGMENT)).getvalue()
    body = ciphertext[HEADER_SIZE:]
    one, two = body[: SEGMENT + TAG], body[SEGMENT + TAG : 2 * (SEGMENT + TAG)]
    swapped = ciphertext[:HEADER_SIZE] + two + one + body[2 * (SEGMENT + TAG) :]
    with pytest.raises(DecryptionError):
        reader(swapped, tmp_path=tmp_path).read(10)


def test_a_key_that_is_not_configured_is_named_in_the_error(tmp_path):
    ciphertext = sealed(b"data", key=OLD).getvalue()
    with pytest.raises(DecryptionError, match="DICOM_ENCRYPTION_KEYS"):
        reader(ciphertext, keys=(NEW,), tmp_path=tmp_path)
    # With the old key kept after the new one (rotation), it reads.
    assert reader(ciphertext, keys=(NEW, OLD), tmp_path=tmp_path).readall() == b"data"


@pytest.mark.parametrize("bad", ["not base64 !!", Fernet.generate_key().decode()[:20]])
def test_a_malformed_key_is_refused_clearly(bad):
    with pytest.raises(ValueError, match="DICOM encryption key"):
        MasterKey(bad)


# --- The store, switched on -----------------------------------------------------------------------



@pytest.fixture
def encrypted_store(settings, dicom_storage_dir):
    storages = copy.deepcopy(settings.STORAGES)
    storages["dicom"]["BACKEND"] = "imaging.storage.EncryptedFileSystemStorage"
    settings.DICOM_ENCRYPTION_KEYS = [OLD]
    settings.STORAGES = storages
    assert dicom_storage().encrypts
    return dicom_storage_dir


def stored_paths(directory) -> list[str]:
    return [
        os.path.join(d, name)
        for d, _, names in os.walk(directory)
        for name in names
        if not name.startswith(".")
    ]


def ct(patient_id: str) -> pydicom.Dataset:
    ds = dataset(patient_id=patient_id)
    ds.PatientName = "Zhang^Wei"
    return ds


def ingest_one(owner, patient, data: bytes | None = None) -> bytes:
    """Store one CT instance through the ingest service; returns its Part 10 bytes."""
    from clinic.audit import Actor
    from imaging.services import IngestSession

    data = data if data is not None else to_bytes(ct(patient.mrn))
    with IngestSession(actor=Actor(user=owner), source="test") as session:
        session.ingest(data)
    return data


@pytest.fixture
def dicomweb(live_server):
    from dicomweb_client.api import DICOMwebClient

    return lambda user: DICOMwebClient(
        url=f"{live_server.url}/dicomweb", session=api_session(user)
    )


@pytest.mark.django_db(transaction=True)
def test_stored_files_are_ciphertext_and_dicomweb_serves_them_unchanged(
    encrypted_store, dicomweb, live_server, owner, patient
):
    original = ct(patient.mrn)
    client = dicomweb(owner)
    client.store_instances([original])

    (path,) = stored_paths(encrypted_store)
    on_disk = open(path, "rb").read()
    assert on_disk.startswith(MAGIC)
    assert b"Zhang^Wei" not in on_disk and b"DICM" not in on_disk
    assert not os.path.exists("/dev/shm/aimass-incoming") or not os.listdir(
        "/dev/shm/aimass-incoming"
    )  # the plaintext waited in memory and is gone

    uids = (original.StudyInstanceUID, original.SeriesInstanceUID, original.SOPInstanceUID)
    retrieved = client.retrieve_instance(*uids)
    assert retrieved.PixelData == original.PixelData
    assert retrieved.PatientName == "Zhang^Wei"
    (frame,) = client.retrieve_instance_frames(*uids, frame_numbers=[1])
    assert frame == original.PixelData

    base = f"{live_server.url}/dicomweb/studies/{uids[0]}/series/{uids[1]}/instances/{uids[2]}"
    session = api_session(owner)
    ranged = session.get(f"{base}/bulkdata/7FE00010", headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == original.PixelData[100:200]
    rendered = session.get(f"{base}/rendered", headers={"Accept": "image/png"})
    assert rendered.status_code == 200 and rendered.content.startswith(b"\x89PNG")
    transcoded = session.get(
        f"{base}/frames/1",
        headers={"Accept": 'multipart/related; type="application/octet-stream"; '
                 "transfer-syntax=1.2.840.10008.1.2.1"},
    )
    assert transcoded.status_code == 200 and original.PixelData in transcoded.content


@pytest.mark.django_db
def test_a_tampered_file_is_an_error_not_wrong_pixels(encrypted_store, owner, patient):
    ingest_one(owner, patient)
    (path,) = stored_paths(encrypted_store)
    data = bytearray(open(path, "rb").read())
    data[-20] ^= 0xFF
    open(path, "wb").write(bytes(data))
    instance = Instance.objects.get()
    with pytest.raises(DecryptionError):
        with dicom_storage().open(instance.file, "rb") as f:
            f.read()


@pytest.mark.django_db
def test_rotation_encrypts_old_files_rewraps_with_the_new_key_and_decrypts(
    settings, dicom_storage_dir, owner, patient
):
    plain_bytes = ingest_one(owner, patient)  # stored before encryption was switched on
    (path,) = stored_paths(dicom_storage_dir)
    assert open(path, "rb").read() == plain_bytes

    storages = copy.deepcopy(settings.STORAGES)
    storages["dicom"]["BACKEND"] = "imaging.storage.EncryptedFileSystemStorage"
    settings.DICOM_ENCRYPTION_KEYS = [OLD]
    settings.STORAGES = storages
    instance = Instance.objects.get()
    with dicom_storage().open(instance.file, "rb") as f:
        assert f.read() == plain_bytes  # a plain file still reads before the command runs

    call_command("rotate_dicom_keys", stdout=io.StringIO())
    first = open(path, "rb").read()
    assert first.startswith(MAGIC) and first[8:16] == MasterKey(OLD).key_id

    settings.DICOM_ENCRYPTION_KEYS = [NEW, OLD]
    settings.STORAGES = copy.deepcopy(storages)
    out = io.StringIO()
    call_command("rotate_dicom_keys", stdout=out)
    assert "rewritten 1" in out.getvalue()
    assert open(path, "rb").read()[8:16] == MasterKey(NEW).key_id
    settings.DICOM_ENCRYPTION_KEYS = [NEW]  # the old key can go now
    settings.STORAGES = copy.deepcopy(storages)
    with dicom_storage().open(instance.file, "rb") as f:
        assert f.read() == plain_bytes

    call_command("rotate_dicom_keys", "--decrypt", stdout=io.StringIO())
    assert open(path, "rb").read() == plain_bytes
    events = AuditEvent.objects.filter(username="manage.py rotate_dicom_keys")
    assert {e.details["event"] for e in events} == {"dicom_keys_rotated", "dicom_decrypted"}


@pytest.mark.django_db
def test_rotation_reports_damaged_files_and_leaves_them(encrypted_store, owner, patient):
    ingest_one(owner, patient)
    (path,) = stored_paths(encrypted_store)
    data = bytearray(open(path, "rb").read())
    data[HEADER_SIZE + 3] ^= 1
    open(path, "wb").write(bytes(data))
    err = io.StringIO()
    with pytest.raises(CommandError, match="damaged"):
        call_command("rotate_dicom_keys", "--decrypt", stdout=io.StringIO(), stderr=err)
    assert "damaged" in err.getvalue()
    assert open(path, "rb").read() == bytes(data)


@pytest.mark.django_db
def test_rotation_without_keys_says_so(dicom_storage_dir):
    with pytest.raises(CommandError, match="DICOM_ENCRYPTION_KEYS"):
        call_command("rotate_dicom_keys")
