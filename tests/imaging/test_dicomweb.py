"""Black-box DICOMweb tests: dicomweb-client (the client hospitals' scripts use) against a live
server — STOW-RS, QIDO-RS and WADO-RS round trips, byte for byte."""

import copy
import io

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.encaps import generate_frames
from pydicom.uid import generate_uid

from clinic.models import AuditAction, AuditEvent
from imaging.models import Instance, Study

from ..conftest import api_session
from .instances import dataset, to_bytes

pytestmark = pytest.mark.django_db(transaction=True)

KINDS = {
    "native CT": "CT_small.dcm",
    "big endian": "MR_small_bigendian.dcm",
    "implicit VR": "MR_small_implicit.dcm",
    "JPEG baseline": "SC_rgb_jpeg_dcmtk.dcm",
    "JPEG-LS": "MR_small_jpeg_ls_lossless.dcm",
    "JPEG 2000": "MR_small_jp2klossless.dcm",
    "RLE": "MR_small_RLE.dcm",
    "multi-frame RLE": "SC_rgb_rle_2frame.dcm",
    "multi-frame native": "rtdose.dcm",
    "odd size": "SC_rgb_small_odd.dcm",
}


def frames_of(ds: pydicom.Dataset) -> list[bytes]:
    count = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        return list(generate_frames(ds.PixelData, number_of_frames=count))
    size = len(ds.PixelData) // count
    return [ds.PixelData[i * size:(i + 1) * size] for i in range(count)]


@pytest.fixture
def dicomweb(live_server):
    def client_for(user) -> DICOMwebClient:
        return DICOMwebClient(url=f"{live_server.url}/dicomweb", session=api_session(user))

    return client_for


@pytest.mark.parametrize("kind", list(KINDS))
def test_stow_qido_wado_round_trip_byte_for_byte(dicomweb, owner, patient, kind):
    original = dataset(KINDS[kind], patient_id=patient.mrn)
    client = dicomweb(owner)

    response = client.store_instances([original])
    assert response.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == original.SOPInstanceUID

    studies = client.search_for_studies(search_filters={"PatientID": patient.mrn})
    assert [s["0020000D"]["Value"][0] for s in studies] == [original.StudyInstanceUID]
    assert Study.objects.get(study_uid=original.StudyInstanceUID).patient == patient

    uids = (original.StudyInstanceUID, original.SeriesInstanceUID, original.SOPInstanceUID)
    retrieved = client.retrieve_instance(*uids)
    assert to_bytes(retrieved) == to_bytes(original)

    expected = frames_of(original)
    numbers = list(range(1, len(expected) + 1))
    assert client.retrieve_instance_frames(*uids, frame_numbers=numbers) == expected

    metadata = client.retrieve_instance_metadata(*uids)
    parsed = pydicom.Dataset.from_json(metadata, bulk_data_uri_handler=lambda *_: b"")
    assert parsed.SOPInstanceUID == original.SOPInstanceUID
    assert "BulkDataURI" in metadata["7FE00010"]


def test_compressed_frames_are_transcoded_when_asked(dicomweb, owner, patient):
    original = dataset("MR_small_jpeg_ls_lossless.dcm", patient_id=patient.mrn)
    client = dicomweb(owner)
    client.store_instances([original])
    uids = (original.StudyInstanceUID, original.SeriesInstanceUID, original.SOPInstanceUID)
    (frame,) = client.retrieve_instance_frames(
        *uids, frame_numbers=[1],
        media_types=(("application/octet-stream", "1.2.840.10008.1.2.1"),),
    )
    assert frame == original.pixel_array.astype(original.pixel_array.dtype.newbyteorder("<")) \
        .tobytes()


def test_a_series_metadata_and_retrieve_cover_every_instance(dicomweb, owner, patient):
    study_uid, series_uid = generate_uid(), generate_uid()
    datasets = []
    for number in range(1, 4):
        ds = dataset("CT_small.dcm", patient_id=patient.mrn, study_uid=study_uid)
        ds.SeriesInstanceUID, ds.InstanceNumber = series_uid, number
        datasets.append(ds)
    client = dicomweb(owner)
    client.store_instances(datasets)

    metadata = client.retrieve_series_metadata(study_uid, series_uid)
    assert sorted(m["00080018"]["Value"][0] for m in metadata) == sorted(
        d.SOPInstanceUID for d in datasets)
    retrieved = client.retrieve_series(study_uid, series_uid)
    assert sorted(to_bytes(d) for d in retrieved) == sorted(to_bytes(d) for d in datasets)
    instances = client.search_for_instances(study_uid, series_uid)
    assert len(instances) == 3


