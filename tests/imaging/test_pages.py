"""The imaging pages: the study list and page for who may see them, the upload page and its
endpoint (files, zips, junk), and the admin's match-by-PatientID action."""

import io
import re
import zipfile

import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from clinic.audit import Actor
from clinic.models import AuditAction, AuditEvent, Role
from imaging.models import Instance, Study
from imaging.services import IngestSession

from ..conftest import two_step_passed
from ..factories import PASSWORD, PatientFactory, UserFactory
from .instances import to_bytes

pytestmark = pytest.mark.django_db

UPLOAD = "/studies/upload/file/"


def ct_dataset(
    *,
    patient_id: str,
    study_uid: str | None = None,
    series_uid: str | None = None,
    description: str = "CT CHEST",
    accession: str = "ACC0001",
    study_date: str = "20250301",
    modality: str = "CT",
) -> pydicom.Dataset:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PatientID = patient_id
    ds.PatientName = "Test^Patient"
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyDescription = description
    ds.SeriesDescription = "AXIAL 5mm"
    ds.BodyPartExamined = "CHEST"
    ds.AccessionNumber = accession
    ds.StudyDate = study_date
    ds.Modality = modality
    return ds


def ct_bytes(**kwargs) -> bytes:
    return to_bytes(ct_dataset(**kwargs))


def ingest(user, *datasets: pydicom.Dataset) -> Study:
    with IngestSession(actor=Actor.system(user), source="test") as session:
        results = [session.ingest(to_bytes(ds)) for ds in datasets]
    assert {r.status for r in results} == {"stored"}, results
    return Study.objects.get(study_uid=datasets[0].StudyInstanceUID)


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(client, *files: tuple[str, bytes]):
    return client.post(UPLOAD, {"file": [SimpleUploadedFile(name, data) for name, data in files]})


def listed_uids(response) -> set[str]:
    return {s.study_uid for s in response.context["page"].object_list}


@pytest.fixture
def matched_study(patient, admin_user):
    return ingest(admin_user, ct_dataset(patient_id=patient.mrn))


@pytest.fixture
def unmatched_study(admin_user):
    return ingest(admin_user, ct_dataset(patient_id="NOBODY-1", accession="ACC-UNMATCHED"))


# --- The study list ------------------------------------------------------------------------


def test_a_study_is_matched_to_the_patient_through_the_patient_id(matched_study, patient):
    assert matched_study.patient == patient


def test_the_owner_sees_the_study_in_the_list_linked_to_the_chart(
    client_as, owner, patient, matched_study, unmatched_study
):
    response = client_as(owner).get(reverse("imaging:study_list"))
    assert response.status_code == 200
    assert listed_uids(response) == {matched_study.study_uid}
    page = response.content.decode()
    assert reverse("clinic:patient_chart", args=[patient.pk]) in page
    assert reverse("imaging:study_detail", args=[matched_study.pk]) in page
    assert "ACC0001" in page and "CT CHEST" in page


def test_an_outsider_does_not_see_the_study_in_the_list(client_as, outsider, matched_study):
    response = client_as(outsider).get(reverse("imaging:study_list"))
    assert response.status_code == 200
    assert listed_uids(response) == set()
    assert matched_study.study_uid not in response.content.decode()


def test_an_admin_sees_unmatched_studies_and_may_list_only_those(
    client_as, admin_user, matched_study, unmatched_study
):
    client = client_as(admin_user)
    everything = client.get(reverse("imaging:study_list"), HTTP_ACCEPT_LANGUAGE="en")
    assert listed_uids(everything) == {matched_study.study_uid, unmatched_study.study_uid}
    assert "unmatched" in everything.content.decode()
    only = client.get(reverse("imaging:study_list"), {"unmatched": "on"})
    assert listed_uids(only) == {unmatched_study.study_uid}


def test_the_unmatched_filter_is_for_admins_only(client_as, owner, matched_study):
    response = client_as(owner).get(reverse("imaging:study_list"), {"unmatched": "on"})
    assert "unmatched" not in response.context["form"].fields
    assert listed_uids(response) == {matched_study.study_uid}


