"""Every route that shows or changes one patient's data: the outsider is refused with 404 and
no data; a user with a care relation gets the data and leaves an audit row."""

import pytest
from django.urls import reverse

from clinic.models import AuditAction, AuditEvent

from .conftest import api_auth

pytestmark = pytest.mark.django_db

PAGES = [
    "clinic:patient_chart",
    "clinic:patient_edit",
    "clinic:encounter_create",
    "clinic:observation_create",
    "clinic:condition_create",
    "clinic:allergy_create",
]
API = [
    "api-patient",
    "api-patient-encounters",
    "api-patient-observations",
    "api-patient-conditions",
    "api-patient-allergies",
]


@pytest.mark.parametrize("name", PAGES + ["clinic:patient_access_log"])
def test_an_outsider_gets_404_and_no_data_from_every_patient_page(
    client_as, outsider, patient, name
):
    response = client_as(outsider).get(reverse(name, args=[patient.pk]))
    assert response.status_code == 404
    assert patient.name.encode() not in response.content
    assert patient.mrn.encode() not in response.content


@pytest.mark.parametrize("name", API + ["api-patient-access-log"])
def test_an_outsider_gets_404_and_no_data_from_every_patient_api(api, outsider, patient, name):
    response = api.get(reverse(name, args=[patient.pk]), **api_auth(outsider))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert patient.name not in response.content.decode()


def test_an_outsider_cannot_open_an_encounter_by_its_own_id(api, client_as, outsider, patient):
    encounter = patient.encounters.get()
    assert (
        api.get(reverse("api-encounter", args=[encounter.pk]), **api_auth(outsider)).status_code
        == 404
    )
    assert (
        api.patch(
            reverse("api-encounter", args=[encounter.pk]),
            {"diagnosis": "x"},
            format="json",
            **api_auth(outsider),
        ).status_code
        == 404
    )
    page = client_as(outsider).get(
        reverse("clinic:encounter_edit", args=[patient.pk, encounter.pk])
    )
    assert page.status_code == 404
    encounter.refresh_from_db()
    assert encounter.diagnosis != "x"


@pytest.mark.parametrize("name", ["clinic:patient_chart", "clinic:patient_edit"])
def test_reading_a_chart_page_writes_an_audit_row(client_as, owner, patient, name):
    response = client_as(owner).get(reverse(name, args=[patient.pk]))
    assert response.status_code == 200
    event = AuditEvent.objects.filter(patient=patient, action=AuditAction.VIEW).get()
    assert event.user == owner
    assert event.role == "doctor"
    assert event.ip == "127.0.0.1"


@pytest.mark.parametrize("name", API)
def test_reading_through_the_api_writes_an_audit_row(api, owner, patient, name):
    response = api.get(reverse(name, args=[patient.pk]), **api_auth(owner))
    assert response.status_code == 200
    assert AuditEvent.objects.filter(patient=patient, user=owner, action=AuditAction.VIEW).exists()


def test_a_refused_read_leaves_no_data_and_no_view_row(client_as, outsider, patient):
    client_as(outsider).get(reverse("clinic:patient_chart", args=[patient.pk]))
    assert not AuditEvent.objects.filter(patient=patient, action=AuditAction.VIEW).exists()


def test_an_anonymous_user_is_sent_to_log_in(client, patient):
    response = client.get(reverse("clinic:patient_chart", args=[patient.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_an_anonymous_api_client_gets_401_with_the_error_body(api, patient):
    response = api.get(reverse("api-patient", args=[patient.pk]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
