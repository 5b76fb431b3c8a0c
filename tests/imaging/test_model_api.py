"""The model service's API (/api/v1/ai/): who may use each endpoint and who may not, importing
bundles good and bad, activation and rollback with their audit rows, the bundle download, running
inference on a study, following and cancelling its jobs, and the error-code catalogue."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from clinic.audit import Actor
from clinic.models import AuditAction, AuditEvent, Role
from clinic.services import break_glass_open
from imaging.inference import JOB_ERRORS
from imaging.models import AIModel, Finding, InferenceJob, JobStatus, ModelVersion, RoutingRule
from imaging.registry import model_storage, model_version_activate

from ..conftest import api_auth
from ..factories import UserFactory
from .test_pages import ct_dataset, ingest

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system(None)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every request here signs in with HTTP Basic; the default hasher's million rounds per
    request would make this module slow without testing anything more."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- Building blocks --------------------------------------------------------------------------


def register(name: str = "lesion-finder", version: str = "1.0.0", *, activate: bool = False):
    """A registered version without torch: a small zip in the models storage and its row."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name}/configs/metadata.json", json.dumps({"version": version}))
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    stored = model_storage().save(f"{name}/{version}-{sha256[:16]}.zip", ContentFile(data))
    model, _ = AIModel.objects.get_or_create(name=name, defaults={"title": "Lesion finder"})
    row = ModelVersion.objects.create(
        model=model,
        version=version,
        bundle_file=stored,
        size=len(data),
        sha256=sha256,
        metadata={
            "version": version,
            "intended_use": "Tests only. Not for clinical use.",
            "description": "Marks voxels above -500 HU.",
            "eval_metrics": {"mean_dice": 0.91},
        },
        kind="segmentation",
        labels={"1": "lesion"},
        not_for_clinical_use=True,
    )
    if activate:
        model_version_activate(version=row, actor=SYSTEM)
    return row


