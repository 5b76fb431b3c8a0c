"""The review's rules and endpoints, on a study a real model read: verdicts, corrections and
additions checked against the series, sign-off with its report and SR, re-opening by an
administrator, who may do what, and what is audited."""

import json

import pydicom
import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from imaging.models import Finding, FindingReview, Instance, StudyReport
from imaging.review.masks import finding_mask_frames
from imaging.storage import dicom_storage

pytestmark = pytest.mark.django_db


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def findings(study):
    return list(Finding.objects.filter(study=study).order_by("-diameter_mm"))


def review_url(finding):
    return reverse("imaging:finding_review", args=[finding.pk])


def inside(item) -> int:
    return sum(item["mask"][1::2])


def test_accepting_records_the_label_the_finding_and_the_audit(client_as, owner, read_study):
    big, _ = findings(read_study)
    response = post(client_as(owner), review_url(big), {"verdict": "accepted"})
    assert response.status_code == 200
    assert response.json()["finding"]["status"] == "accepted"
    review = FindingReview.objects.get(finding=big)
    assert (review.verdict, review.reviewer, review.model_version) == (
        "accepted",
        owner,
        big.model_version,
    )
    assert review.geometry == review.original_geometry == big.instances
    big.refresh_from_db()
    read_study.refresh_from_db()
    assert big.status == "accepted" and big.reviewed_by == owner
    assert read_study.review_status == "in_progress"
    assert AuditEvent.objects.filter(
        object_type="finding", object_id=str(big.pk), details__event="finding_accepted"
    ).exists()


def test_a_rejection_needs_a_reason_and_other_needs_words(client_as, owner, read_study):
    big, _ = findings(read_study)
    client = client_as(owner)
    missing = post(client, review_url(big), {"verdict": "rejected"})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "reason_required"
    bare_other = post(client, review_url(big), {"verdict": "rejected", "reason": "other"})
    assert bare_other.json()["error"]["code"] == "comment_required"
    assert not FindingReview.objects.exists()

    ok = post(
        client,
        review_url(big),
        {"verdict": "rejected", "reason": "artefact", "comment": "运动伪影"},
    )
    assert ok.status_code == 200
    review = FindingReview.objects.get(finding=big)
    assert (review.reason, review.comment) == ("artefact", "运动伪影")


def test_a_later_verdict_replaces_the_label_and_keeps_the_history(client_as, owner, read_study):
    big, _ = findings(read_study)
    client = client_as(owner)
    post(client, review_url(big), {"verdict": "rejected", "reason": "artefact"})
    post(client, review_url(big), {"verdict": "accepted"})
    assert list(FindingReview.objects.filter(finding=big).values_list("verdict", "current")) == [
        ("accepted", True),
        ("rejected", False),
    ]


def _corrected(item, shift=2):
    box = item["bbox"]
    return {**item, "bbox": [box[0] + shift, box[1], box[2] + shift, box[3]]}


