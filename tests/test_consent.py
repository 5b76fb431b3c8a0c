"""Consent under PIPL (clinic.consent): per purpose, with history, audited; AI does not run on
the images of a patient who declined; the patient changes their own consents and downloads
their data from /me/privacy/, and nothing there is chosen by an id from the request."""

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation

from clinic.audit import Actor
from clinic.consent import NOT_ASKED, ai_allowed, consent_record, consent_status
from clinic.models import AuditEvent, PatientConsent, Role
from imaging import tasks
from imaging.inference import JOB_ERRORS, inference_request, job_run
from imaging.models import (
    Finding,
    InferenceJob,
    RoutingRule,
    Series,
    Study,
    StudyReport,
)
from imaging.registry import model_version_import
from tests.ai_core.builders import threshold_bundle

from .factories import EncounterFactory, PatientFactory, UserFactory


def zh(text: str) -> str:
    """``text`` as the pages show it: they are served in Chinese."""
    with translation.override("zh-hans"):
        return translation.gettext(text)


pytestmark = pytest.mark.django_db


def record(patient, user, purpose="ai_analysis", decision="declined", method="paper", note=""):
    return consent_record(
        patient=patient,
        purpose=purpose,
        decision=decision,
        method=method,
        note=note,
        actor=Actor(user=user, ip="10.0.0.1"),
    )


@pytest.fixture
def account(patient):
    """The patient's own login."""
    user = UserFactory(username="tel-13900000001", role=Role.PATIENT, full_name="")
    patient.account = user
    patient.save(update_fields=["account"])
    return user


@pytest.fixture
def other_patient(owner, cardiology):
    other = PatientFactory(name="孙悦")
    EncounterFactory(
        patient=other, practitioner=owner, department=cardiology, chief_complaint="右膝疼痛"
    )
    other.account = UserFactory(username="tel-13900000002", role=Role.PATIENT, full_name="")
    other.save(update_fields=["account"])
    return other


# --- Recording -------------------------------------------------------------------------------


def test_a_patient_never_asked_has_the_status_not_asked_and_ai_may_run(patient):
    assert consent_status(patient, "processing") == NOT_ASKED
    assert consent_status(patient, "ai_analysis") == NOT_ASKED
    assert ai_allowed(patient)


def test_each_decision_is_a_new_row_the_latest_is_in_force_and_each_is_audited(patient, owner):
    granted = record(patient, owner, decision="granted", note="signed form 2024-17")
    withdrawn = record(patient, owner, decision="withdrawn", method="verbal")
    assert consent_status(patient, "ai_analysis") == "withdrawn"
    assert consent_status(patient, "processing") == NOT_ASKED
    granted.refresh_from_db()
    assert not granted.current and withdrawn.current
    assert PatientConsent.objects.filter(patient=patient).count() == 2
    events = AuditEvent.objects.filter(object_type="patientconsent").order_by("seq")
    assert [(e.action, e.details["decision"], e.details["previous"]) for e in events] == [
        ("create", "granted", NOT_ASKED),
        ("update", "withdrawn", "granted"),
    ]
    assert all(e.patient_id == patient.pk and e.details["purpose"] == "ai_analysis" for e in events)


def test_only_a_granted_consent_can_be_withdrawn(patient, owner):
    with pytest.raises(ValidationError):
        record(patient, owner, decision="withdrawn")
    assert not PatientConsent.objects.exists()


def test_staff_cannot_record_a_decision_as_made_from_the_patients_account(patient, owner):
    with pytest.raises(ValidationError):
        record(patient, owner, method="patient_account")


def test_an_outsider_cannot_record_consent(patient, outsider):
    with pytest.raises(PermissionDenied):
        record(patient, outsider)


def test_the_database_keeps_one_decision_in_force_per_purpose(patient, owner):
    record(patient, owner, decision="granted")
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientConsent.objects.create(
            patient=patient,
            purpose="ai_analysis",
            decision="declined",
            method="paper",
            recorded_by=owner,
        )


# --- The AI gate -----------------------------------------------------------------------------