def zip_folder(root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            archive.write(path, f"{root.name}/{path.relative_to(root).as_posix()}")
    return buffer.getvalue()


def bundle_zip(folder: Path, *, version: str = "1.0.0", spoil=None) -> bytes:
    """A real MONAI bundle (the threshold segmenter) zipped; ``spoil(root)`` breaks it first."""
    from tests.ai_core.builders import threshold_bundle  # torch: only for the tests that import

    root = threshold_bundle(folder, version=version)
    if spoil is not None:
        spoil(root)
    return zip_folder(root)


def upload(api, data: bytes, filename: str = "lesion-finder.zip", **fields):
    bundle = SimpleUploadedFile(filename, data, content_type="application/zip")
    return api.post(reverse("api-ai-models"), {"bundle": bundle, **fields}, format="multipart")


def error_of(response) -> dict:
    return response.json()["error"]


@pytest.fixture
def patient_account(patient):
    """A patient-role user whose own record is ``patient``: sees the study, not the AI API."""
    user = UserFactory(username="pat", role=Role.PATIENT, full_name="")
    patient.account = user
    patient.save(update_fields=["account"])
    return user


@pytest.fixture
def study(patient, admin_user):
    return ingest(admin_user, ct_dataset(patient_id=patient.mrn))


@pytest.fixture
def version(db):
    return register(activate=True)


@pytest.fixture
def job(study, version):
    return InferenceJob.objects.create(
        model_version=version,
        study=study,
        series=study.series.get(),
        series_instances=1,
        log="2026-01-01 10:00:00 attempt 1 on gpu-0",
    )


# --- Who may use which endpoint ---------------------------------------------------------------

PERSONAS = ["owner", "outsider", "colleague", "patient_account", "admin_user", "anonymous"]

# endpoint: (method, url from the world, {persona: status}); None: checked in a test of its own.
ACCESS = {
    "list models": (
        "get",
        lambda w: reverse("api-ai-models"),
        dict(owner=200, outsider=200, colleague=200, patient_account=403, admin_user=200),
    ),
    "model detail": (
        "get",
        lambda w: reverse("api-ai-model", kwargs={"name": w["version"].model.name}),
        dict(owner=200, outsider=200, colleague=200, patient_account=403, admin_user=200),
    ),
    "download bundle": (
        "get",
        lambda w: reverse(
            "api-ai-model-bundle",
            kwargs={"name": w["version"].model.name, "version": w["version"].version},
        ),
        dict(owner=200, outsider=200, colleague=200, patient_account=403, admin_user=200),
    ),
    "import bundle": (
        "post",
        lambda w: reverse("api-ai-models"),
        dict(owner=403, outsider=403, colleague=403, patient_account=403, admin_user=None),
    ),
    "activate version": (
        "post",
        lambda w: reverse(
            "api-ai-model-activate",
            kwargs={"name": w["version"].model.name, "version": w["version"].version},
        ),
        dict(owner=403, outsider=403, colleague=403, patient_account=403, admin_user=200),
    ),
    "roll back": (
        "post",
        lambda w: reverse("api-ai-model-rollback", kwargs={"name": w["version"].model.name}),
        # The administrator passes; there is no earlier version to go back to.
        dict(owner=403, outsider=403, colleague=403, patient_account=403, admin_user=409),
    ),
    "run inference": (
        "post",
        lambda w: reverse("api-ai-study-inference", kwargs={"study_uid": w["study"].study_uid}),
        dict(owner=202, outsider=404, colleague=403, patient_account=403, admin_user=202),
    ),
    "job status": (
        "get",
        lambda w: reverse("api-ai-job", kwargs={"pk": w["job"].pk}),
        dict(owner=200, outsider=404, colleague=200, patient_account=403, admin_user=200),
    ),
    "job log": (
        "get",
        lambda w: reverse("api-ai-job-log", kwargs={"pk": w["job"].pk}),
        dict(owner=200, outsider=404, colleague=200, patient_account=403, admin_user=200),
    ),
    "cancel job": (
        "post",
        lambda w: reverse("api-ai-job-cancel", kwargs={"pk": w["job"].pk}),
        dict(owner=200, outsider=404, colleague=403, patient_account=403, admin_user=200),
    ),
    "error codes": (
        "get",
        lambda w: reverse("api-ai-errors"),
        dict(owner=200, outsider=200, colleague=200, patient_account=200, admin_user=200),
    ),
}


CASES = [
    pytest.param(endpoint, who, id=f"{endpoint}-{who}")
    for endpoint, (_method, _url, expected) in ACCESS.items()
    for who in PERSONAS
    if who == "anonymous" or expected[who] is not None
]


@pytest.mark.parametrize(("endpoint", "who"), CASES)
def test_each_endpoint_answers_each_persona_as_its_rules_say(
    request, api, patient, patient_account, study, version, job, endpoint, who
):
    method, url_of, expected = ACCESS[endpoint]
    if who != "anonymous":
        api.credentials(**api_auth(request.getfixturevalue(who)))
    url = url_of({"study": study, "version": version, "job": job})

    response = getattr(api, method)(url, format="json")

    assert response.status_code == (401 if who == "anonymous" else expected[who])
    body = b"".join(response.streaming_content) if response.streaming else response.content
    body = body.decode(errors="replace")
    assert patient.name not in body and patient.mrn not in body
    if response.status_code >= 400:
        assert "error" in response.json()


def test_an_outsider_learns_nothing_of_a_job_nor_can_run_or_cancel(api_as, outsider, job, study):
    api = api_as(outsider)
    for response in (
        api.get(reverse("api-ai-job", kwargs={"pk": job.pk})),
        api.get(reverse("api-ai-job-log", kwargs={"pk": job.pk})),
        api.post(reverse("api-ai-job-cancel", kwargs={"pk": job.pk})),
        api.post(reverse("api-ai-study-inference", kwargs={"study_uid": study.study_uid})),
    ):
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
        assert "gpu-0" not in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert InferenceJob.objects.count() == 1
    assert not AuditEvent.objects.filter(user=outsider).exists()


# --- The registry -----------------------------------------------------------------------------


def test_the_list_shows_each_model_with_its_active_version_and_count(api_as, owner):
    register("lesion-finder", "1.0.0", activate=True)
    register("lesion-finder", "1.1.0")
    register("rib-fracture", "0.1.0")

    response = api_as(owner).get(reverse("api-ai-models"))

    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()["results"]}
    assert rows["lesion-finder"] == {
        "name": "lesion-finder",
        "title": "Lesion finder",
        "description": "",
        "created_at": rows["lesion-finder"]["created_at"],
        "active_version": "1.0.0",
        "versions": 2,
    }
    assert (rows["rib-fracture"]["active_version"], rows["rib-fracture"]["versions"]) == (None, 1)