def test_a_correction_keeps_the_models_geometry_and_saves_the_readers(client_as, owner, read_study):
    big, _ = findings(read_study)
    frames = finding_mask_frames(big)
    assert all(inside(item) for item in frames)
    corrected = [_corrected(item) for item in frames]
    response = post(client_as(owner), review_url(big), {"verdict": "edited", "geometry": corrected})
    assert response.status_code == 200, response.content
    review = FindingReview.objects.get(finding=big)
    assert review.original_geometry == big.instances
    assert [g["bbox"] for g in review.geometry] == [g["bbox"] for g in corrected]
    assert finding_mask_frames(big) == review.geometry  # the viewer now shows the correction
    big.refresh_from_db()
    assert big.instances == review.original_geometry and big.status == "edited"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda g: [], "at least one frame"),
        (lambda g: [{**g[0], "sop_instance_uid": "1.2.3"}], "not in this series"),
        (lambda g: [{**g[0], "bbox": [0, 0, 999, 5]}], "outside the image"),
        (lambda g: [{**g[0], "bbox": [5, 5, 1, 1]}], "outside the image"),
        (lambda g: [{**g[0], "bbox": ["1", 0, 2, 2]}], "four whole pixel indices"),
        (lambda g: [{**g[0], "frame": 2}], "frame number"),
        (lambda g: [g[0], g[0]], "appears twice"),
        (lambda g: [{**g[0], "mask": [1, 2]}], "add up to its box"),
        (lambda g: "<script>", "at least one frame"),
    ],
)
def test_bad_geometry_is_refused_with_a_reason_and_nothing_saved(
    client_as, owner, read_study, change, message
):
    big, _ = findings(read_study)
    geometry = change(finding_mask_frames(big))
    response = client_as(owner).post(
        review_url(big),
        json.dumps({"verdict": "edited", "geometry": geometry}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "geometry_invalid"
    assert message in response.json()["error"]["message"]
    assert not FindingReview.objects.exists()


def test_requests_that_are_not_json_objects_are_refused(client_as, owner, read_study):
    big, _ = findings(read_study)
    client = client_as(owner)
    form = client.post(review_url(big), {"verdict": "accepted"})
    assert form.json()["error"]["code"] == "json_required"
    broken = client.post(review_url(big), "{not json", content_type="application/json")
    assert broken.json()["error"]["code"] == "json_invalid"
    listed = client.post(review_url(big), "[1]", content_type="application/json")
    assert listed.json()["error"]["code"] == "json_invalid"
    unknown = post(client, review_url(big), {"verdict": "maybe"})
    assert unknown.json()["error"]["code"] == "verdict_invalid"
    assert not FindingReview.objects.exists()


def test_the_mask_is_the_models_segment_voxel_for_voxel(client_as, owner, read_study):
    big, small = findings(read_study)
    client = client_as(owner)
    for finding in (big, small):
        frames = client.get(reverse("imaging:finding_mask", args=[finding.pk])).json()["frames"]
        voxels = sum(inside(item) for item in frames)
        assert voxels * 2.0 == pytest.approx(finding.volume_mm3)  # 1 x 1 x 2 mm voxels
        assert [(f["sop_instance_uid"], f["bbox"]) for f in frames] == [
            (i["sop_instance_uid"], i["bbox"]) for i in finding.instances
        ]


def test_a_reader_adds_a_missed_finding_charged_to_the_model_that_ran(client_as, owner, read_study):
    big, _ = findings(read_study)
    series = big.series
    image = Instance.objects.filter(series=series).first()
    response = post(
        client_as(owner),
        reverse("imaging:finding_add", args=[read_study.pk]),
        {
            "series_uid": series.series_uid,
            "label": "磨玻璃影",
            "geometry": [{"sop_instance_uid": image.sop_uid, "frame": 1, "bbox": [1, 2, 3, 4]}],
        },
    )
    assert response.status_code == 201, response.content
    added = Finding.objects.get(source="reader")
    assert (added.label, added.status, added.created_by, added.job) == (
        "磨玻璃影",
        "added",
        owner,
        None,
    )
    review = added.reviews.get()
    assert review.verdict == "added" and review.model_version == big.model_version
    unnamed = post(
        client_as(owner),
        reverse("imaging:finding_add", args=[read_study.pk]),
        {"series_uid": series.series_uid, "label": " ", "geometry": review.geometry},
    )
    assert unnamed.json()["error"]["code"] == "label_required"
    elsewhere = post(
        client_as(owner),
        reverse("imaging:finding_add", args=[read_study.pk]),
        {"series_uid": "9.9.9", "label": "x", "geometry": review.geometry},
    )
    assert elsewhere.json()["error"]["code"] == "geometry_invalid"


def sign(client, study, impression="两枚结节。Two nodules."):
    return post(client, reverse("imaging:study_sign", args=[study.pk]), {"impression": impression})


def test_signing_needs_every_ai_finding_decided_and_an_impression(client_as, owner, read_study):
    big, small = findings(read_study)
    client = client_as(owner)
    pending = sign(client, read_study)
    assert pending.json()["error"]["code"] == "findings_pending"
    post(client, review_url(big), {"verdict": "accepted"})
    post(client, review_url(small), {"verdict": "rejected", "reason": "false_positive"})
    assert sign(client, read_study, impression="  ").json()["error"]["code"] == (
        "impression_required"
    )
    assert not StudyReport.objects.exists()


def test_sign_off_freezes_the_review_and_stores_a_verified_sr(client_as, owner, read_study):
    big, small = findings(read_study)
    client = client_as(owner)
    post(client, review_url(big), {"verdict": "accepted"})
    post(client, review_url(small), {"verdict": "rejected", "reason": "false_positive"})
    response = sign(client, read_study)
    assert response.status_code == 201
    report = StudyReport.objects.get()
    assert (report.version, report.status, report.signed_by) == (1, "signed", owner)
    assert [row["verdict"] for row in report.findings_table] == ["accepted", "rejected"]
    read_study.refresh_from_db()
    assert read_study.review_status == "signed"

    stored = Instance.objects.get(sop_uid=report.sr_sop_instance_uid)
    assert stored.series.study == read_study and stored.series.modality == "SR"
    with dicom_storage().open(stored.file, "rb") as f:
        sr = pydicom.dcmread(f)
    assert (sr.VerificationFlag, sr.CompletionFlag) == ("VERIFIED", "COMPLETE")
    assert str(sr.VerifyingObserverSequence[0].VerifyingObserverName).startswith(owner.display_name)
    assert sr.PatientID == read_study.dicom_patient_id
    texts = [item.get("TextValue") for item in sr.ContentSequence]
    assert "两枚结节。Two nodules." in texts
    groups = [item for item in sr.ContentSequence if item.ValueType == "CONTAINER"]
    assert len(groups) == 1  # the rejected finding is not reported as a finding
    assert groups[0].ContentSequence[0].TextValue == big.label

    frozen = post(client, review_url(big), {"verdict": "rejected", "reason": "artefact"})
    assert frozen.status_code == 409 and frozen.json()["error"]["code"] == "study_signed"
    assert sign(client, read_study).status_code == 409
    data = client.get(reverse("imaging:viewer_data", args=[read_study.pk])).json()
    assert data["signed"] is True
    assert {f["reviewed_by"] for f in data["findings"]} == {owner.display_name}
    assert AuditEvent.objects.filter(details__event="study_signed").count() == 1


def _signed(client, study):
    for finding in findings(study):
        post(client, review_url(finding), {"verdict": "accepted"})
    assert sign(client, study).status_code == 201
    return StudyReport.objects.get(study=study, status="signed")


def test_only_an_admin_with_a_reason_reopens_and_the_next_sign_off_is_version_2(
    client_as, owner, admin_user, read_study
):
    doctor = client_as(owner)
    report = _signed(doctor, read_study)
    url = reverse("imaging:study_reopen", args=[read_study.pk])
    assert doctor.post(url, {"reason": "typo"}).status_code == 403
    admin = client_as(admin_user)
    admin.post(url, {"reason": ""})
    report.refresh_from_db()
    assert report.status == "signed"
    admin.post(url, {"reason": "患者要求复核 / second read"})
    report.refresh_from_db()
    read_study.refresh_from_db()
    assert report.status == "reopened" and report.reopened_by == admin_user
    assert read_study.review_status == "in_progress"
    event = AuditEvent.objects.get(details__event="study_reopened")
    assert event.flagged and event.reason == "患者要求复核 / second read"

    doctor = client_as(owner)  # client_as logs the one test client in as someone else
    small = findings(read_study)[1]
    corrected = {"verdict": "edited", "geometry": finding_mask_frames(small)}
    assert post(doctor, review_url(small), corrected).status_code == 200
    assert sign(doctor, read_study, impression="更正").status_code == 201
    assert list(StudyReport.objects.order_by("version").values_list("version", "status")) == [
        (1, "reopened"),
        (2, "signed"),
    ]


def test_the_report_page_is_printable_and_escapes_what_people_wrote(client_as, owner, read_study):
    client = client_as(owner)
    for finding in findings(read_study):
        post(client, review_url(finding), {"verdict": "accepted"})
    sign(client, read_study, impression='结节<script>alert("x")</script>')
    page = client.get(reverse("imaging:study_report", args=[read_study.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "data-print" in html and read_study.patient.name in html
    assert AuditEvent.objects.filter(details__via="report").exists()


def test_only_doctors_and_admins_with_access_open_the_viewer_and_it_is_audited(
    client_as, owner, colleague, outsider, admin_user, receptionist, read_study
):
    url = reverse("imaging:study_viewer", args=[read_study.pk])
    assert client_as(owner).get(url).status_code == 200
    assert AuditEvent.objects.filter(
        object_type="study", object_id=str(read_study.pk), details__via="viewer", user=owner
    ).exists()
    assert client_as(admin_user).get(url).status_code == 200
    for user in (colleague, outsider, receptionist):  # a nurse, a stranger doctor, the desk
        client = client_as(user)
        assert client.get(url).status_code == 404
        assert client.get(reverse("imaging:viewer_data", args=[read_study.pk])).status_code == 404
    big, _ = findings(read_study)
    stranger = post(client_as(outsider), review_url(big), {"verdict": "accepted"})
    assert stranger.status_code == 404
    admin = post(client_as(admin_user), review_url(big), {"verdict": "accepted"})
    assert admin.status_code == 403 and admin.json()["error"]["code"] == "not_a_reader"
    assert not FindingReview.objects.exists()


def test_the_viewer_data_lists_image_series_in_slice_order(client_as, owner, read_study):
    data = client_as(owner).get(reverse("imaging:viewer_data", args=[read_study.pk])).json()
    assert [s["modality"] for s in data["series"]] == ["CT"]  # not the SEG or the SR
    uids = [i["sop"] for i in data["series"][0]["instances"]]
    positions = []
    for uid in uids:
        meta = json.loads(Instance.objects.get(sop_uid=uid).metadata)
        positions.append(float(meta["00200032"]["Value"][2]))
    assert positions == sorted(positions, reverse=True)
    assert [f["diameter_mm"] for f in data["findings"]] == sorted(
        (f["diameter_mm"] for f in data["findings"]), reverse=True
    )
    assert data["findings"][0]["urgent"] is True
    assert data["findings"][0]["mask_url"] == reverse(
        "imaging:finding_mask", args=[data["findings"][0]["id"]]
    )
