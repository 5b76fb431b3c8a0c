import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from clinic.models import AuditAction, AuditEvent, BreakGlassAccess, Patient
from config.errors import CATALOGUE

from .conftest import api_auth, authenticator_code
from .factories import PASSWORD, PatientFactory, make_id_number

pytestmark = pytest.mark.django_db


def enrolled(user):
    from clinic import mfa
    from clinic.audit import Actor

    device = mfa.mfa_device_start(user=user)
    return mfa.mfa_device_confirm(
        actor=Actor(user=user), user=user, token=authenticator_code(device)
    ).device


def error_of(response):
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] in CATALOGUE
    return body["error"]


def test_a_token_from_the_token_endpoint_authenticates(api, owner, patient):
    # tests/security/test_api_tokens.py covers who needs a code with the password.
    response = api.post(
        reverse("api-token"),
        {"username": "alice", "password": PASSWORD, "code": authenticator_code(enrolled(owner))},
    )
    token = response.json()["token"]
    assert Token.objects.get(user=owner).key == token
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get(reverse("api-patient", args=[patient.pk])).json()["mrn"] == patient.mrn


def test_wrong_credentials_get_401_authentication_failed(api, owner):
    api.credentials(HTTP_AUTHORIZATION="Basic YWxpY2U6d3Jvbmc=")
    response = api.get(reverse("api-me"))
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_session_login_works_for_the_api(client_as, owner):
    response = client_as(owner).get(reverse("api-me"))
    assert response.json()["role"] == "doctor"


def test_a_doctor_lists_only_patients_they_may_see(api, owner, patient):
    PatientFactory(name="李四")
    response = api.get(reverse("api-patients"), **api_auth(owner))
    body = response.json()
    assert body["count"] == 1
    assert [p["mrn"] for p in body["results"]] == [patient.mrn]


def test_searching_patients_matches_name_phone_and_id_number(api, owner, patient):
    for query in (patient.name, patient.phone, patient.id_number, patient.mrn):
        response = api.get(reverse("api-patients"), {"q": query}, **api_auth(owner))
        assert response.json()["count"] == 1, query
    assert AuditEvent.objects.filter(action=AuditAction.SEARCH, user=owner).count() == 4


def test_the_list_is_paginated(api, admin_user):
    PatientFactory.create_batch(3)
    body = api.get(reverse("api-patients"), {"page_size": 2}, **api_auth(admin_user)).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]


def test_creating_a_patient_assigns_an_mrn_and_audits(api, receptionist):
    data = {
        "name": "陈静",
        "sex": "female",
        "birth_date": "1992-03-04",
        "phone": "13800001111",
        "id_number": make_id_number(__import__("datetime").date(1992, 3, 4), 7),
    }
    response = api.post(reverse("api-patients"), data, format="json", **api_auth(receptionist))
    assert response.status_code == 201, response.json()
    created = Patient.objects.get(pk=response.json()["id"])
    assert created.mrn == f"P{created.pk:08d}"
    assert AuditEvent.objects.filter(patient=created, action=AuditAction.CREATE).exists()


def test_invalid_fields_come_back_per_field_in_the_users_language(api, receptionist):
    data = {
        "name": "陈静",
        "sex": "female",
        "birth_date": "1992-03-04",
        "phone": "123",
        "id_number": "110105194912310021",
    }
    english = api.post(
        reverse("api-patients"),
        data,
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
        **api_auth(receptionist),
    )
    assert english.status_code == 400
    error = error_of(english)
    assert error["code"] == "validation_error"
    assert set(error["details"]) == {"phone", "id_number"}
    assert "check digit" in error["details"]["id_number"][0]

    chinese = api.post(
        reverse("api-patients"),
        data,
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
        **api_auth(receptionist),
    )
    assert "校验" in error_of(chinese)["details"]["id_number"][0]
    assert not Patient.objects.exists()


def test_a_doctor_adds_an_encounter_through_the_api(api, owner, patient, cardiology):
    response = api.post(
        reverse("api-patient-encounters", args=[patient.pk]),
        {
            "kind": "outpatient",
            "department": cardiology.pk,
            "chief_complaint": "头痛两天",
            "diagnosis": "紧张性头痛",
        },
        format="json",
        **api_auth(owner),
    )
    assert response.status_code == 201, response.json()
    assert response.json()["practitioner"] == owner.pk
    assert patient.encounters.count() == 2