def test_the_detail_lists_every_version_with_its_metadata(api_as, colleague):
    register("lesion-finder", "1.0.0", activate=True)
    newer = register("lesion-finder", "1.1.0")

    response = api_as(colleague).get(reverse("api-ai-model", kwargs={"name": "lesion-finder"}))

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "lesion-finder"
    versions = {v["version"]: v for v in body["versions"]}
    assert versions["1.0.0"]["is_active"] and versions["1.0.0"]["activated_at"]
    second = versions["1.1.0"]
    assert second["is_active"] is False and second["activated_at"] is None
    assert second["sha256"] == newer.sha256 and second["size"] == newer.size
    assert second["kind"] == "segmentation" and second["labels"] == {"1": "lesion"}
    assert second["not_for_clinical_use"] is True
    assert second["intended_use"] == "Tests only. Not for clinical use."
    assert second["description"] == "Marks voxels above -500 HU."
    assert second["eval_metrics"] == {"mean_dice": 0.91}
    assert second["bundle_url"] == "/api/v1/ai/models/lesion-finder/versions/1.1.0/bundle"


def test_an_unknown_model_is_404(api_as, owner):
    response = api_as(owner).get(reverse("api-ai-model", kwargs={"name": "nothing"}))
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_an_admin_uploads_a_good_bundle_and_it_is_registered_and_active(
    api_as, admin_user, tmp_path
):
    data = bundle_zip(tmp_path / "lesion-finder")

    response = upload(api_as(admin_user), data, activate="true")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["version"], body["is_active"]) == ("lesion-finder", "1.0.0", True)
    version = ModelVersion.objects.get(model__name="lesion-finder")
    assert version.is_active and version.imported_by == admin_user
    assert body["sha256"] == version.sha256
    assert version.model.title == "Threshold segmenter"
    assert AuditEvent.objects.filter(
        action=AuditAction.IMPORT, object_id=str(version.pk), user=admin_user
    ).exists()


def test_an_upload_without_activate_leaves_the_active_version_alone(api_as, admin_user, tmp_path):
    current = register("lesion-finder", "0.9.0", activate=True)

    response = upload(api_as(admin_user), bundle_zip(tmp_path / "lesion-finder"))

    assert response.status_code == 201, response.content
    assert response.json()["is_active"] is False
    current.refresh_from_db()
    assert current.is_active


def test_a_bundle_without_metadata_is_refused_with_its_code(api_as, admin_user, tmp_path):
    data = bundle_zip(
        tmp_path / "lesion-finder", spoil=lambda root: (root / "configs/metadata.json").unlink()
    )

    response = upload(api_as(admin_user), data)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["details"]["bundle"][0]["code"] == "metadata_missing"
    assert "metadata.json" in error["details"]["bundle"][0]["message"]
    assert not ModelVersion.objects.exists()


def test_a_bundle_with_corrupt_weights_is_refused_with_its_code(api_as, admin_user, tmp_path):
    data = bundle_zip(
        tmp_path / "lesion-finder",
        spoil=lambda root: (root / "models/model.ts").write_bytes(b"not a TorchScript archive"),
    )

    response = upload(api_as(admin_user), data)

    assert response.status_code == 400
    assert error_of(response)["details"]["bundle"][0]["code"] == "weights_corrupt"
    assert not ModelVersion.objects.exists()


def test_a_file_that_is_no_zip_is_refused(api_as, admin_user):
    response = upload(api_as(admin_user), b"just some text", filename="notes.txt")

    assert response.status_code == 400
    assert error_of(response)["details"]["bundle"][0]["code"] == "not_a_bundle"


def test_an_upload_without_a_file_is_a_validation_error(api_as, admin_user):
    response = api_as(admin_user).post(reverse("api-ai-models"), {}, format="multipart")

    assert response.status_code == 400
    assert "bundle" in error_of(response)["details"]


