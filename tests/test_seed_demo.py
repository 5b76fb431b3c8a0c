"""manage.py seed_demo: a complete, valid demo hospital, created once however often it runs."""

import io
import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.http import HttpRequest
from django.utils import timezone

from clinic.access import patients_visible_to
from clinic.codes import OBSERVATION_CODES
from clinic.demo import DEMO_PASSWORD, demo_logins
from clinic.models import (
    AllergyIntolerance,
    AuditEvent,
    Condition,
    Department,
    Dependant,
    Encounter,
    EpisodeOfCare,
    Observation,
    Patient,
    Practitioner,
    Role,
    Sex,
    User,
)
from clinic.validators import id_card_birth_date, validate_icd10, validate_id_number

pytestmark = pytest.mark.django_db

SEEDED_MODELS = (
    Department,
    User,
    Practitioner,
    Patient,
    Dependant,
    EpisodeOfCare,
    Encounter,
    Condition,
    AllergyIntolerance,
    Observation,
    AuditEvent,
)


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in SEEDED_MODELS}


@pytest.fixture
def output(settings):
    # The real hasher costs a fraction of a second per check; these tests check many logins.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Synthetic CT and the demo model have a test of their own (tests/imaging/test_demo.py).
    settings.DEMO_CHEST_CT_STUDIES = 0
    return seed()


def test_running_it_twice_changes_nothing(output):
    before = row_counts()
    passwords = dict(User.objects.values_list("username", "password"))
    last_change = Patient.objects.latest("updated_at").updated_at

    second_output = seed()

    assert row_counts() == before
    assert dict(User.objects.values_list("username", "password")) == passwords
    assert Patient.objects.latest("updated_at").updated_at == last_change
    assert "Nothing new" in second_output


def test_a_second_run_keeps_a_changed_demo_password(output):
    doctor = User.objects.get(username="doctor")
    doctor.set_password("a-new-secret-42")
    doctor.save(update_fields=["password"])

    seed()

    assert authenticate(HttpRequest(), username="doctor", password="a-new-secret-42") is not None


def test_every_demo_login_authenticates_with_the_printed_password(output):
    logins = demo_logins()
    assert {"admin", "doctor", "nurse", "scheduler", "reception", "patient"} <= {
        login.username for login in logins
    }
    for login in logins:
        assert (
            authenticate(HttpRequest(), username=login.username, password=login.password)
            is not None
        )
    admin = User.objects.get(username="admin")
    assert admin.role == Role.ADMIN and admin.is_staff and admin.is_superuser


def test_the_output_lists_the_logins(output):
    assert f"password for all: {DEMO_PASSWORD}" in output
    for login in demo_logins():
        assert re.search(
            rf"\s{re.escape(login.username)}\s+{re.escape(DEMO_PASSWORD)}\s+{login.name}", output
        ), login.username


def test_the_staff_covers_the_roles_and_radiology(output):
    doctors = User.objects.filter(role=Role.DOCTOR)
    assert 10 <= doctors.count() <= 12
    assert Practitioner.objects.filter(user__in=doctors).count() == doctors.count()
    assert doctors.filter(department__code="radiology").exists()
    nurses = User.objects.filter(role=Role.NURSE)
    assert nurses.exclude(username__startswith="ward-").count() == 4
    # Ward nurses exist for the cardiology roster only; they have no password to log in with.
    assert not any(u.has_usable_password() for u in nurses.filter(username__startswith="ward-"))
    assert User.objects.filter(role=Role.SCHEDULER).count() == 1
    assert User.objects.filter(role=Role.RECEPTIONIST).count() == 1


def test_the_department_tree_has_two_levels_only(output):
    departments = list(Department.objects.select_related("parent"))
    assert all(d.parent is None or d.parent.parent_id is None for d in departments)
    assert all(d.name and d.name_en for d in departments)
    divisions = {d.name for d in departments if d.parent is None}
    assert divisions == {"内科", "外科", "儿科", "妇产科", "医技科室", "急诊医学科"}
    cardiology = Department.objects.get(name="心血管内科")
    assert cardiology.parent.name == "内科"
    assert Department.objects.get(name="医学影像科").parent.name == "医技科室"


def test_every_patient_has_a_valid_id_number_matching_the_birth_date(output):
    patients = list(Patient.objects.all())
    assert len(patients) >= 50
    assert len({p.id_number for p in patients}) == len(patients)
    for patient in patients:
        validate_id_number(patient.id_number)
        assert id_card_birth_date(patient.id_number) == patient.birth_date, patient.name
        # The 17th digit is odd for men and even for women.
        assert (int(patient.id_number[16]) % 2 == 1) == (patient.sex == Sex.MALE), patient.name
        assert re.fullmatch(r"P\d{8}", patient.mrn)
        patient.full_clean()


def test_every_patient_has_one_to_four_encounters_in_the_past(output):
    now = timezone.now()
    for patient in Patient.objects.prefetch_related("encounters"):
        encounters = list(patient.encounters.all())
        assert 1 <= len(encounters) <= 4, patient.name
        assert all(e.started_at < now and e.chief_complaint and e.diagnosis for e in encounters)
    kinds = set(Encounter.objects.values_list("kind", flat=True))
    assert kinds == {"outpatient", "inpatient", "emergency"}


def test_observations_are_plausible_past_values_of_known_codes(output):
    now = timezone.now()
    observations = list(Observation.objects.all())
    assert len(observations) > 500
    for obs in observations:
        known = OBSERVATION_CODES[obs.code]
        assert known.low <= obs.value <= known.high, (obs.code, obs.value)
        assert obs.unit == known.unit and obs.effective_at < now
    assert Observation.objects.filter(category="laboratory").exists()


def test_conditions_carry_icd10_codes(output):
    codes = set(Condition.objects.values_list("icd10_code", flat=True))
    assert {"I10", "I25.1", "E11.9", "J18.9", "M51.2"} <= codes
    for code in codes:
        validate_icd10(code)
    assert AllergyIntolerance.objects.filter(substance="青霉素").exists()


def test_the_demo_doctor_and_nurse_see_their_patients(output):
    doctor = User.objects.get(username="doctor")
    nurse = User.objects.get(username="nurse")
    assert nurse.department == doctor.department

    seen_by_doctor = set(Patient.objects.filter(encounters__practitioner=doctor))
    assert len(seen_by_doctor) >= 15
    assert seen_by_doctor <= set(patients_visible_to(doctor))

    inpatients = set(
        Patient.objects.filter(
            episodes__department=nurse.department, episodes__status=EpisodeOfCare.Status.OPEN
        )
    )
    nurse_sees = set(patients_visible_to(nurse))
    assert inpatients and inpatients <= nurse_sees
    assert len(nurse_sees) < Patient.objects.count()


def test_the_patient_login_sees_their_own_record_and_their_child(output):
    account = User.objects.get(username="patient")
    child = Dependant.objects.get(manager=account).patient
    assert child.age < 14
    assert set(patients_visible_to(account)) == {account.patient_record, child}
    assert child.emergency_contact_name == account.patient_record.name


def test_front_desk_and_rostering_logins_see_no_charts(output):
    for username in ("reception", "scheduler"):
        assert not patients_visible_to(User.objects.get(username=username)).exists()
