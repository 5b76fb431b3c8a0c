"""The registry pages and the study page's AI section: who may see and do what."""

import pytest
from django.urls import reverse

from clinic.audit import Actor
from clinic.models import AuditEvent
from imaging.models import InferenceJob, ModelVersion, RoutingRule
from imaging.registry import model_version_import
from tests.ai_core.builders import threshold_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_versions(tmp_path):
    first = model_version_import(
        source=threshold_bundle(tmp_path / "a" / "lesion-finder", version="1.0.0"),
        actor=Actor.system(None),
        activate=True,
    )
    second = model_version_import(
        source=threshold_bundle(tmp_path / "b" / "lesion-finder", version="1.1.0"),
        actor=Actor.system(None),
    )
    return first, second


def test_staff_see_the_model_card_with_its_warning_and_history(client_as, owner, model_versions):
    client = client_as(owner)
    listing = client.get(reverse("imaging:model_list"))
    assert listing.status_code == 200 and b"lesion-finder" in listing.content
    card = client.get(reverse("imaging:model_card", args=["lesion-finder"]))
    html = card.content.decode()
    assert card.status_code == 200
    assert 'data-testid="not-clinical"' in html
    assert "1.0.0" in html and "1.1.0" in html
    assert "Activate" not in html  # doctors do not manage the registry


@pytest.mark.parametrize("persona", ["receptionist", "scheduler"])
def test_non_clinical_roles_cannot_open_the_registry(client_as, request, persona, model_versions):
    client = client_as(request.getfixturevalue(persona))
    assert client.get(reverse("imaging:model_list")).status_code == 403
    assert client.get(reverse("imaging:model_card", args=["lesion-finder"])).status_code == 403


def test_an_admin_activates_and_rolls_back_from_the_card(client_as, admin_user, model_versions):
    first, second = model_versions
    client = client_as(admin_user)
    url = reverse("imaging:model_version_activate", args=["lesion-finder", second.pk])
    assert client.post(url).status_code == 302
    assert ModelVersion.objects.get(is_active=True) == second
    client.post(reverse("imaging:model_rollback", args=["lesion-finder"]), {"reason": "recall"})
    assert ModelVersion.objects.get(is_active=True) == first
    assert AuditEvent.objects.filter(object_type="modelversion", reason="recall").exists()


def test_a_doctor_cannot_activate(client_as, owner, model_versions):
    _, second = model_versions
    url = reverse("imaging:model_version_activate", args=["lesion-finder", second.pk])
    assert client_as(owner).post(url).status_code == 403
    assert not ModelVersion.objects.get(pk=second.pk).is_active


@pytest.fixture
def study(patient):
    from imaging.models import Series, Study

    study = Study.objects.create(study_uid="1.2.3.4", patient=patient, dicom_patient_id=patient.mrn)
    Series.objects.create(
        series_uid="1.2.3.4.1",
        study=study,
        modality="CT",
        body_part_examined="CHEST",
        number_of_instances=3,
    )
    return study


def test_the_doctor_runs_ai_from_the_study_page_and_sees_why_a_series_was_skipped(
    client_as, owner, study, model_versions
):
    first, _ = model_versions
    RoutingRule.objects.create(model=first.model, modality="CT", min_slices=10)
    client = client_as(owner)
    response = client.post(reverse("imaging:study_inference_run", args=[study.pk]), follow=True)
    (job,) = InferenceJob.objects.filter(study=study)
    assert (job.status, job.error_code) == ("skipped", "too_few_slices")
    html = response.content.decode()
    assert "too_few_slices" in html and "needs at least 10" in html
    status = client.get(reverse("imaging:study_inference_status", args=[study.pk])).json()
    assert status["jobs"][0]["finished"] is True


def test_an_outsider_can_neither_run_ai_nor_read_the_jobs(
    client_as, outsider, study, model_versions
):
    client = client_as(outsider)
    assert client.post(reverse("imaging:study_inference_run", args=[study.pk])).status_code == 404
    assert client.get(reverse("imaging:study_inference_status", args=[study.pk])).status_code == 404
    assert not InferenceJob.objects.exists()


def test_a_nurse_sees_findings_but_cannot_run_ai(client_as, study, model_versions, cardiology):
    from tests.factories import UserFactory

    nurse = UserFactory(role="nurse", department=cardiology)
    client = client_as(nurse)
    page = client.get(reverse("imaging:study_detail", args=[study.pk]))
    assert page.status_code == 200  # the patient had an encounter in the nurse's department
    assert 'data-testid="ai-section"' in page.content.decode()
    assert 'data-testid="run-ai"' not in page.content.decode()
    assert client.post(reverse("imaging:study_inference_run", args=[study.pk])).status_code == 403