def test_the_same_version_twice_is_a_conflict(api_as, admin_user, tmp_path):
    data = bundle_zip(tmp_path / "lesion-finder")
    api = api_as(admin_user)
    assert upload(api, data).status_code == 201

    response = upload(api, data)

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "conflict"
    assert error["details"]["bundle"][0]["code"] == "version_exists"
    assert ModelVersion.objects.count() == 1


def test_a_doctor_cannot_upload_a_bundle(api_as, owner):
    response = upload(api_as(owner), b"PK\x05\x06" + b"\0" * 18)

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert not ModelVersion.objects.exists()


def test_activating_a_version_switches_the_active_one_and_is_audited(api_as, admin_user):
    first = register("lesion-finder", "1.0.0", activate=True)
    second = register("lesion-finder", "1.1.0")
    url = reverse("api-ai-model-activate", kwargs={"name": "lesion-finder", "version": "1.1.0"})

    response = api_as(admin_user).post(url, {"reason": "better recall"}, format="json")

    assert response.status_code == 200
    assert (response.json()["version"], response.json()["is_active"]) == ("1.1.0", True)
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.is_active and not first.is_active
    event = AuditEvent.objects.get(user=admin_user, object_id=str(second.pk))
    assert (event.action, event.reason) == (AuditAction.UPDATE, "better recall")
    assert event.details["event"] == "activate" and event.details["previous"] == "1.0.0"


def test_activating_an_unknown_version_is_404(api_as, admin_user, version):
    url = reverse("api-ai-model-activate", kwargs={"name": version.model.name, "version": "9.9"})
    assert api_as(admin_user).post(url).status_code == 404


def test_a_rollback_reactivates_the_previous_version_and_is_audited(api_as, admin_user):
    first = register("lesion-finder", "1.0.0", activate=True)
    second = register("lesion-finder", "1.1.0", activate=True)
    url = reverse("api-ai-model-rollback", kwargs={"name": "lesion-finder"})

    response = api_as(admin_user).post(url, {"reason": "false positives"}, format="json")

    assert response.status_code == 200
    assert response.json()["version"] == "1.0.0"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.is_active and not second.is_active
    event = AuditEvent.objects.get(user=admin_user, object_id=str(first.pk))
    assert event.reason == "false positives"
    assert (event.details["event"], event.details["previous"]) == ("activate", "1.1.0")


def test_a_rollback_with_nothing_earlier_is_a_conflict(api_as, admin_user, version):
    url = reverse("api-ai-model-rollback", kwargs={"name": version.model.name})

    response = api_as(admin_user).post(url)

    assert response.status_code == 409
    assert error_of(response)["details"]["model"][0]["code"] == "no_previous_version"
    version.refresh_from_db()
    assert version.is_active


def test_the_download_is_the_stored_zip_with_its_checksum_as_etag(api_as, owner, version):
    url = reverse(
        "api-ai-model-bundle", kwargs={"name": version.model.name, "version": version.version}
    )
    api = api_as(owner)

    response = api.get(url)

    assert response.status_code == 200
    with model_storage().open(version.bundle_file, "rb") as stored:
        assert b"".join(response.streaming_content) == stored.read()
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="lesion-finder-1.0.0.zip"'
    assert response["ETag"] == f'"{version.sha256}"'
    assert api.get(url, HTTP_IF_NONE_MATCH=f'"{version.sha256}"').status_code == 304
    assert api.get(url, HTTP_ACCEPT="application/zip").status_code == 200


# --- Inference on a study ---------------------------------------------------------------------


def run_url(study) -> str:
    return reverse("api-ai-study-inference", kwargs={"study_uid": study.study_uid})