@pytest.fixture
def model_version(tmp_path, monkeypatch):
    # Nothing is sent to a broker: the tests run jobs in-process with job_run.
    monkeypatch.setattr(tasks.inference_job_run, "apply_async", lambda *args, **kwargs: None)
    return model_version_import(
        source=threshold_bundle(tmp_path / "bundle" / "lesion-finder"),
        actor=Actor.system(None),
        activate=True,
    )


def make_study(patient, uid="1.2.3.4"):
    study = Study.objects.create(
        study_uid=uid,
        patient=patient,
        dicom_patient_id=patient.mrn if patient else "UNKNOWN",
        study_description="CT chest",
        modalities="CT",
    )
    Series.objects.create(
        series_uid=f"{uid}.1",
        study=study,
        modality="CT",
        body_part_examined="CHEST",
        number_of_instances=3,
    )
    return study


def test_a_declined_ai_consent_gives_a_skipped_job_with_the_reason(patient, owner, model_version):
    record(patient, owner, decision="declined")
    study = make_study(patient)
    (job,) = inference_request(study=study, actor=Actor(user=owner), model=model_version.model)
    assert (job.status, job.error_code) == ("skipped", "consent_declined")
    assert "declined consent to AI analysis" in job.error_message
    assert not InferenceJob.objects.filter(status__in=["queued", "running"]).exists()


def test_a_declined_processing_consent_stops_ai_too(patient, owner, model_version):
    record(patient, owner, purpose="processing", decision="declined")
    (job,) = inference_request(
        study=make_study(patient), actor=Actor(user=owner), model=model_version.model
    )
    assert (job.status, job.error_code) == ("skipped", "consent_declined")
    assert "processing of their data" in job.error_message


def test_a_granted_consent_lets_the_job_queue(patient, owner, model_version):
    record(patient, owner, decision="granted")
    (job,) = inference_request(
        study=make_study(patient), actor=Actor(user=owner), model=model_version.model
    )
    assert job.status == "queued"


def test_when_consent_is_required_ai_waits_for_it(patient, owner, model_version, settings):
    settings.AI_REQUIRES_CONSENT = True
    study = make_study(patient)
    assert not ai_allowed(patient)
    (job,) = inference_request(study=study, actor=Actor(user=owner), model=model_version.model)
    assert (job.status, job.error_code) == ("skipped", "consent_required")
    record(patient, owner, decision="granted")
    (job,) = inference_request(study=study, actor=Actor(user=owner), model=model_version.model)
    assert job.status == "queued"


def test_an_automatic_run_records_the_refusal_only_for_series_it_would_have_run_on(
    patient, owner, model_version
):
    RoutingRule.objects.create(model=model_version.model, modality="CT")
    record(patient, owner, decision="declined")
    study = make_study(patient)
    Series.objects.create(
        series_uid="1.2.3.4.2", study=study, modality="MR", number_of_instances=20
    )
    jobs = inference_request(study=study, actor=Actor.system(None), trigger="stable")
    assert [(j.series.modality, j.status, j.error_code) for j in jobs] == [
        ("CT", "skipped", "consent_declined")
    ]
    # The same revision again: already answered.
    assert inference_request(study=study, actor=Actor.system(None), trigger="stable") == []


def test_a_study_with_no_matched_patient_runs_as_before(owner, model_version, settings):
    settings.AI_REQUIRES_CONSENT = True
    (job,) = inference_request(
        study=make_study(None), actor=Actor.system(None), model=model_version.model
    )
    assert job.status == "queued"


def test_a_consent_withdrawn_while_the_job_waits_stops_it_in_the_worker(
    patient, owner, account, client_as, model_version
):
    record(patient, owner, decision="granted")
    (job,) = inference_request(
        study=make_study(patient), actor=Actor(user=owner), model=model_version.model
    )
    assert job.status == "queued"
    client_as(account).post(
        reverse("clinic:my_privacy"), {"purpose": "ai_analysis", "decision": "withdrawn"}
    )
    assert job_run(job_id=job.pk) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.error_code) == ("skipped", "consent_declined")
    assert "withdrawn" in job.error_message
    assert not Finding.objects.exists()


