"""The model service in the Django admin: importing a bundle (and its clear refusals), activating
and rolling back versions through the audited services, editing routing rules inline, and the
read-only jobs (with their log) and findings."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clinic.models import AuditAction, AuditEvent
from imaging.models import Finding, InferenceJob, JobStatus, ModelVersion, RoutingRule

from .test_model_api import bundle_zip, fast_password_hashing, register  # noqa: F401
from .test_pages import ct_dataset, ingest

pytestmark = pytest.mark.django_db

IMPORT_URL = "admin:imaging_aimodel_import"


@pytest.fixture
def admin_client(client_as, admin_user):
    client = client_as(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the messages below are the English ones
    return client


def change_form_data(response) -> dict:
    """What the browser would post back from a change page as it was served."""
    data = {}

    def add(field):
        value = field.value()
        if isinstance(value, bool):
            if value:
                data[field.html_name] = "on"
        elif value is not None:
            data[field.html_name] = value

    for field in response.context["adminform"].form:
        add(field)
    for inline in response.context["inline_admin_formsets"]:
        for field in inline.formset.management_form:
            add(field)
        for form in inline.formset.forms:
            for field in form:
                add(field)
    return data


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Importing a bundle -----------------------------------------------------------------------


def test_the_model_list_offers_import_instead_of_add(admin_client):
    response = admin_client.get(reverse("admin:imaging_aimodel_changelist"))

    assert response.status_code == 200
    assert reverse(IMPORT_URL).encode() in response.content
    assert b"Import bundle" in response.content
    assert reverse("admin:imaging_aimodel_add").encode() not in response.content


def test_an_admin_imports_a_bundle_and_lands_on_the_model(admin_client, admin_user, tmp_path):
    data = bundle_zip(tmp_path / "lesion-finder")
    assert admin_client.get(reverse(IMPORT_URL)).status_code == 200

    response = admin_client.post(
        reverse(IMPORT_URL),
        {"bundle": SimpleUploadedFile("lesion-finder.zip", data), "activate": "on"},
    )

    version = ModelVersion.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:imaging_aimodel_change", args=[version.model_id])
    assert (version.model.name, version.version, version.is_active) == (
        "lesion-finder",
        "1.0.0",
        True,
    )
    assert AuditEvent.objects.filter(
        action=AuditAction.IMPORT, user=admin_user, object_id=str(version.pk)
    ).exists()
    page = admin_client.get(response.url)
    assert "Imported lesion-finder version 1.0.0." in messages_of(page)


def test_an_import_may_name_the_model(admin_client, tmp_path):
    data = bundle_zip(tmp_path / "lesion-finder")

    admin_client.post(
        reverse(IMPORT_URL),
        {"bundle": SimpleUploadedFile("b.zip", data), "name": "chest-lesions"},
    )

    version = ModelVersion.objects.get()
    assert (version.model.name, version.is_active) == ("chest-lesions", False)


def test_a_bad_bundle_is_refused_with_its_reason_on_the_form(admin_client, tmp_path):
    data = bundle_zip(
        tmp_path / "lesion-finder", spoil=lambda root: (root / "configs/metadata.json").unlink()
    )

    response = admin_client.post(
        reverse(IMPORT_URL), {"bundle": SimpleUploadedFile("lesion-finder.zip", data)}
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["bundle"]
    assert errors == ["configs/metadata.json is missing. (code: metadata_missing)"]
    assert "metadata_missing" in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_the_same_version_twice_is_refused_on_the_form(admin_client, tmp_path):
    data = bundle_zip(tmp_path / "lesion-finder")
    admin_client.post(reverse(IMPORT_URL), {"bundle": SimpleUploadedFile("l.zip", data)})

    response = admin_client.post(reverse(IMPORT_URL), {"bundle": SimpleUploadedFile("l.zip", data)})

    assert response.status_code == 200
    assert "version_exists" in response.context["form"].errors["bundle"][0]
    assert ModelVersion.objects.count() == 1


def test_the_import_page_is_for_admins_only(client_as, owner):
    response = client_as(owner).get(reverse(IMPORT_URL))

    assert response.status_code == 302
    assert reverse("admin:login") in response.url


# --- Activation and rollback ------------------------------------------------------------------


def activate(client, *versions):
    return client.post(
        reverse("admin:imaging_modelversion_changelist"),
        {"action": "activate_selected", "_selected_action": [v.pk for v in versions]},
        follow=True,
    )


def test_the_activate_action_switches_the_version_through_the_registry(admin_client, admin_user):
    first = register("lesion-finder", "1.0.0", activate=True)
    second = register("lesion-finder", "1.1.0")

    response = activate(admin_client, second)

    first.refresh_from_db()
    second.refresh_from_db()
    assert second.is_active and not first.is_active
    assert "lesion-finder: version 1.1.0 is active." in messages_of(response)
    event = AuditEvent.objects.get(user=admin_user, object_id=str(second.pk))
    assert (event.action, event.details["event"], event.details["previous"]) == (
        "update",
        "activate",
        "1.0.0",
    )


def test_two_versions_of_one_model_cannot_both_be_activated(admin_client):
    first = register("lesion-finder", "1.0.0", activate=True)
    second = register("lesion-finder", "1.1.0")
    third = register("lesion-finder", "1.2.0")

    response = activate(admin_client, second, third)

    assert "lesion-finder: choose one version to activate, not 2." in messages_of(response)
    assert list(ModelVersion.objects.filter(is_active=True)) == [first]


def test_the_version_list_shows_which_is_active_and_the_form_is_read_only(admin_client):
    version = register("lesion-finder", "1.0.0", activate=True)

    listing = admin_client.get(reverse("admin:imaging_modelversion_changelist"))
    page = admin_client.get(reverse("admin:imaging_modelversion_change", args=[version.pk]))
    admin_client.post(
        reverse("admin:imaging_modelversion_change", args=[version.pk]), {"is_active": ""}
    )

    assert listing.status_code == 200 and b"Activate selected version" in listing.content
    assert b'alt="True"' in listing.content
    assert page.status_code == 200 and b'name="is_active"' not in page.content
    version.refresh_from_db()
    assert version.is_active


def test_the_rollback_action_reactivates_the_previous_version(admin_client, admin_user):
    first = register("lesion-finder", "1.0.0", activate=True)
    register("lesion-finder", "1.1.0", activate=True)
    lonely = register("rib-fracture", "0.1.0", activate=True)

    response = admin_client.post(
        reverse("admin:imaging_aimodel_changelist"),
        {"action": "roll_back", "_selected_action": [first.model_id, lonely.model_id]},
        follow=True,
    )

    first.refresh_from_db()
    assert first.is_active
    shown = messages_of(response)
    assert "lesion-finder: version 1.0.0 is active again." in shown
    assert any("no_previous_version" in m for m in shown)
    assert AuditEvent.objects.filter(user=admin_user, object_id=str(first.pk)).exists()


# --- Routing rules ----------------------------------------------------------------------------


def test_routing_rules_are_added_and_edited_on_the_models_page(admin_client):
    version = register("lesion-finder", "1.0.0", activate=True)
    url = reverse("admin:imaging_aimodel_change", args=[version.model_id])
    data = change_form_data(admin_client.get(url))
    data.update(
        {
            "title": "Lung lesions",
            "routing_rules-TOTAL_FORMS": "1",
            "routing_rules-0-enabled": "on",
            "routing_rules-0-modality": "CT",
            "routing_rules-0-body_part": "CHEST",
            "routing_rules-0-series_description_pattern": "lung|chest",
            "routing_rules-0-min_slices": "20",
        }
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    rule = RoutingRule.objects.get()
    assert (rule.model_id, rule.modality, rule.body_part, rule.min_slices) == (
        version.model_id,
        "CT",
        "CHEST",
        20,
    )
    assert rule.series_description_pattern == "lung|chest" and rule.enabled
    version.model.refresh_from_db()
    assert version.model.title == "Lung lesions"

    data = change_form_data(admin_client.get(url))
    data.pop("routing_rules-0-enabled")
    assert admin_client.post(url, data).status_code == 302
    rule.refresh_from_db()
    assert not rule.enabled


def test_a_routing_rule_with_a_broken_pattern_is_refused(admin_client):
    version = register("lesion-finder", "1.0.0")
    url = reverse("admin:imaging_aimodel_change", args=[version.model_id])
    data = change_form_data(admin_client.get(url))
    data.update(
        {
            "routing_rules-TOTAL_FORMS": "1",
            "routing_rules-0-enabled": "on",
            "routing_rules-0-series_description_pattern": "(chest",
            "routing_rules-0-min_slices": "1",
        }
    )

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "Not a valid regular expression" in response.content.decode()
    assert not RoutingRule.objects.exists()


# --- Jobs and findings ------------------------------------------------------------------------


@pytest.fixture
def job(patient, admin_user):
    study = ingest(admin_user, ct_dataset(patient_id=patient.mrn))
    version = register("lesion-finder", "1.0.0", activate=True)
    return InferenceJob.objects.create(
        model_version=version,
        study=study,
        series=study.series.get(),
        log="attempt 1 on gpu-0\nfailed: model_error: <boom>",
        status=JobStatus.FAILED,
        error_code="model_error",
    )


def test_a_jobs_page_shows_its_log_and_cannot_be_changed(admin_client, job):
    page = admin_client.get(reverse("admin:imaging_inferencejob_change", args=[job.pk]))

    assert page.status_code == 200
    body = page.content.decode()
    assert "attempt 1 on gpu-0" in body
    assert "&lt;boom&gt;" in body and "<boom>" not in body
    assert 'name="status"' not in body


def test_jobs_are_filtered_by_status_and_model(admin_client, job):
    queued = InferenceJob.objects.create(
        model_version=job.model_version, study=job.study, series=job.series
    )
    changelist = reverse("admin:imaging_inferencejob_changelist")

    failed = admin_client.get(changelist, {"status__exact": "failed"})
    by_model = admin_client.get(
        changelist, {"model_version__model__id__exact": job.model_version.model_id}
    )

    assert list(failed.context["cl"].result_list) == [job]
    assert set(by_model.context["cl"].result_list) == {job, queued}


def test_the_cancel_action_goes_through_the_service(admin_client, admin_user, job):
    queued = InferenceJob.objects.create(
        model_version=job.model_version, study=job.study, series=job.series
    )

    response = admin_client.post(
        reverse("admin:imaging_inferencejob_changelist"),
        {"action": "cancel_selected", "_selected_action": [job.pk, queued.pk]},
        follow=True,
    )

    queued.refresh_from_db()
    job.refresh_from_db()
    assert (queued.status, job.status) == (JobStatus.CANCELLED, JobStatus.FAILED)
    assert "1 job cancelled." in messages_of(response)
    assert AuditEvent.objects.filter(
        user=admin_user, object_type="inferencejob", object_id=str(queued.pk)
    ).exists()


def test_findings_are_listed_read_only(admin_client, job):
    finding = Finding.objects.create(
        job=job,
        model_version=job.model_version,
        study=job.study,
        series=job.series,
        label="lesion",
        kind="segmentation",
        diameter_mm=12.5,
    )

    listing = admin_client.get(reverse("admin:imaging_finding_changelist"))
    page = admin_client.get(reverse("admin:imaging_finding_change", args=[finding.pk]))

    assert listing.status_code == 200 and b"lesion" in listing.content
    assert page.status_code == 200 and b'name="label"' not in page.content
    assert admin_client.get(reverse("admin:imaging_finding_add")).status_code == 403