def test_a_doctor_runs_a_model_on_a_study_and_gets_its_queued_jobs(api_as, owner, study, version):
    response = api_as(owner).post(run_url(study), {"model": "lesion-finder"}, format="json")

    assert response.status_code == 202
    (row,) = response.json()
    job = InferenceJob.objects.get()
    assert row["job"] == job.pk
    assert (row["status"], row["state"], row["progress"]) == ("queued", "queued", 0)
    assert (row["model"], row["version"], row["study"]) == (
        "lesion-finder",
        "1.0.0",
        study.study_uid,
    )
    assert row["series"] == study.series.get().series_uid
    assert row["error"] is None and row["findings"] == []
    assert (job.trigger, job.requested_by, job.model_version) == ("api", owner, version)
    assert AuditEvent.objects.filter(
        user=owner, action=AuditAction.CREATE, object_id=str(study.pk), patient=study.patient
    ).exists()


def test_without_a_model_the_routing_rules_choose(api_as, admin_user, study, version):
    register("rib-fracture", "0.1.0", activate=True)  # no routing rule: not run
    RoutingRule.objects.create(model=version.model, modality="CT")

    response = api_as(admin_user).post(run_url(study), {}, format="json")

    assert response.status_code == 202
    assert [row["model"] for row in response.json()] == ["lesion-finder"]


def test_asking_again_while_queued_returns_the_same_job(api_as, owner, study, version):
    api = api_as(owner)
    first = api.post(run_url(study), {"model": "lesion-finder"}, format="json").json()
    again = api.post(run_url(study), {"model": "lesion-finder"}, format="json").json()
    assert [r["job"] for r in first] == [r["job"] for r in again]
    assert InferenceJob.objects.count() == 1


def test_an_unknown_model_is_a_validation_error(api_as, owner, study, version):
    response = api_as(owner).post(run_url(study), {"model": "nothing"}, format="json")

    assert response.status_code == 400
    assert "model" in error_of(response)["details"]
    assert not InferenceJob.objects.exists()


def test_a_model_without_an_active_version_is_a_conflict(api_as, owner, study):
    register("lesion-finder", "1.0.0")

    response = api_as(owner).post(run_url(study), {"model": "lesion-finder"}, format="json")

    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    assert not InferenceJob.objects.exists()


def test_an_unknown_study_is_404(api_as, owner, version):
    url = reverse("api-ai-study-inference", kwargs={"study_uid": "1.2.3.4"})
    assert api_as(owner).post(url, {"model": "lesion-finder"}, format="json").status_code == 404


# --- Jobs -------------------------------------------------------------------------------------


def test_the_job_status_has_the_summary_progress_and_findings(api_as, colleague, job, study):
    InferenceJob.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED,
        progress=100,
        attempts=1,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    Finding.objects.create(
        job=job,
        model_version=job.model_version,
        study=study,
        series=job.series,
        label="lesion",
        kind="segmentation",
        score=0.93,
        diameter_mm=10.0,
        volume_mm3=523.6,
        instances=[{"sop_instance_uid": "1.2.3", "frame": 1, "bbox": [1, 2, 3, 4]}],
    )

    response = api_as(colleague).get(reverse("api-ai-job", kwargs={"pk": job.pk}))

    assert response.status_code == 200
    body = response.json()
    assert (body["job"], body["status"], body["state"]) == (job.pk, "succeeded", "succeeded")
    assert (body["progress"], body["attempts"], body["error"]) == (100, 1, None)
    assert body["started_at"] and body["finished_at"] and body["created_at"]
    (finding,) = body["findings"]
    assert (finding["label"], finding["score"], finding["diameter_mm"]) == ("lesion", 0.93, 10.0)
    assert finding["status"] == "pending"
    assert finding["instances"] == [{"sop_instance_uid": "1.2.3", "frame": 1, "bbox": [1, 2, 3, 4]}]


def test_a_failed_job_says_why(api_as, owner, job):
    InferenceJob.objects.filter(pk=job.pk).update(
        status=JobStatus.SKIPPED, error_code="too_few_slices", error_message="1 slice; needs 10."
    )

    body = api_as(owner).get(reverse("api-ai-job", kwargs={"pk": job.pk})).json()

    assert (body["status"], body["state"]) == ("failed", "skipped")
    assert body["error"] == {"code": "too_few_slices", "message": "1 slice; needs 10."}


