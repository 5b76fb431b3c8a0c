"""clinic.access: who may open which chart. Tested once, thoroughly."""

import datetime as dt

import pytest
from django.http import Http404
from django.utils import timezone

from clinic import access
from clinic.models import BreakGlassAccess, Dependant, EpisodeOfCare, Role

from .factories import EncounterFactory, EpisodeFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def visible(user):
    return set(access.patients_visible_to(user).values_list("pk", flat=True))


def test_a_doctor_sees_a_patient_they_saw(owner, patient):
    assert access.patient_get_for_user(user=owner, patient_id=patient.pk) == patient


def test_a_doctor_without_a_care_relation_gets_404(outsider, patient):
    with pytest.raises(Http404):
        access.patient_get_for_user(user=outsider, patient_id=patient.pk)


def test_an_unknown_or_malformed_id_is_404_like_a_forbidden_one(owner):
    for bad in (999999, "abc", None):
        with pytest.raises(Http404):
            access.patient_get_for_user(user=owner, patient_id=bad)


def test_a_doctor_sees_patients_of_their_departments_open_episode(outsider, orthopaedics):
    inpatient = PatientFactory()
    EpisodeFactory(patient=inpatient, department=orthopaedics)
    assert inpatient.pk in visible(outsider)


def test_a_closed_episode_no_longer_gives_access(outsider, orthopaedics):
    former = PatientFactory()
    EpisodeFactory(patient=former, department=orthopaedics, status=EpisodeOfCare.Status.CLOSED)
    assert former.pk not in visible(outsider)


def test_a_nurse_sees_patients_of_her_department_only(colleague, patient, orthopaedics):
    other = PatientFactory()
    EpisodeFactory(patient=other, department=orthopaedics)
    assert visible(colleague) == {patient.pk}


def test_a_nurse_of_a_division_sees_its_departments(cardiology, patient):
    division_nurse = UserFactory(role=Role.NURSE, department=cardiology.parent)
    assert patient.pk in visible(division_nurse)


def test_an_admin_sees_everyone(admin_user, patient):
    PatientFactory()
    assert len(visible(admin_user)) == 2


def test_a_patient_sees_themself_and_their_dependants_only(patient):
    account = UserFactory(role=Role.PATIENT)
    me = PatientFactory(account=account)
    child = PatientFactory()
    Dependant.objects.create(manager=account, patient=child, relationship="child")
    assert visible(account) == {me.pk, child.pk}


def test_schedulers_and_receptionists_never_open_a_chart(scheduler, receptionist, patient):
    assert visible(scheduler) == set()
    assert visible(receptionist) == set()


def test_receptionists_may_find_patients_to_register_them(receptionist, patient):
    assert patient in access.patients_findable_by(receptionist)


def test_an_inactive_user_sees_nothing(owner, patient):
    owner.is_active = False
    owner.save()
    assert visible(owner) == set()


def test_break_the_glass_grants_a_doctor_access_until_it_expires(outsider, patient):
    grant = BreakGlassAccess.objects.create(
        user=outsider,
        patient=patient,
        reason="unconscious in ED",
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    assert access.patient_get_for_user(user=outsider, patient_id=patient.pk) == patient
    assert access.break_glass_active(user=outsider, patient=patient) == grant

    BreakGlassAccess.objects.filter(pk=grant.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(Http404):
        access.patient_get_for_user(user=outsider, patient_id=patient.pk)


def test_break_the_glass_is_not_flagged_when_a_care_relation_exists(owner, patient):
    BreakGlassAccess.objects.create(
        user=owner,
        patient=patient,
        reason="habit",
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    assert access.break_glass_active(user=owner, patient=patient) is None


def test_only_doctors_may_break_the_glass(colleague, receptionist, outsider):
    assert access.can_break_glass(user=outsider)
    assert not access.can_break_glass(user=colleague)
    assert not access.can_break_glass(user=receptionist)


def test_nurses_record_vitals_but_do_not_write_encounters(colleague, patient):
    assert access.can_record_observations(user=colleague, patient=patient)
    assert not access.can_write_clinical(user=colleague, patient=patient)


def test_a_doctor_writes_only_charts_they_may_see(owner, outsider, patient):
    assert access.can_write_clinical(user=owner, patient=patient)
    assert not access.can_write_clinical(user=outsider, patient=patient)


def test_the_access_log_is_for_admins_and_the_patient(admin_user, owner, patient):
    account = UserFactory(role=Role.PATIENT)
    patient.account = account
    patient.save()
    assert access.can_read_access_log(user=admin_user, patient=patient)
    assert access.can_read_access_log(user=account, patient=patient)
    assert not access.can_read_access_log(user=owner, patient=patient)


def test_an_encounter_by_another_doctor_does_not_give_access(outsider, cardiology):
    someone_else = UserFactory(role=Role.DOCTOR, department=cardiology)
    other = PatientFactory()
    EncounterFactory(patient=other, practitioner=someone_else, department=cardiology)
    assert other.pk not in visible(outsider)
