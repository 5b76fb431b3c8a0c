"""The feedback loop: every reader verdict is a labelled example of the model version it judged;
the version's page counts them (precision, edits, misses, per ISO week) and administrators export
them as a de-identified dataset for retraining."""

import gzip
import io
import json
import zipfile
from datetime import timedelta

import nibabel as nib
import numpy as np
import pydicom
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clinic.audit import Actor
from clinic.models import AuditEvent
from imaging.models import Finding, FindingReview, Instance
from imaging.review import services
from imaging.review.feedback import feedback_for_version
from imaging.review.geometry import rle_encode
from imaging.storage import dicom_storage

from .conftest import SHAPE, SPACING, study_ingest, two_nodule_hu

pytestmark = pytest.mark.django_db

EDIT_BOX = [25, 31, 31, 37]  # around the small sphere: columns 25..31, rows 31..37
ADDED_BOX = [2, 40, 5, 43]  # columns 2..5, rows 40..43: away from both spheres
REJECTED_BOX = [33, 2, 38, 6]


def _edited_mask() -> np.ndarray:
    mask = np.zeros((7, 7), dtype=np.uint8)
    mask[2:5, 2:5] = 1  # the 3x3 centre of the box
    return mask


def _uid_at_slice(series, index: int) -> str:
    """SOP Instance UID of slice ``index`` (the builder places slice k at z = 2k mm)."""
    for instance in Instance.objects.filter(series=series):
        with dicom_storage().open(instance.file, "rb") as stored:
            ds = pydicom.dcmread(stored, stop_before_pixels=True)
        if round(float(ds.ImagePositionPatient[2]) / SPACING[0]) == index:
            return instance.sop_uid
    raise LookupError(index)


@pytest.fixture
def reviewed(read_study, model_version, owner):
    """One verdict of each kind on ``model_version``'s findings, plus one finding left pending:
    the big sphere accepted (three weeks ago), the small one corrected, a false alarm rejected,
    a missed lesion added by the reader."""
    big, small = Finding.objects.filter(study=read_study).order_by("-diameter_mm")
    series = big.series
    actor = Actor(user=owner)
    false_alarm = Finding.objects.create(
        job=big.job,
        model_version=model_version,
        study=read_study,
        series=series,
        label=big.label,
        kind=big.kind,
        instances=[
            {"sop_instance_uid": _uid_at_slice(series, 1), "frame": 1, "bbox": REJECTED_BOX}
        ],
    )
    Finding.objects.create(
        job=big.job,
        model_version=model_version,
        study=read_study,
        series=series,
        label=big.label,
        kind=big.kind,
        instances=big.instances[:1],
    )
    services.finding_review(finding=big, actor=actor, verdict="accepted")
    edited_uid = _uid_at_slice(series, 8)
    services.finding_review(
        finding=small,
        actor=actor,
        verdict="edited",
        geometry=[
            {
                "sop_instance_uid": edited_uid,
                "frame": 1,
                "bbox": EDIT_BOX,
                "mask": rle_encode(_edited_mask().ravel().tolist()),
            }
        ],
    )
    services.finding_review(finding=false_alarm, actor=actor, verdict="rejected", reason="artefact")
    added_uid = _uid_at_slice(series, 10)
    services.finding_add(
        study=read_study,
        series=series,
        actor=actor,
        label="nodule",
        geometry=[{"sop_instance_uid": added_uid, "frame": 1, "bbox": ADDED_BOX}],
        comment="Zhang's second nodule",
    )
    earlier = timezone.now() - timedelta(weeks=3)
    FindingReview.objects.filter(finding=big, current=True).update(created_at=earlier)
    return {
        "study": read_study,
        "series": series,
        "earlier": earlier,
        "edited_uid": edited_uid,
        "added_uid": added_uid,
        "rejected_uid": false_alarm.instances[0]["sop_instance_uid"],
    }


def _week(when) -> str:
    year, week, _ = timezone.localtime(when).isocalendar()
    return f"{year}-W{week:02d}"


def _feedback_url(version, name=None, pk=None):
    return reverse(
        "imaging:model_version_feedback",
        args=[name or version.model.name, pk or version.pk],
    )


def _dataset_url(version):
    return reverse("imaging:model_version_dataset", args=[version.model.name, version.pk])


# -- the figures -------------------------------------------------------------------------------


def test_a_version_nobody_reviewed_shows_dashes_not_a_division_by_zero(
    client_as, owner, read_study, model_version
):
    feedback = feedback_for_version(model_version)
    assert feedback.totals.precision is None and feedback.totals.edit_rate is None
    assert feedback.pending == 2 and feedback.weeks == []
    page = client_as(owner).get(_feedback_url(model_version))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="precision">—<' in html
    assert 'data-testid="no-reviews"' in html


