"""Who may see which study: the clinic's patient rules applied to imaging.

- admin: every study, matched or not.
- anyone else: studies of patients whose chart they may open (clinic.access); studies not yet
  matched to a patient are for admins to reconcile.
- storing (STOW-RS, upload): admins, doctors and nurses.
"""

from django.db.models import QuerySet
from django.http import Http404

from clinic import access as clinic_access
from clinic.models import Role

from .models import Instance, Series, Study

STORE_ROLES = (Role.ADMIN, Role.DOCTOR, Role.NURSE)


def studies_visible_to(user) -> QuerySet[Study]:
    if not (user.is_authenticated and user.is_active):
        return Study.objects.none()
    if user.role == Role.ADMIN:
        return Study.objects.all()
    return Study.objects.filter(patient__in=clinic_access.patients_visible_to(user))


def series_visible_to(user) -> QuerySet[Series]:
    return Series.objects.filter(study__in=studies_visible_to(user))


def instances_visible_to(user) -> QuerySet[Instance]:
    return Instance.objects.filter(series__study__in=studies_visible_to(user))


def study_get_for_user(*, user, study_uid: str) -> Study:
    study = studies_visible_to(user).filter(study_uid=study_uid).first()
    if study is None:
        raise Http404
    return study


def can_store(*, user) -> bool:
    return user.is_authenticated and user.is_active and user.role in STORE_ROLES


# Opening a study in the viewer and reviewing it: doctors with a care relation to the patient
# (reviewing), and administrators (reading, re-opening a signed study).
VIEWER_ROLES = (Role.DOCTOR, Role.ADMIN)


def study_get_for_reader(*, user, pk: int) -> Study:
    if not (user.is_authenticated and user.is_active and user.role in VIEWER_ROLES):
        raise Http404
    study = studies_visible_to(user).select_related("patient").filter(pk=pk).first()
    if study is None:
        raise Http404
    return study