def test_failures_are_reported_per_instance(dicomweb, owner, patient, live_server):
    good = dataset("CT_small.dcm", patient_id=patient.mrn)
    boundary = "xyz"
    body = b"".join(
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + payload + b"\r\n"
        for payload in (to_bytes(good), b"this is not DICOM",
                        to_bytes(good)[:2000])  # truncated
    ) + f"--{boundary}--\r\n".encode()
    response = api_session(owner).post(
        f"{live_server.url}/dicomweb/studies", data=body,
        headers={"Content-Type": f'multipart/related; type="application/dicom"; '
                                 f"boundary={boundary}",
                 "Accept": "application/dicom+json"},
    )
    assert response.status_code == 202
    result = response.json()
    assert len(result["00081199"]["Value"]) == 1
    assert len(result["00081198"]["Value"]) == 2
    assert Instance.objects.count() == 1


def test_a_conflicting_instance_is_refused_and_the_stored_one_kept(dicomweb, owner, patient):
    original = dataset("CT_small.dcm", patient_id=patient.mrn)
    client = dicomweb(owner)
    client.store_instances([original])
    client.store_instances([original])  # same bytes: accepted again, stored once
    changed = copy.deepcopy(original)
    changed.PatientName = "Someone^Else"
    with pytest.raises(requests.HTTPError) as info:
        client.store_instances([changed])
    assert info.value.response.status_code == 409
    assert Instance.objects.count() == 1
    uids = (original.StudyInstanceUID, original.SeriesInstanceUID, original.SOPInstanceUID)
    assert client.retrieve_instance(*uids).PatientName == original.PatientName


def test_an_outsider_finds_nothing_and_retrieves_nothing(dicomweb, owner, outsider, patient):
    original = dataset("CT_small.dcm", patient_id=patient.mrn)
    dicomweb(owner).store_instances([original])
    client = dicomweb(outsider)
    assert client.search_for_studies() == []
    uids = (original.StudyInstanceUID, original.SeriesInstanceUID, original.SOPInstanceUID)
    for call in (lambda: client.retrieve_instance(*uids),
                 lambda: client.retrieve_instance_frames(*uids, frame_numbers=[1]),
                 lambda: client.retrieve_study_metadata(uids[0])):
        with pytest.raises(requests.HTTPError) as info:
            call()
        assert info.value.response.status_code == 404


def test_retrieval_is_audited_once_per_study_not_per_frame(dicomweb, owner, patient):
    original = dataset("rtdose.dcm", patient_id=patient.mrn)
    client = dicomweb(owner)
    client.store_instances([original])
    uids = (original.StudyInstanceUID, original.SeriesInstanceUID, original.SOPInstanceUID)
    for number in range(1, 6):
        client.retrieve_instance_frames(*uids, frame_numbers=[number])
    client.retrieve_instance_metadata(*uids)
    views = AuditEvent.objects.filter(action=AuditAction.VIEW, user=owner,
                                      object_type="study")
    assert views.count() == 1
    assert views.get().patient == patient


def test_qido_matches_wildcards_ranges_uid_lists_and_pages(dicomweb, admin_user):
    client = dicomweb(admin_user)
    made = []
    for name, date, accession in (("Wang^Wei", "20240105", "A1"), ("Wang^Fang", "20240310", "A2"),
                                  ("Li^Na", "20250101", "B1")):
        ds = dataset("CT_small.dcm", patient_id="X" + accession)
        ds.PatientName, ds.StudyDate, ds.AccessionNumber = name, date, accession
        made.append(ds)
    client.store_instances(made)

    def uids(**filters):
        return sorted(s["0020000D"]["Value"][0] for s in client.search_for_studies(**filters))

    wangs = sorted(d.StudyInstanceUID for d in made[:2])
    assert uids(search_filters={"PatientName": "Wang*"}) == wangs
    assert uids(search_filters={"PatientName": "wang"}, fuzzymatching=True) == wangs
    assert uids(search_filters={"StudyDate": "20240101-20241231"}) == wangs
    assert uids(search_filters={"AccessionNumber": "B?"}) == [made[2].StudyInstanceUID]
    assert uids(search_filters={"StudyInstanceUID": ",".join(wangs)}) == wangs
    assert len(client.search_for_studies(limit=2)) == 2
    assert len(client.search_for_studies(limit=2, offset=2)) == 1
    (first,) = client.search_for_studies(search_filters={"AccessionNumber": "A1"},
                                         fields=["SOPClassUID", "Rows"])
    assert first["00280010"]["Value"] == [made[0].Rows]