def test_the_error_catalogue_explains_the_consent_codes():
    assert "consent_declined" in JOB_ERRORS and "consent_required" in JOB_ERRORS


# --- Staff pages -----------------------------------------------------------------------------


def test_the_chart_shows_the_consent_card_and_the_doctor_records_a_decision(
    client_as, owner, patient
):
    client = client_as(owner)
    chart = client.get(reverse("clinic:patient_chart", args=[patient.pk])).content.decode()
    assert 'data-testid="consent-card"' in chart and zh("Not asked") in chart
    assert reverse("clinic:patient_consent", args=[patient.pk]) in chart
    response = client.post(
        reverse("clinic:patient_consent", args=[patient.pk]),
        {"purpose": "ai_analysis", "decision": "declined", "method": "paper", "note": "form 17"},
    )
    assert response.status_code == 302
    consent = PatientConsent.objects.get(patient=patient)
    assert (consent.decision, consent.recorded_by, consent.note) == ("declined", owner, "form 17")
    chart = client.get(reverse("clinic:patient_chart", args=[patient.pk])).content.decode()
    assert zh("AI models will not analyse this patient's images.") in chart
    assert "form 17" in chart


def test_a_nurse_of_the_department_records_consent(client_as, colleague, patient):
    response = client_as(colleague).post(
        reverse("clinic:patient_consent", args=[patient.pk]),
        {"purpose": "processing", "decision": "granted", "method": "verbal"},
    )
    assert response.status_code == 302
    assert consent_status(patient, "processing") == "granted"


def test_an_invalid_decision_shows_the_error_and_records_nothing(client_as, owner, patient):
    response = client_as(owner).post(
        reverse("clinic:patient_consent", args=[patient.pk]),
        {"purpose": "ai_analysis", "decision": "withdrawn", "method": "paper"},
    )
    assert response.status_code == 200
    assert zh("Only a granted consent can be withdrawn.") in response.content.decode()
    assert not PatientConsent.objects.exists()


@pytest.mark.parametrize("persona", ["outsider", "scheduler"])
def test_staff_without_access_to_the_patient_get_404(client_as, request, persona, patient):
    client = client_as(request.getfixturevalue(persona))
    url = reverse("clinic:patient_consent", args=[patient.pk])
    assert client.get(url).status_code == 404
    response = client.post(
        url, {"purpose": "ai_analysis", "decision": "granted", "method": "paper"}
    )
    assert response.status_code == 404
    assert not PatientConsent.objects.exists()


