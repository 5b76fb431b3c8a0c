"""C-STORE into the store through a real association: pynetdicom's SCU and dcmtk's storescu."""

import os
import shutil
import socket
import subprocess
import time

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from clinic.models import AuditAction, AuditEvent
from imaging import scp
from imaging.models import Instance
from imaging.storage import dicom_storage

pytestmark = pytest.mark.django_db(transaction=True)

FILES = [
    "CT_small.dcm",
    "MR_small_bigendian.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_RLE.dcm",
    "rtdose.dcm",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    port = free_port()
    running = scp.start(ae_title="AIMASS", port=port, block=False)
    yield port
    running.shutdown()


def fresh(name: str, tmp_path, study_uid=None) -> tuple[pydicom.Dataset, str]:
    ds = pydicom.dcmread(get_testdata_file(name))
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return ds, str(path)


def send(port, datasets) -> list[int]:
    ae = AE(ae_title="MODALITY")
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="AIMASS")
    assert assoc.is_established
    statuses = [assoc.send_c_store(ds).Status for ds in datasets]
    assoc.release()
    return statuses


def stored_equals(ds: pydicom.Dataset) -> bool:
    instance = Instance.objects.get(sop_uid=ds.SOPInstanceUID)
    stored = pydicom.dcmread(dicom_storage().path(instance.file))
    return stored.SOPInstanceUID == ds.SOPInstanceUID and stored.PixelData == ds.PixelData


def test_c_echo_succeeds(server):
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", server, ae_title="AIMASS")
    assert assoc.send_c_echo().Status == 0
    assoc.release()


def test_every_kind_of_file_is_stored_as_sent(server, tmp_path):
    datasets = [fresh(name, tmp_path)[0] for name in FILES]
    assert send(server, datasets) == [0] * len(FILES)
    assert all(stored_equals(ds) for ds in datasets)


def test_a_resent_instance_is_accepted_once_and_a_conflict_refused(server, tmp_path):
    ds, _ = fresh("CT_small.dcm", tmp_path)
    assert send(server, [ds, ds]) == [0, 0]
    changed = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    changed.StudyInstanceUID, changed.SOPInstanceUID = ds.StudyInstanceUID, ds.SOPInstanceUID
    changed.PatientName = "Other^Person"
    (status,) = send(server, [changed])
    assert status == scp.CANNOT_UNDERSTAND
    assert Instance.objects.filter(sop_uid=ds.SOPInstanceUID).count() == 1
    assert stored_equals(ds)


def test_one_audit_row_per_study_per_association(server, tmp_path):
    study_uid = generate_uid()
    datasets = [fresh("CT_small.dcm", tmp_path, study_uid)[0] for _ in range(3)]
    send(server, datasets)
    events = AuditEvent.objects.filter(action=AuditAction.CREATE, object_type="study")
    deadline = time.monotonic() + 10  # the SCP writes it when it sees the release
    while not events.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events.count() == 1
    assert events.get().details == {"source": events.get().username, "instances": 3}
    assert events.get().username.startswith("c-store:MODALITY@")


def test_dcmtk_storescu_stores_a_folder(server, tmp_path):
    if not shutil.which("storescu"):
        if os.environ.get("AIMASS_REQUIRE_DCMTK") == "1":
            pytest.fail("dcmtk's storescu is required (apt-get install dcmtk); .ci/run installs it")
        pytest.skip("dcmtk is not installed (apt-get install dcmtk)")
    folder = tmp_path / "send"
    folder.mkdir()
    plain = [fresh(name, folder)[0] for name in ("CT_small.dcm", "rtdose.dcm")]
    rle, rle_path = fresh("MR_small_RLE.dcm", tmp_path)
    jpeg, jpeg_path = fresh("SC_rgb_jpeg_dcmtk.dcm", tmp_path)
    # storescu proposes one compressed syntax per run: -xr RLE, -xy JPEG baseline.
    for options, target in (([], str(folder)), (["-xr"], rle_path), (["-xy"], jpeg_path)):
        result = subprocess.run(
            [
                "storescu",
                "-aet",
                "STORESCU",
                "-aec",
                "AIMASS",
                "+sd",
                "+r",
                *options,
                "127.0.0.1",
                str(server),
                target,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
    assert all(stored_equals(ds) for ds in [*plain, rle, jpeg])