def test_a_nurse_may_not_write_an_encounter(api, colleague, patient, cardiology):
    response = api.post(
        reverse("api-patient-encounters", args=[patient.pk]),
        {"kind": "outpatient", "department": cardiology.pk, "chief_complaint": "x"},
        format="json",
        **api_auth(colleague),
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert patient.encounters.count() == 1


def test_a_nurse_records_vitals_and_implausible_values_are_refused(api, colleague, patient):
    url = reverse("api-patient-observations", args=[patient.pk])
    ok = api.post(url, {"code": "8867-4", "value": "88"}, format="json", **api_auth(colleague))
    assert ok.status_code == 201, ok.json()
    assert ok.json()["unit"] == "/min"
    bad = api.post(
        url,
        {"code": "8867-4", "value": "880"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
        **api_auth(colleague),
    )
    assert bad.status_code == 400
    assert "plausible" in error_of(bad)["details"]["value"][0]
    assert patient.observations.count() == 1


def test_editing_an_encounter_keeps_an_audit_of_changed_fields(api, owner, patient):
    encounter = patient.encounters.get()
    response = api.patch(
        reverse("api-encounter", args=[encounter.pk]),
        {"diagnosis": "稳定型心绞痛"},
        format="json",
        **api_auth(owner),
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_id=str(encounter.pk))
    assert event.details == {"fields": ["diagnosis"]}


def test_break_the_glass_needs_a_reason_then_opens_the_chart_flagged(api, outsider, patient):
    url = reverse("api-patient-break-glass", args=[patient.pk])
    short = api.post(url, {"reason": "need"}, format="json", **api_auth(outsider))
    assert short.status_code == 400
    assert error_of(short)["code"] == "break_glass_reason_required"
    assert not BreakGlassAccess.objects.exists()

    granted = api.post(
        url,
        {"reason": "unconscious patient in the emergency room"},
        format="json",
        **api_auth(outsider),
    )
    assert granted.status_code == 201
    chart = api.get(reverse("api-patient", args=[patient.pk]), **api_auth(outsider))
    assert chart.status_code == 200
    view = AuditEvent.objects.get(action=AuditAction.VIEW, user=outsider)
    assert view.flagged and "unconscious" in view.reason


def test_a_nurse_cannot_break_the_glass(api, colleague, patient):
    response = api.post(
        reverse("api-patient-break-glass", args=[patient.pk]),
        {"reason": "curious about this patient"},
        format="json",
        **api_auth(colleague),
    )
    assert response.status_code == 404


def test_the_audit_trail_api_is_for_admins_only(api, admin_user, owner, patient):
    assert api.get(reverse("api-audit-events"), **api_auth(owner)).status_code == 403
    api.get(reverse("api-patient", args=[patient.pk]), **api_auth(owner))
    body = api.get(
        reverse("api-audit-events"),
        {"patient": patient.pk, "action": "view"},
        **api_auth(admin_user),
    ).json()
    assert body["count"] == 1
    assert body["results"][0]["username"] == "alice"


def test_a_patient_reads_who_accessed_their_record(api, owner, patient):
    from clinic.models import Role

    from .factories import UserFactory

    account = UserFactory(role=Role.PATIENT)
    patient.account = account
    patient.save()
    api.get(reverse("api-patient", args=[patient.pk]), **api_auth(owner))
    log = api.get(reverse("api-patient-access-log", args=[patient.pk]), **api_auth(account))
    assert "alice" in [e["username"] for e in log.json()["results"]]
    doctor_try = api.get(reverse("api-patient-access-log", args=[patient.pk]), **api_auth(owner))
    assert doctor_try.status_code == 403


def test_the_patient_role_cannot_list_patients(api, db):
    from clinic.models import Role

    from .factories import UserFactory

    response = api.get(reverse("api-patients"), **api_auth(UserFactory(role=Role.PATIENT)))
    assert response.status_code == 403


def test_unknown_api_urls_answer_with_the_error_body(api, owner):
    response = api.get("/api/v1/no-such-thing/", **api_auth(owner))
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_the_error_catalogue_lists_every_code(api):
    codes = {e["code"] for e in api.get(reverse("api-errors")).json()}
    assert codes == set(CATALOGUE)


def test_the_openapi_schema_and_docs_are_served(client_as, admin_user):
    client = client_as(admin_user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/patients/{id}/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn.jsdelivr" not in docs.content


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    """Every API view, serializer and authentication class is described; DICOMweb (PS3.18)
    is left out of the schema."""
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/auth/token/" in text and "basicAuth" in text
    assert "/dicomweb/" not in text
