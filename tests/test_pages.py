import datetime as dt
import re
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditAction, AuditEvent, BreakGlassAccess, Encounter, Role

from .factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [r for r, _ in Role.choices])
def test_every_role_gets_a_home_page(client_as, cardiology, role):
    user = UserFactory(role=role, department=cardiology)
    response = client_as(user).get("/")
    assert response.status_code == 200
    assert user.display_name in response.content.decode()


def test_the_navigation_follows_the_role(client_as, owner, scheduler):
    doctor_page = client_as(owner).get("/").content.decode()
    assert reverse("clinic:patient_search") in doctor_page
    assert reverse("clinic:audit_search") not in doctor_page
    scheduler_page = client_as(scheduler).get("/").content.decode()
    assert reverse("clinic:patient_search") not in scheduler_page
    assert reverse("clinic:staff_directory") in scheduler_page


def test_a_scheduler_may_not_search_patients(client_as, scheduler):
    assert client_as(scheduler).get(reverse("clinic:patient_search")).status_code == 403


def test_a_doctor_searches_and_finds_only_their_patients(client_as, owner, patient):
    namesake = PatientFactory(name=patient.name)  # the same name, not Dr Alice's patient
    search = reverse("clinic:patient_search")
    page = client_as(owner).get(search, {"q": patient.name}).content.decode()
    assert patient.mrn in page
    assert namesake.mrn not in page
    # Names are encrypted at rest: only the whole name finds the patient (clinic.phi).
    partial = client_as(owner).get(search, {"q": patient.name[0]}).content.decode()
    assert patient.mrn not in partial
    assert AuditEvent.objects.filter(action=AuditAction.SEARCH, user=owner).exists()


def test_a_doctor_adds_an_encounter_from_the_chart(client_as, owner, patient, cardiology):
    client = client_as(owner)
    response = client.post(
        reverse("clinic:encounter_create", args=[patient.pk]),
        {
            "kind": "outpatient",
            "started_at": "2026-01-05T09:30",
            "department": cardiology.pk,
            "chief_complaint": "反复胸痛一月",
            "diagnosis": "冠心病",
        },
    )
    assert response.status_code == 302
    assert response.url == reverse("clinic:patient_chart", args=[patient.pk])
    encounter = Encounter.objects.get(chief_complaint="反复胸痛一月")
    assert encounter.practitioner == owner
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_id=str(encounter.pk)
    ).exists()
    assert "反复胸痛一月" in client.get(response.url).content.decode()