def test_it_counts_each_finding_once_by_its_latest_verdict(reviewed, model_version, owner):
    feedback = feedback_for_version(model_version)
    totals = feedback.totals
    assert (totals.accepted, totals.edited, totals.rejected, totals.added) == (1, 1, 1, 1)
    assert totals.precision == pytest.approx(2 / 3)  # a correction is a true positive
    assert totals.edit_rate == pytest.approx(1 / 2)
    assert totals.detection_rate == pytest.approx(2 / 3)
    assert feedback.pending == 1 and feedback.findings == 4
    assert [(r.reason, r.count) for r in feedback.reasons] == [("artefact", 1)]

    # A reader changes their mind: the earlier verdict stays in the history, only the new counts.
    rejected = Finding.objects.get(status="rejected")
    services.finding_review(finding=rejected, actor=Actor(user=owner), verdict="accepted")
    totals = feedback_for_version(model_version).totals
    assert (totals.accepted, totals.rejected) == (2, 0)
    assert totals.precision == 1.0
    assert FindingReview.objects.filter(finding=rejected).count() == 2


def test_the_figures_are_kept_per_iso_week(reviewed, model_version):
    weeks = feedback_for_version(model_version).weeks
    now = timezone.now()
    assert [w.label for w in weeks] == [_week(reviewed["earlier"]), _week(now)]
    first, last = weeks
    assert (first.accepted, first.edited, first.rejected, first.added) == (1, 0, 0, 0)
    assert first.precision == 1.0 and first.edit_rate == 0.0
    assert (last.accepted, last.edited, last.rejected, last.added) == (0, 1, 1, 1)
    assert last.precision == pytest.approx(0.5) and last.edit_rate == 1.0


def test_the_page_shows_figures_weeks_chart_and_reasons_without_patient_data(
    client_as, colleague, reviewed, model_version, patient
):
    client = client_as(colleague)
    before = AuditEvent.objects.count()  # after the log-in, which is audited
    page = client.get(_feedback_url(model_version))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="precision">67%<' in html
    assert 'data-testid="edit-rate">50%<' in html
    assert 'data-testid="misses">1<' in html
    assert 'data-testid="pending">1<' in html
    assert "真阳性" in html  # the page says how a correction counts (a true positive)
    assert f'data-week="{_week(reviewed["earlier"])}"' in html
    assert f'data-week="{_week(timezone.now())}"' in html
    assert '<svg class="chart"' in html and "<script>" not in html
    assert 'data-reason="artefact"' in html
    assert patient.name not in html and patient.mrn not in html
    assert reviewed["study"].study_uid not in html
    assert "dataset.zip" not in html  # a nurse cannot export
    assert AuditEvent.objects.count() == before  # aggregate figures: nothing to audit


def test_the_model_card_links_each_version_to_its_feedback(client_as, owner, model_version):
    card = client_as(owner).get(reverse("imaging:model_card", args=[model_version.model.name]))
    assert _feedback_url(model_version) in card.content.decode()


@pytest.mark.parametrize("persona", ["owner", "colleague", "admin_user", "outsider"])
def test_clinical_staff_and_admins_open_the_page(client_as, request, persona, model_version):
    client = client_as(request.getfixturevalue(persona))
    assert client.get(_feedback_url(model_version)).status_code == 200


def test_others_are_refused_and_a_wrong_model_or_version_is_not_found(
    client_as, receptionist, owner, model_version
):
    assert client_as(receptionist).get(_feedback_url(model_version)).status_code == 403
    assert client_as(receptionist).get(_dataset_url(model_version)).status_code == 403
    client = client_as(owner)
    assert client.get(_feedback_url(model_version, name="other-model")).status_code == 404
    assert client.get(_feedback_url(model_version, pk=model_version.pk + 99)).status_code == 404
    assert client.get(_dataset_url(model_version)).status_code == 403  # admins only


# -- the dataset -------------------------------------------------------------------------------


def _burned_in_copy(series, admin_user):
    """One more instance in the series, flagged as showing burned-in text."""
    instance = Instance.objects.filter(series=series).first()
    with dicom_storage().open(instance.file, "rb") as stored:
        ds = pydicom.dcmread(stored)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.BurnedInAnnotation = "YES"
    ds.ImagePositionPatient = [0.0, 0.0, 500.0]
    study_ingest([ds], Actor(user=admin_user))


def _identifying_values(study, patient) -> list[str]:
    values = [patient.name, patient.mrn, "Phantom", "19700101", study.study_uid]
    values += list(Instance.objects.filter(series__study=study).values_list("sop_uid", flat=True))
    values += list(study.series.values_list("series_uid", flat=True))
    if patient.birth_date:
        values += [patient.birth_date.strftime("%Y%m%d"), patient.birth_date.isoformat()]
    return values


def _mask_zyx(archive: zipfile.ZipFile) -> tuple[np.ndarray, np.ndarray]:
    image = nib.Nifti1Image.from_bytes(gzip.decompress(archive.read("series-001/mask.nii.gz")))
    return np.asarray(image.dataobj).transpose(2, 1, 0), image.affine


def _slice_of(archive: zipfile.ZipFile) -> dict[str, int]:
    out = {}
    for name in archive.namelist():
        if name.endswith(".dcm"):
            ds = pydicom.dcmread(io.BytesIO(archive.read(name)))
            out[str(ds.SOPInstanceUID)] = round(float(ds.ImagePositionPatient[2]) / SPACING[0])
    return out


