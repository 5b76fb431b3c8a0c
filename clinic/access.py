"""Who may see and change which patient's record. The one place these rules live.

- admin: every patient.
- doctor: patients with whom they have a care relation — an encounter they saw, an open
  episode of care in their department, a booking with them (requested, confirmed or seen;
  not a declined or cancelled one) — or an unexpired emergency (break-the-glass) access.
- nurse: patients with an encounter or an open episode in their department (or its children).
- patient: their own record and the dependants they manage.
- receptionist: finds and registers patients (demographics only), never the chart.
- scheduler: no patient data.

An object a user may not see is answered with 404, so its existence is not revealed.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from .models import (
    BreakGlassAccess,
    Department,
    Dependant,
    Encounter,
    EpisodeOfCare,
    Patient,
    Role,
)

CLINICAL_ROLES = (Role.ADMIN, Role.DOCTOR, Role.NURSE, Role.PATIENT)
REGISTRATION_ROLES = (Role.ADMIN, Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST)


def _department_ids(user) -> list[int]:
    if not user.department_id:
        return []
    return [
        user.department_id,
        *Department.objects.filter(parent_id=user.department_id).values_list("id", flat=True),
    ]


def _active_break_glass(user) -> QuerySet:
    return BreakGlassAccess.objects.filter(
        patient=OuterRef("pk"), user=user, expires_at__gt=timezone.now()
    )


def _doctor_care_relation(user) -> Q:
    saw_them = Encounter.objects.filter(patient=OuterRef("pk"), practitioner=user)
    department_episode = EpisodeOfCare.objects.filter(
        patient=OuterRef("pk"),
        department_id__in=_department_ids(user),
        status=EpisodeOfCare.Status.OPEN,
    )
    # A booking with this doctor is a care relation: the patient chose them.
    from appointments.models import Appointment, AppointmentStatus

    booked_them = Appointment.objects.filter(
        patient=OuterRef("pk"),
        session__doctor__user=user,
        status__in=[
            AppointmentStatus.PENDING,
            AppointmentStatus.PROPOSED,
            AppointmentStatus.BOOKED,
            AppointmentStatus.ARRIVED,
            AppointmentStatus.CHECKED_IN,
            AppointmentStatus.FULFILLED,
        ],
    )
    return Q(Exists(saw_them)) | Q(Exists(department_episode)) | Q(Exists(booked_them))


def patients_visible_to(user) -> QuerySet[Patient]:
    """Patients whose chart ``user`` may open."""
    if not (user.is_authenticated and user.is_active):
        return Patient.objects.none()
    if user.role == Role.ADMIN:
        return Patient.objects.all()
    if user.role == Role.DOCTOR:
        return Patient.objects.filter(
            _doctor_care_relation(user) | Q(Exists(_active_break_glass(user)))
        )
    if user.role == Role.NURSE:
        departments = _department_ids(user)
        in_department = Encounter.objects.filter(
            patient=OuterRef("pk"), department_id__in=departments
        )
        department_episode = EpisodeOfCare.objects.filter(
            patient=OuterRef("pk"), department_id__in=departments, status=EpisodeOfCare.Status.OPEN
        )
        return Patient.objects.filter(Exists(in_department) | Exists(department_episode))
    if user.role == Role.PATIENT:
        manages = Dependant.objects.filter(patient=OuterRef("pk"), manager=user)
        return Patient.objects.filter(Q(account=user) | Exists(manages))
    return Patient.objects.none()


def patients_findable_by(user) -> QuerySet[Patient]:
    """Patients ``user`` may find by search: the chart-visible ones, and for the front desk
    everyone (to register and book them), demographics only."""
    if user.is_authenticated and user.is_active and user.role == Role.RECEPTIONIST:
        return Patient.objects.all()
    return patients_visible_to(user)


def patient_get_for_user(*, user, patient_id) -> Patient:
    """The patient, if ``user`` may open their chart; otherwise Http404."""
    try:
        return patients_visible_to(user).get(pk=int(patient_id))
    except (Patient.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def can_view_patient(*, user, patient: Patient) -> bool:
    return patients_visible_to(user).filter(pk=patient.pk).exists()


def break_glass_active(*, user, patient: Patient) -> BreakGlassAccess | None:
    """The emergency access through which ``user`` sees ``patient``, when it is the only way
    (a care relation makes the access ordinary, not flagged)."""
    if user.role != Role.DOCTOR:
        return None
    if Patient.objects.filter(_doctor_care_relation(user), pk=patient.pk).exists():
        return None
    return BreakGlassAccess.objects.filter(
        user=user, patient=patient, expires_at__gt=timezone.now()
    ).first()


def can_break_glass(*, user) -> bool:
    return user.is_authenticated and user.is_active and user.role == Role.DOCTOR


def can_write_clinical(*, user, patient: Patient) -> bool:
    """Doctors write encounters, conditions; doctors and nurses record vitals and allergies."""
    return user.role in (Role.DOCTOR,) and can_view_patient(user=user, patient=patient)


def can_record_observations(*, user, patient: Patient) -> bool:
    return user.role in (Role.DOCTOR, Role.NURSE) and can_view_patient(user=user, patient=patient)


def can_register_patients(*, user) -> bool:
    return user.is_authenticated and user.is_active and user.role in REGISTRATION_ROLES


def can_edit_demographics(*, user, patient: Patient) -> bool:
    if not can_register_patients(user=user):
        return False
    if user.role == Role.RECEPTIONIST:
        return True
    return can_view_patient(user=user, patient=patient)


def can_record_consent(*, user, patient: Patient) -> bool:
    """Staff who may edit the patient's details (a signed form at the desk, a talk on the ward),
    and the patient themselves from their own account; not a guardian's account (yet)."""
    if can_edit_demographics(user=user, patient=patient):
        return True
    return (
        user.is_authenticated
        and user.is_active
        and user.role == Role.PATIENT
        and patient.account_id == user.pk
    )


def can_read_access_log(*, user, patient: Patient) -> bool:
    """Admins, and the patient (or their guardian) — the person has a right to know."""
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.PATIENT and can_view_patient(user=user, patient=patient)