def test_the_list_is_newest_first(client_as, owner, patient, admin_user):
    old = ingest(admin_user, ct_dataset(patient_id=patient.mrn, study_date="20200101"))
    new = ingest(admin_user, ct_dataset(patient_id=patient.mrn, study_date="20250101"))
    response = client_as(owner).get(reverse("imaging:study_list"))
    assert [s.pk for s in response.context["page"].object_list] == [new.pk, old.pk]


def test_the_list_pages_by_25(client_as, admin_user):
    for _ in range(26):
        ingest(admin_user, ct_dataset(patient_id="NOBODY-2"))
    client = client_as(admin_user)
    first = client.get(reverse("imaging:study_list"))
    assert len(first.context["page"].object_list) == 25
    second = client.get(reverse("imaging:study_list"), {"page": 2})
    assert len(second.context["page"].object_list) == 1


@pytest.mark.parametrize(
    "query_for",
    [
        lambda patient: "ACC0001",  # accession number
        lambda patient: "test^pat",  # DICOM PatientName, any case
        lambda patient: patient.mrn,  # PatientID
        lambda patient: patient.name,  # the chart's name
    ],
    ids=["accession", "dicom-name", "patient-id", "chart-name"],
)
def test_a_search_finds_the_study_and_writes_one_search_audit_row(
    client_as, owner, patient, matched_study, query_for
):
    query = query_for(patient)
    response = client_as(owner).get(reverse("imaging:study_list"), {"q": query})
    assert listed_uids(response) == {matched_study.study_uid}
    (event,) = AuditEvent.objects.filter(action=AuditAction.SEARCH, user=owner)
    assert event.details["query"] == query
    assert event.details["results"] == 1


def test_a_plain_list_writes_no_search_audit_row(client_as, owner, matched_study):
    client_as(owner).get(reverse("imaging:study_list"))
    assert not AuditEvent.objects.filter(action=AuditAction.SEARCH).exists()


def test_a_search_that_matches_nothing_lists_nothing(client_as, owner, matched_study):
    response = client_as(owner).get(reverse("imaging:study_list"), {"q": "no-such-thing"})
    assert listed_uids(response) == set()


def test_the_list_filters_by_modality_and_date(client_as, owner, patient, admin_user):
    ct = ingest(admin_user, ct_dataset(patient_id=patient.mrn, study_date="20250301"))
    mr = ingest(
        admin_user, ct_dataset(patient_id=patient.mrn, study_date="20240301", modality="MR")
    )
    client = client_as(owner)
    url = reverse("imaging:study_list")
    assert listed_uids(client.get(url, {"modality": "MR"})) == {mr.study_uid}
    assert listed_uids(client.get(url, {"date_from": "2025-01-01"})) == {ct.study_uid}
    assert listed_uids(client.get(url, {"date_to": "2024-12-31"})) == {mr.study_uid}


def test_a_bad_date_is_shown_and_the_other_criteria_still_apply(
    client_as, owner, patient, matched_study, admin_user
):
    ingest(admin_user, ct_dataset(patient_id=patient.mrn, accession="OTHER"))
    response = client_as(owner).get(
        reverse("imaging:study_list"), {"q": "ACC0001", "date_from": "not-a-date"}
    )
    assert "date_from" in response.context["form"].errors
    assert listed_uids(response) == {matched_study.study_uid}


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.SCHEDULER, Role.PATIENT])
def test_roles_without_imaging_may_not_list_studies(client_as, role):
    user = UserFactory(role=role)
    assert client_as(user).get(reverse("imaging:study_list")).status_code == 403


def test_the_list_needs_a_login(client):
    response = client.get(reverse("imaging:study_list"))
    assert response.status_code == 302
    assert reverse("login") in response.url


# --- The study page ------------------------------------------------------------------------