def test_an_admin_downloads_the_de_identified_dataset_and_it_is_audited(
    client_as, admin_user, reviewed, model_version, patient
):
    _burned_in_copy(reviewed["series"], admin_user)
    response = client_as(admin_user).get(_dataset_url(model_version))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))

    images = [n for n in archive.namelist() if n.endswith(".dcm")]
    assert len(images) == SHAPE[0]  # the burned-in copy stayed out
    assert all(n.startswith("series-001/images/") for n in images)
    for name in archive.namelist():
        content = archive.read(name)
        if name.endswith(".gz"):
            content = gzip.decompress(content)
        for value in _identifying_values(reviewed["study"], patient):
            assert value.encode() not in content, (name, value)
    first = pydicom.dcmread(io.BytesIO(archive.read(images[0])))
    assert first.PatientIdentityRemoved == "YES" and first.PatientID == "ANON-0001"
    assert [c.CodeValue for c in first.DeidentificationMethodCodeSequence] == [
        "113100",
        "113107",
        "113109",
    ]

    manifest = json.loads(archive.read("examples.json"))
    assert sorted(e["verdict"] for e in manifest["examples"]) == [
        "accepted",
        "added",
        "edited",
        "rejected",
    ]
    assert manifest["counts"]["excluded_burned_in"] == 1
    assert manifest["counts"]["images"] == SHAPE[0]
    by_verdict = {e["verdict"]: e for e in manifest["examples"]}
    assert by_verdict["rejected"]["reason"] == "artefact" and not by_verdict["rejected"]["painted"]
    assert all(e["model_version"] == model_version.version for e in manifest["examples"])
    assert "Zhang" not in archive.read("examples.json").decode()  # free-text comments stay home
    slice_of = _slice_of(archive)
    for example in manifest["examples"]:
        for item in example["geometry"] + example["original_geometry"]:
            assert item["sop_instance_uid"] in slice_of  # the images' de-identified UIDs
    edited = by_verdict["edited"]
    assert edited["geometry"][0]["bbox"] == EDIT_BOX
    assert edited["original_geometry"] != edited["geometry"]

    event = AuditEvent.objects.get(action="export", object_type="modelversion")
    assert event.object_id == str(model_version.pk) and event.user_id == admin_user.pk
    assert event.patient_id is None
    assert event.details["examples"] == 4 and event.details["images"] == SHAPE[0]
    assert event.details["excluded_burned_in"] == 1
    assert len(event.details["sha256"]) == 64


def test_the_mask_paints_the_readers_final_geometry_aligned_with_the_volume(
    client_as, admin_user, reviewed, model_version
):
    response = client_as(admin_user).get(_dataset_url(model_version))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    mask, affine = _mask_zyx(archive)
    assert mask.shape == SHAPE and mask.dtype == np.uint8

    # Accepted: the model's SEG segment, voxel for voxel the big sphere.
    big = (two_nodule_hu() > -500) & (np.arange(SHAPE[1])[None, :, None] < 24)
    assert np.array_equal(mask[:, :24, :20] == 1, big[:, :24, :20])
    # Corrected: only the reader's 3x3 mask on its slice; the model's outline is not painted.
    c0, r0, c1, r1 = EDIT_BOX
    assert np.array_equal(mask[8, r0 : r1 + 1, c0 : c1 + 1], _edited_mask())
    assert mask[:, 24:, 20:].sum() == _edited_mask().sum()
    # Added without a mask: its box filled. Rejected: listed, painted 0.
    c0, r0, c1, r1 = ADDED_BOX
    assert mask[10, r0 : r1 + 1, c0 : c1 + 1].all()
    c0, r0, c1, r1 = REJECTED_BOX
    assert not mask[1, r0 : r1 + 1, c0 : c1 + 1].any()
    # Aligned: voxel (x, y, z) of the big sphere's centre is its RAS position.
    centre = affine @ np.array([12, 14, 4, 1.0])
    assert np.allclose(centre[:3], [-12.0, -14.0, 8.0])


def test_the_command_writes_the_same_dataset_and_audits_it(reviewed, model_version, tmp_path):
    out = tmp_path / "dataset.zip"
    stdout = io.StringIO()
    call_command(
        "export_review_dataset",
        str(out),
        "--model",
        model_version.model.name,
        "--version",
        model_version.version,
        stdout=stdout,
    )
    summary = json.loads(stdout.getvalue())
    assert summary["examples"] == 4 and summary["series"] == 1 and summary["masks"] == 1
    archive = zipfile.ZipFile(out)
    assert "examples.json" in archive.namelist() and "series-001/mask.nii.gz" in archive.namelist()
    event = AuditEvent.objects.get(action="export", object_type="modelversion")
    assert event.username == "manage.py export_review_dataset"
    assert event.details["sha256"] == summary["sha256"]
    assert not list(tmp_path.glob(".export-*"))


def test_the_command_refuses_an_unknown_version(model_version, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not_found"):
        call_command(
            "export_review_dataset",
            str(tmp_path / "x.zip"),
            "--model",
            model_version.model.name,
            "--version",
            "9.9.9",
        )
    assert not AuditEvent.objects.filter(action="export").exists()