def test_bad_requests_get_clear_errors(live_server, owner):
    session = api_session(owner)
    base = f"{live_server.url}/dicomweb"
    assert session.get(f"{base}/studies?StudyDate=yesterday").status_code == 400
    assert session.get(f"{base}/studies?NoSuchAttribute=1").status_code == 400
    wrong_type = session.post(f"{base}/studies", data=b"x",
                              headers={"Content-Type": "application/json"})
    assert wrong_type.status_code == 415
    assert wrong_type.json()["error"]["code"] == "unsupported_media_type"
    assert requests.get(f"{base}/studies").status_code == 401


def test_frames_carry_etags_and_cache_headers(dicomweb, owner, patient, live_server):
    original = dataset("CT_small.dcm", patient_id=patient.mrn)
    dicomweb(owner).store_instances([original])
    url = (f"{live_server.url}/dicomweb/studies/{original.StudyInstanceUID}/series/"
           f"{original.SeriesInstanceUID}/instances/{original.SOPInstanceUID}/frames/1")
    session = api_session(owner)
    first = session.get(url,
                        headers={"Accept": 'multipart/related; type="application/octet-stream"; '
                                            "transfer-syntax=*"})
    assert first.status_code == 200
    assert "transfer-syntax=1.2.840.10008.1.2.1" in first.content.decode("latin-1")
    assert "immutable" in first.headers["Cache-Control"]
    again = session.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_bulkdata_honours_range_requests(dicomweb, owner, patient, live_server):
    original = dataset("CT_small.dcm", patient_id=patient.mrn)
    dicomweb(owner).store_instances([original])
    url = (f"{live_server.url}/dicomweb/studies/{original.StudyInstanceUID}/series/"
           f"{original.SeriesInstanceUID}/instances/{original.SOPInstanceUID}/bulkdata/7FE00010")
    response = api_session(owner).get(url, headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.content == original.PixelData[:10]


def test_rendered_and_thumbnail_are_images(dicomweb, owner, patient, live_server):
    from PIL import Image

    original = dataset("CT_small.dcm", patient_id=patient.mrn)
    dicomweb(owner).store_instances([original])
    base = (f"{live_server.url}/dicomweb/studies/{original.StudyInstanceUID}/series/"
            f"{original.SeriesInstanceUID}")
    session = api_session(owner)
    thumb = session.get(f"{base}/thumbnail")
    assert thumb.headers["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 128
    rendered = session.get(f"{base}/instances/{original.SOPInstanceUID}/rendered",
                           params={"window": "40,400"}, headers={"Accept": "image/png"})
    assert Image.open(io.BytesIO(rendered.content)).size == (original.Columns, original.Rows)


def test_cached_series_metadata_follows_a_new_instance(dicomweb, owner, patient):
    study_uid, series_uid = generate_uid(), generate_uid()

    def instance():
        ds = dataset("CT_small.dcm", patient_id=patient.mrn, study_uid=study_uid)
        ds.SeriesInstanceUID = series_uid
        return ds

    client = dicomweb(owner)
    client.store_instances([instance(), instance()])
    assert len(client.retrieve_series_metadata(study_uid, series_uid)) == 2
    assert len(client.retrieve_series_metadata(study_uid, series_uid)) == 2  # from the cache
    client.store_instances([instance()])
    assert len(client.retrieve_series_metadata(study_uid, series_uid)) == 3


def test_stow_to_a_study_refuses_and_does_not_store_an_instance_of_another(
    owner, patient, live_server
):
    other = dataset("CT_small.dcm", patient_id=patient.mrn)
    target = generate_uid()
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + to_bytes(other)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = api_session(owner).post(
        f"{live_server.url}/dicomweb/studies/{target}",
        data=body,
        headers={"Content-Type": f'multipart/related; type="application/dicom"; '
                                 f"boundary={boundary}",
                 "Accept": "application/dicom+json"},
    )
    assert response.status_code == 409
    (failure,) = response.json()["00081198"]["Value"]
    assert failure["00081155"]["Value"] == [other.SOPInstanceUID]
    assert "study_mismatch" in failure["00081196"]["Value"][0]
    assert not Instance.objects.filter(sop_uid=other.SOPInstanceUID).exists()