def test_an_invalid_encounter_shows_errors_and_saves_nothing(client_as, owner, patient, cardiology):
    future = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client_as(owner).post(
        reverse("clinic:encounter_create", args=[patient.pk]),
        {
            "kind": "outpatient",
            "started_at": future,
            "department": cardiology.pk,
            "chief_complaint": "",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"started_at", "chief_complaint"}
    assert patient.encounters.count() == 1


def test_a_doctor_edits_an_encounter_and_the_change_is_saved(client_as, owner, patient, cardiology):
    encounter = patient.encounters.get()
    client_as(owner).post(
        reverse("clinic:encounter_edit", args=[patient.pk, encounter.pk]),
        {
            "kind": "inpatient",
            "started_at": "2026-01-05T09:30",
            "department": cardiology.pk,
            "chief_complaint": "胸闷三天",
            "treatment_plan": "收入院",
        },
    )
    encounter.refresh_from_db()
    assert encounter.kind == "inpatient"
    assert encounter.treatment_plan == "收入院"


def test_a_nurse_records_vitals_and_they_show_on_the_chart(client_as, colleague, patient):
    client = client_as(colleague)
    response = client.post(
        reverse("clinic:observation_create", args=[patient.pk]), {"code": "8480-6", "value": "138"}
    )
    assert response.status_code == 302
    chart = client.get(reverse("clinic:patient_chart", args=[patient.pk])).content.decode()
    assert 'data-code="8480-6"' in chart


def test_a_nurse_is_refused_the_encounter_form(client_as, colleague, patient):
    assert (
        client_as(colleague).get(reverse("clinic:encounter_create", args=[patient.pk])).status_code
        == 403
    )


def test_a_receptionist_registers_a_patient_but_cannot_open_the_chart(client_as, receptionist):
    from .factories import make_id_number

    client = client_as(receptionist)
    response = client.post(
        reverse("clinic:patient_create"),
        {
            "name": "刘洋",
            "sex": "male",
            "birth_date": "1985-07-01",
            "phone": "13700001234",
            "id_number": make_id_number(dt.date(1985, 7, 1), 55),
        },
    )
    assert response.status_code == 302
    from clinic.models import Patient
    from clinic.phi import blind_index

    created = Patient.objects.get(name_index=blind_index("name", "刘洋"))
    assert client.get(reverse("clinic:patient_chart", args=[created.pk])).status_code == 404


def test_a_bad_id_number_is_refused_on_the_registration_page(client_as, receptionist):
    response = client_as(receptionist).post(
        reverse("clinic:patient_create"),
        {
            "name": "刘洋",
            "sex": "male",
            "birth_date": "1985-07-01",
            "id_number": "110101198507010001",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "id_number" in response.context["form"].errors


def test_a_doctor_breaks_the_glass_with_a_reason_and_is_flagged(client_as, outsider, patient):
    client = client_as(outsider)
    search = client.get(reverse("clinic:patient_search"), {"q": patient.mrn}).content.decode()
    assert reverse("clinic:break_glass", args=[patient.pk]) in search
    assert patient.name not in search

    form = client.get(reverse("clinic:break_glass", args=[patient.pk])).content.decode()
    assert patient.name not in form
    client.post(reverse("clinic:break_glass", args=[patient.pk]), {"reason": "short"})
    assert not BreakGlassAccess.objects.exists()

    client.post(
        reverse("clinic:break_glass", args=[patient.pk]),
        {"reason": "Patient unconscious in emergency, no relatives"},
    )
    chart = client.get(reverse("clinic:patient_chart", args=[patient.pk]))
    assert chart.status_code == 200
    assert AuditEvent.objects.filter(
        action=AuditAction.BREAK_GLASS, user=outsider, flagged=True
    ).exists()
    assert AuditEvent.objects.filter(action=AuditAction.VIEW, user=outsider, flagged=True).exists()


def test_a_nurse_does_not_get_the_break_glass_page(client_as, colleague, patient):
    assert (
        client_as(colleague).get(reverse("clinic:break_glass", args=[patient.pk])).status_code
        == 404
    )


def test_the_audit_page_is_for_admins_and_searches(client_as, admin_user, owner, patient):
    assert client_as(owner).get(reverse("clinic:audit_search")).status_code == 403
    client_as(owner).get(reverse("clinic:patient_chart", args=[patient.pk]))
    page = client_as(admin_user).get(
        reverse("clinic:audit_search"), {"patient": patient.mrn, "action": "view"}
    )
    events = list(page.context["page"].object_list)
    assert [e.username for e in events] == ["alice"]


def test_an_idle_session_is_logged_out(client_as, owner, settings):
    client = client_as(owner)
    assert client.get("/").status_code == 200
    session = client.session
    session["last_activity"] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT - 5
    session.save()
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_logins_and_failed_logins_are_audited(client, owner):
    from .factories import PASSWORD

    client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "username"))
    assert actions == [("login_failed", "alice"), ("login", "alice")]


def test_a_failed_login_does_not_say_whether_the_account_exists(client, owner):
    def page(username):
        response = client.post(reverse("login"), {"username": username, "password": "wrong"})
        return re.sub(r'value="[^"]*"', "", response.content.decode())  # CSRF tokens differ

    assert page("alice") == page("nobody")