def test_the_front_desk_records_a_signed_form_on_the_consent_page(client_as, receptionist, patient):
    client = client_as(receptionist)
    url = reverse("clinic:patient_consent", args=[patient.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="method"' in page.content.decode()
    response = client.post(
        url, {"purpose": "ai_analysis", "decision": "granted", "method": "paper"}
    )
    assert response.status_code == 302 and response.url == url  # the chart is not theirs to open
    assert consent_status(patient, "ai_analysis") == "granted"
    assert AuditEvent.objects.filter(
        object_type="patientconsent", user=receptionist, patient=patient
    ).exists()


def test_a_patient_uses_their_own_page_not_the_staff_form(client_as, account, patient):
    client = client_as(account)
    url = reverse("clinic:patient_consent", args=[patient.pk])
    response = client.post(
        url, {"purpose": "ai_analysis", "decision": "granted", "method": "paper"}
    )
    assert response.status_code == 403
    assert client.get(url).status_code == 403
    assert not PatientConsent.objects.exists()
    chart = client.get(reverse("clinic:patient_chart", args=[patient.pk])).content.decode()
    assert 'name="method"' not in chart and reverse("clinic:my_privacy") in chart


# --- The patient's own pages -----------------------------------------------------------------


def test_a_patient_sees_and_changes_their_own_consents(client_as, account, patient, owner):
    record(patient, owner, purpose="processing", decision="granted")
    client = client_as(account)
    page = client.get(reverse("clinic:my_privacy"))
    html = page.content.decode()
    assert page.status_code == 200 and zh("Not asked") in html and zh("Withdraw consent") in html
    home = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("clinic:my_privacy")}"' in home  # in the navigation
    response = client.post(
        reverse("clinic:my_privacy"), {"purpose": "ai_analysis", "decision": "granted"}
    )
    assert response.status_code == 302
    consent = PatientConsent.objects.get(patient=patient, purpose="ai_analysis")
    assert (consent.method, consent.recorded_by, consent.by_patient) == (
        "patient_account",
        account,
        True,
    )
    client.post(reverse("clinic:my_privacy"), {"purpose": "processing", "decision": "withdrawn"})
    assert consent_status(patient, "processing") == "withdrawn"
    assert not ai_allowed(patient)


def test_a_patient_id_in_the_request_is_ignored(client_as, account, patient, other_patient):
    client = client_as(account)
    client.post(
        reverse("clinic:my_privacy"),
        {
            "patient": other_patient.pk,
            "patient_id": other_patient.pk,
            "purpose": "ai_analysis",
            "decision": "declined",
        },
    )
    assert consent_status(other_patient, "ai_analysis") == NOT_ASKED
    assert consent_status(patient, "ai_analysis") == "declined"
    export = client.get(reverse("clinic:my_privacy_export"), {"patient": other_patient.pk})
    assert json.loads(export.content)["patient"]["mrn"] == patient.mrn


def test_staff_have_no_privacy_page_of_their_own(client_as, owner):
    client = client_as(owner)
    assert client.get(reverse("clinic:my_privacy")).status_code == 403
    assert client.get(reverse("clinic:my_privacy_export")).status_code == 403
    assert reverse("clinic:my_privacy") not in client.get(reverse("home")).content.decode()


def test_an_account_without_a_record_has_nothing_to_export(client_as):
    client = client_as(UserFactory(role=Role.PATIENT))
    assert client.get(reverse("clinic:my_privacy")).status_code == 200
    assert client.get(reverse("clinic:my_privacy_export")).status_code == 404


@pytest.fixture
def imaging_history(patient, owner):
    study = make_study(patient)
    Finding.objects.create(study=study, series=study.series.get(), label="nodule", kind="lesion")
    StudyReport.objects.create(study=study, impression="右肺小结节，建议随访", signed_by=owner)
    return study


@pytest.fixture
def appointment(patient, owner, cardiology, account):
    from datetime import timedelta

    from django.utils import timezone

    from appointments.models import Appointment, Site

    from .appointments.conftest import make_session

    site = Site.objects.create(name="门诊", kind=Site.Kind.CLINIC, department=cardiology)
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(days=1)
    session = make_session(owner, site, start=start)
    return Appointment.objects.create(
        session=session,
        slot=session.slots.first(),
        patient=patient,
        booked_by=account,
        status="booked",
        complaint="复诊",
    )


def test_the_export_holds_the_patients_data_and_no_one_elses(
    client_as, account, patient, owner, other_patient, imaging_history, appointment
):
    client_as(owner).get(reverse("clinic:patient_chart", args=[patient.pk]))
    record(patient, owner, decision="granted")
    client = client_as(account)
    response = client.get(reverse("clinic:my_privacy_export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("attachment;")
    assert patient.mrn in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["patient"]["name"] == patient.name
    assert [e["chief_complaint"] for e in data["encounters"]] == ["胸闷三天"]
    assert data["appointments"][0]["reason"] == "复诊"
    (study,) = data["imaging_studies"]
    assert study["description"] == "CT chest" and study["modalities"] == ["CT"]
    assert study["ai_findings"][0]["label"] == "nodule"
    assert study["ai_findings"][0]["status"] == "pending"
    assert study["reports"][0]["impression"] == "右肺小结节，建议随访"
    assert [(c["purpose"], c["decision"]) for c in data["consents"]] == [("ai_analysis", "granted")]
    views = [a for a in data["access_log"] if a["user"] == owner.display_name]
    assert {"role": "doctor", "action": "view"}.items() <= views[-1].items()
    body = response.content.decode()
    assert other_patient.name not in body and other_patient.mrn not in body
    assert "右膝疼痛" not in body
    export = AuditEvent.objects.get(action="export", patient=patient)
    assert export.user == account and export.details == {"export": "patient_data"}