def test_the_owner_sees_the_study_page_with_series_thumbnails(
    client_as, owner, patient, admin_user
):
    study_uid, series_uid = generate_uid(), generate_uid()
    study = ingest(
        admin_user,
        ct_dataset(patient_id=patient.mrn, study_uid=study_uid, series_uid=series_uid),
        ct_dataset(patient_id=patient.mrn, study_uid=study_uid, series_uid=series_uid),
    )
    response = client_as(owner).get(reverse("imaging:study_detail", args=[study.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert patient.name in page and "CT CHEST" in page and "AXIAL 5mm" in page
    assert "CHEST" in page
    thumbnail = f'src="/dicomweb/studies/{study_uid}/series/{series_uid}/thumbnail"'
    assert thumbnail in page
    assert 'loading="lazy"' in page
    (series,) = response.context["series_list"]
    assert series.number_of_instances == 2


def test_the_thumbnail_on_the_study_page_answers_with_a_jpeg(client_as, owner, matched_study):
    client = client_as(owner)
    page = client.get(reverse("imaging:study_detail", args=[matched_study.pk])).content.decode()
    (src,) = re.findall(r'<img class="thumb" src="([^"]+)"', page)
    response = client.get(src)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/jpeg")


def test_viewing_a_study_writes_a_view_audit_row(client_as, owner, patient, matched_study):
    client_as(owner).get(reverse("imaging:study_detail", args=[matched_study.pk]))
    event = AuditEvent.objects.get(action=AuditAction.VIEW, user=owner)
    assert event.object_type == "study"
    assert event.object_id == str(matched_study.pk)
    assert event.patient == patient


def test_an_outsider_gets_404_on_the_study_page(client_as, outsider, matched_study):
    response = client_as(outsider).get(reverse("imaging:study_detail", args=[matched_study.pk]))
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.VIEW, user=outsider).exists()


def test_an_unmatched_study_is_for_admins(client_as, owner, admin_user, unmatched_study):
    url = reverse("imaging:study_detail", args=[unmatched_study.pk])
    assert client_as(owner).get(url).status_code == 404
    response = client_as(admin_user).get(url)
    assert response.status_code == 200
    assert AuditEvent.objects.get(action=AuditAction.VIEW, user=admin_user).patient is None


def test_a_missing_study_is_404(client_as, admin_user):
    response = client_as(admin_user).get(reverse("imaging:study_detail", args=[999]))
    assert response.status_code == 404


# --- Upload --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "colleague", "admin_user"])
def test_doctors_nurses_and_admins_may_open_the_upload_page(client_as, request, persona):
    user = request.getfixturevalue(persona)
    response = client_as(user).get(reverse("imaging:study_upload"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "webkitdirectory" in page
    assert reverse("imaging:study_upload_file") in page
    assert "js/upload.js" in page


@pytest.mark.parametrize("persona", ["receptionist", "scheduler"])
def test_front_desk_and_rostering_may_not_upload(client_as, request, persona):
    client = client_as(request.getfixturevalue(persona))
    assert client.get(reverse("imaging:study_upload")).status_code == 403
    response = upload(client, ("ct.dcm", ct_bytes(patient_id="X")))
    assert response.status_code == 403
    assert not Instance.objects.exists()


def test_a_nurse_uploads_a_dicom_file(client_as, colleague, patient):
    ds = ct_dataset(patient_id=patient.mrn)
    response = upload(client_as(colleague), ("ct.dcm", to_bytes(ds)))
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["name"] == "ct.dcm"
    assert result["status"] == "stored"
    assert result["sop_uid"] == ds.SOPInstanceUID
    assert result["study_uid"] == ds.StudyInstanceUID
    study = Study.objects.get(study_uid=ds.StudyInstanceUID)
    assert study.patient == patient
    assert result["study_url"] == reverse("imaging:study_detail", args=[study.pk])
    event = AuditEvent.objects.get(action=AuditAction.CREATE, user=colleague)
    assert event.object_id == str(study.pk)
    assert event.details == {"source": "upload", "instances": 1}


def test_the_same_file_twice_is_a_duplicate_and_other_bytes_a_conflict(client_as, owner):
    ds = ct_dataset(patient_id="NOBODY-3")
    client = client_as(owner)
    upload(client, ("a.dcm", to_bytes(ds)))
    again = upload(client, ("a.dcm", to_bytes(ds))).json()["results"][0]
    assert again["status"] == "duplicate"
    ds.StudyDescription = "CHANGED"
    changed = upload(client, ("b.dcm", to_bytes(ds))).json()["results"][0]
    assert changed["status"] == "conflict"
    assert changed["code"] == "sop_instance_conflict"
    assert Instance.objects.count() == 1


def test_an_upload_to_a_study_the_uploader_may_not_see_has_no_link(client_as, outsider):
    result = upload(client_as(outsider), ("ct.dcm", ct_bytes(patient_id="NOBODY-4")))
    (row,) = result.json()["results"]
    assert row["status"] == "stored"
    assert row["study_url"] is None


def test_a_text_file_is_a_failed_not_dicom_row(client_as, owner):
    response = upload(client_as(owner), ("notes.txt", b"just some notes\n"))
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["name"] == "notes.txt"
    assert result["status"] == "failed"
    assert result["code"] == "not_dicom"
    assert result["study_url"] is None
    assert not Instance.objects.exists()


def test_an_empty_file_is_a_failed_row(client_as, owner):
    (result,) = upload(client_as(owner), ("empty.dcm", b"")).json()["results"]
    assert result["status"] == "failed"


def test_a_zip_of_two_files_gives_one_result_per_member(client_as, owner, patient):
    study_uid = generate_uid()
    first = ct_dataset(patient_id=patient.mrn, study_uid=study_uid)
    second = ct_dataset(patient_id=patient.mrn, study_uid=study_uid)
    archive = zip_of(
        {
            "CT/1.dcm": to_bytes(first),
            "CT/2.dcm": to_bytes(second),
            "CT/": b"",
            "__MACOSX/CT/._1.dcm": b"\x00\x05\x16\x07",
            "CT/.DS_Store": b"junk",
        }
    )
    response = upload(client_as(owner), ("study.zip", archive))
    results = response.json()["results"]
    assert [(r["name"], r["status"]) for r in results] == [
        ("CT/1.dcm", "stored"),
        ("CT/2.dcm", "stored"),
    ]
    study = Study.objects.get(study_uid=study_uid)
    assert study.number_of_instances == 2
    assert {r["study_url"] for r in results} == {reverse("imaging:study_detail", args=[study.pk])}
    # One audit row for the study, not one per file.
    event = AuditEvent.objects.get(action=AuditAction.CREATE, user=owner)
    assert event.details == {"source": "upload", "instances": 2}


def test_a_zip_with_junk_reports_each_member(client_as, owner):
    archive = zip_of(
        {
            "a.dcm": ct_bytes(patient_id="NOBODY-5"),
            "README.TXT": b"This disc holds images from AI Mass Hospital.\r\n",
        }
    )
    results = upload(client_as(owner), ("mixed.zip", archive)).json()["results"]
    assert [(r["name"], r["status"], r["code"]) for r in results] == [
        ("a.dcm", "stored", ""),
        ("README.TXT", "failed", "not_dicom"),
    ]


def test_files_and_a_zip_in_one_request_each_get_results(client_as, owner):
    archive = zip_of({"z.dcm": ct_bytes(patient_id="NOBODY-6")})
    response = upload(
        client_as(owner), ("plain.dcm", ct_bytes(patient_id="NOBODY-6")), ("s.zip", archive)
    )
    assert [r["name"] for r in response.json()["results"]] == ["plain.dcm", "z.dcm"]


@pytest.mark.parametrize("evil", ["../escape.dcm", "/etc/passwd", "a/../../b.dcm", "C:/x.dcm"])
def test_a_zip_with_path_tricks_is_refused_whole(client_as, owner, evil):
    archive = zip_of({"good.dcm": ct_bytes(patient_id="NOBODY-7"), evil: b"x"})
    (result,) = upload(client_as(owner), ("evil.zip", archive)).json()["results"]
    assert result["name"] == "evil.zip"
    assert result["status"] == "failed"
    assert result["code"] == "unsafe_zip"
    assert not Instance.objects.exists()


def test_a_zip_holding_a_symlink_is_refused(client_as, owner):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("link.dcm")
        link.external_attr = 0o120777 << 16  # a symbolic link
        archive.writestr(link, "/etc/passwd")
    (result,) = upload(client_as(owner), ("link.zip", buffer.getvalue())).json()["results"]
    assert result["code"] == "unsafe_zip"


def test_a_zip_bigger_than_the_limit_is_refused(client_as, owner, settings):
    archive = zip_of({"a.dcm": ct_bytes(patient_id="NOBODY-8")})
    settings.DICOMWEB_MAX_UPLOAD_BYTES = len(archive) - 1
    (result,) = upload(client_as(owner), ("big.zip", archive)).json()["results"]
    assert (result["status"], result["code"]) == ("failed", "too_large")
    assert not Instance.objects.exists()


def test_a_zip_that_unpacks_bigger_than_the_limit_is_refused(client_as, owner, settings):
    archive = zip_of({"zeros.dcm": bytes(1_000_000)})  # deflates to about 1 KB
    settings.DICOMWEB_MAX_UPLOAD_BYTES = 100_000
    assert len(archive) < 100_000
    (result,) = upload(client_as(owner), ("bomb.zip", archive)).json()["results"]
    assert result["code"] == "too_large"


def test_a_file_bigger_than_the_limit_is_refused(client_as, owner, settings):
    data = ct_bytes(patient_id="NOBODY-9")
    settings.DICOMWEB_MAX_UPLOAD_BYTES = len(data) - 1
    (result,) = upload(client_as(owner), ("big.dcm", data)).json()["results"]
    assert result["code"] == "too_large"


def test_a_damaged_zip_is_a_failed_row(client_as, owner):
    (result,) = upload(client_as(owner), ("broken.zip", b"PK\x03\x04garbage")).json()["results"]
    assert (result["status"], result["code"]) == ("failed", "bad_zip")


def test_an_upload_without_a_file_is_a_bad_request(client_as, owner):
    assert client_as(owner).post(UPLOAD, {}).status_code == 400


def test_the_upload_endpoint_takes_only_post(client_as, owner):
    assert client_as(owner).get(UPLOAD).status_code == 405


def test_the_upload_endpoint_needs_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    assert client.login(request=HttpRequest(), username=owner.username, password=PASSWORD)
    two_step_passed(client, owner)
    response = client.post(UPLOAD, {"file": SimpleUploadedFile("a.dcm", b"x")})
    assert response.status_code == 403
    page = client.get(reverse("imaging:study_upload"))
    token = page.context["csrf_token"]
    response = client.post(
        UPLOAD, {"file": SimpleUploadedFile("a.txt", b"x")}, HTTP_X_CSRFTOKEN=str(token)
    )
    assert response.status_code == 200


# --- Navigation ------------------------------------------------------------------------------


def test_the_navigation_shows_imaging_to_clinical_roles_only(client_as, owner, receptionist):
    doctor_home = client_as(owner).get("/").content.decode()
    assert reverse("imaging:study_list") in doctor_home
    assert reverse("imaging:study_upload") in doctor_home
    front_desk = client_as(receptionist).get("/").content.decode()
    assert reverse("imaging:study_list") not in front_desk


# --- Admin -----------------------------------------------------------------------------------


def test_the_admin_lists_the_index_read_only(client_as, admin_user, matched_study):
    client = client_as(admin_user)
    for model in ("study", "series", "instance", "studystableevent"):
        assert client.get(f"/admin/imaging/{model}/").status_code == 200
        assert client.get(f"/admin/imaging/{model}/add/").status_code == 403
    instance = Instance.objects.get()
    assert client.get(f"/admin/imaging/instance/{instance.pk}/change/").status_code == 200
    assert client.get(f"/admin/imaging/instance/{instance.pk}/delete/").status_code == 403
    assert client.get(f"/admin/imaging/study/{matched_study.pk}/change/").status_code == 200


def test_the_admin_matches_an_unmatched_study_by_patient_id(
    client_as, admin_user, unmatched_study, matched_study
):
    patient = PatientFactory(mrn="NOBODY-1")
    response = client_as(admin_user).post(
        "/admin/imaging/study/",
        {
            "action": "match_to_patient",
            "_selected_action": [unmatched_study.pk, matched_study.pk],
            "index": 0,
        },
    )
    assert response.status_code == 302
    unmatched_study.refresh_from_db()
    assert unmatched_study.patient == patient
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_type="study")
    assert event.object_id == str(unmatched_study.pk)
    assert event.patient == patient
    assert event.user == admin_user


def test_the_match_action_leaves_studies_without_a_patient_alone(
    client_as, admin_user, unmatched_study
):
    client_as(admin_user).post(
        "/admin/imaging/study/",
        {"action": "match_to_patient", "_selected_action": [unmatched_study.pk], "index": 0},
    )
    unmatched_study.refresh_from_db()
    assert unmatched_study.patient is None
    assert not AuditEvent.objects.filter(action=AuditAction.UPDATE).exists()