def test_polling_a_job_is_audited_once_per_user_and_study(api_as, owner, admin_user, job, study):
    url = reverse("api-ai-job", kwargs={"pk": job.pk})
    api = api_as(owner)
    for _ in range(3):
        assert api.get(url).status_code == 200
    assert api.get(reverse("api-ai-job-log", kwargs={"pk": job.pk})).status_code == 200
    api_as(admin_user).get(url)

    reads = AuditEvent.objects.filter(
        action=AuditAction.VIEW, object_type="study", object_id=str(study.pk)
    )
    assert sorted(reads.values_list("username", flat=True)) == ["alice", "root"]
    assert reads.filter(user=owner, patient=study.patient).get().details["via"] == "api"


def test_a_read_through_emergency_access_is_flagged(api_as, outsider, job, study):
    grant = break_glass_open(
        actor=Actor.system(outsider), patient=study.patient, reason="unconscious, no relatives"
    )

    response = api_as(outsider).get(reverse("api-ai-job", kwargs={"pk": job.pk}))

    assert response.status_code == 200
    read = AuditEvent.objects.get(action=AuditAction.VIEW, object_type="study", user=outsider)
    assert read.flagged and read.reason.startswith(f"break-glass #{grant.pk}")


def test_a_job_is_read_once_per_browser_session_too(client_as, owner, job, study):
    client = client_as(owner)
    for _ in range(2):
        assert client.get(reverse("api-ai-job", kwargs={"pk": job.pk})).status_code == 200
    assert (
        AuditEvent.objects.filter(action=AuditAction.VIEW, object_type="study", user=owner).count()
        == 1
    )


def test_the_log_comes_as_json_or_as_plain_text(api_as, owner, job):
    url = reverse("api-ai-job-log", kwargs={"pk": job.pk})
    api = api_as(owner)

    as_json = api.get(url)
    as_text = api.get(url, HTTP_ACCEPT="text/plain")

    assert as_json.json() == {"job": job.pk, "state": "queued", "progress": 0, "log": job.log}
    assert as_text.status_code == 200
    assert as_text["Content-Type"].startswith("text/plain")
    assert as_text.content.decode() == job.log


def test_a_log_refused_as_plain_text_still_has_the_error_body(api_as, outsider, job):
    response = api_as(outsider).get(
        reverse("api-ai-job-log", kwargs={"pk": job.pk}), HTTP_ACCEPT="text/plain"
    )
    assert response.status_code == 404
    assert json.loads(response.content)["error"]["code"] == "not_found"


def test_a_doctor_cancels_a_queued_job_once(api_as, owner, job):
    url = reverse("api-ai-job-cancel", kwargs={"pk": job.pk})
    api = api_as(owner)

    response = api.post(url)

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["state"]) == ("failed", "cancelled")
    assert body["error"]["code"] == "cancelled"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.finished_at
    assert AuditEvent.objects.filter(
        user=owner, object_type="inferencejob", object_id=str(job.pk), action=AuditAction.UPDATE
    ).exists()

    again = api.post(url)

    assert again.status_code == 409
    assert error_of(again)["code"] == "conflict"


def test_an_unknown_job_is_404(api_as, admin_user):
    response = api_as(admin_user).get(reverse("api-ai-job", kwargs={"pk": 999}))
    assert response.status_code == 404


# --- The error-code catalogue -----------------------------------------------------------------


def test_the_error_catalogue_lists_every_inference_code(api_as, nurse_or_owner):
    response = api_as(nurse_or_owner).get(reverse("api-ai-errors"))

    assert response.status_code == 200
    rows = {row["code"]: row["description"] for row in response.json()}
    assert set(rows) == set(JOB_ERRORS)
    assert rows["weights_corrupt"] == str(JOB_ERRORS["weights_corrupt"])


@pytest.fixture(params=["colleague", "owner"])
def nurse_or_owner(request):
    return request.getfixturevalue(request.param)


def test_the_error_catalogue_needs_a_signed_in_user(api):
    assert api.get(reverse("api-ai-errors")).status_code == 401


def test_the_schema_documents_the_model_service(client_as, admin_user):
    schema = client_as(admin_user).get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    paths = schema.json()["paths"]
    assert "/api/v1/ai/studies/{study_uid}/inference" in paths
    assert "/api/v1/ai/jobs/{id}/" in paths
    assert "/api/v1/ai/models/{name}/versions/{version}/bundle" in paths
