"""A patient's consent, per purpose, under China's Personal Information Protection Law (PIPL).

Health information is sensitive personal information (PIPL art. 28), processed with a separate
consent (art. 29) that the person may withdraw at any time (art. 15). Two purposes are asked
separately: ``processing`` (of personal and health information for care) and ``ai_analysis``
(of their images by AI models). Each decision is a new ``PatientConsent`` row; the latest row per
purpose is the one in force, and a purpose with no row at all is "not asked".

What the decisions allow (``ai_refusal``):

- AI never runs on the images of a patient who declined or withdrew either purpose.
- Not asked: AI runs when ``settings.AI_REQUIRES_CONSENT`` is False (the default: the hospital
  covers AI analysis in its general notice), and only after a granted ``ai_analysis`` consent when
  it is True (hospitals that ask every patient).

A declined ``processing`` consent is recorded and shown on the chart; care records are still
kept (what is needed to treat a patient, and what the law requires a hospital to keep, does not
rest on consent, PIPL art. 13), so it stops AI analysis but no clinical page.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from . import access
from .audit import Actor, audit_record
from .models import (
    AuditAction,
    ConsentDecision,
    ConsentMethod,
    ConsentPurpose,
    Patient,
    PatientConsent,
    Role,
)

NOT_ASKED = "not_asked"
REFUSED = (ConsentDecision.DECLINED, ConsentDecision.WITHDRAWN)


def consent_current(patient: Patient) -> dict[str, PatientConsent | None]:
    """The consent in force for each purpose (None: not asked), in the purposes' order."""
    rows = {
        c.purpose: c
        for c in PatientConsent.objects.filter(patient=patient, current=True).select_related(
            "recorded_by"
        )
    }
    return {purpose: rows.get(purpose) for purpose in ConsentPurpose.values}


def consent_history(patient: Patient):
    """Every decision of the patient, newest first."""
    return PatientConsent.objects.filter(patient=patient).select_related("recorded_by", "patient")


def consent_status(patient: Patient, purpose: str) -> str:
    """The decision in force for ``purpose``: granted, declined, withdrawn or ``NOT_ASKED``."""
    decision = (
        PatientConsent.objects.filter(patient=patient, purpose=purpose, current=True)
        .values_list("decision", flat=True)
        .first()
    )
    return decision or NOT_ASKED


def ai_refusal(patient: Patient) -> tuple[str, str] | None:
    """Why AI may not analyse ``patient``'s images, as (purpose, status) of the consent that stops
    it; None when it may."""
    statuses = dict(
        PatientConsent.objects.filter(patient=patient, current=True).values_list(
            "purpose", "decision"
        )
    )
    for purpose in (ConsentPurpose.PROCESSING, ConsentPurpose.AI_ANALYSIS):
        if statuses.get(purpose) in REFUSED:
            return str(purpose), statuses[purpose]
    ai = statuses.get(ConsentPurpose.AI_ANALYSIS)
    if settings.AI_REQUIRES_CONSENT and ai != ConsentDecision.GRANTED:
        return str(ConsentPurpose.AI_ANALYSIS), NOT_ASKED
    return None


def ai_allowed(patient: Patient) -> bool:
    """Whether AI models may analyse ``patient``'s images now."""
    return ai_refusal(patient) is None


def _by_the_patient(user, patient: Patient) -> bool:
    return user.role == Role.PATIENT and patient.account_id == user.pk


@transaction.atomic
def consent_record(
    *,
    patient: Patient,
    purpose: str,
    decision: str,
    actor: Actor,
    method: str,
    note: str = "",
) -> PatientConsent:
    """Record the patient's decision about ``purpose``; it replaces the one in force (which stays
    in the history). Staff record what the patient decided in person (``method`` paper, verbal,
    phone); the patient records their own from their account (``method`` patient_account).
    Withdrawing needs a consent in force to withdraw."""
    user = actor.user
    if not access.can_record_consent(user=user, patient=patient):
        raise PermissionDenied
    by_patient = _by_the_patient(user, patient)
    if by_patient != (method == ConsentMethod.PATIENT_ACCOUNT):
        raise ValidationError(
            {
                "method": _("Only the patient records a decision from their own account.")
                if not by_patient
                else _("A decision made from the patient's account is recorded as such.")
            },
            code="consent_method",
        )
    # One change at a time per patient: the row lock orders concurrent decisions.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    previous = PatientConsent.objects.filter(patient=patient, purpose=purpose, current=True).first()
    if decision == ConsentDecision.WITHDRAWN and (
        previous is None or previous.decision != ConsentDecision.GRANTED
    ):
        raise ValidationError(
            {"decision": _("Only a granted consent can be withdrawn.")},
            code="consent_not_granted",
        )
    if previous is not None:
        previous.current = False
        previous.save(update_fields=["current"])
    consent = PatientConsent(
        patient=patient,
        purpose=purpose,
        decision=decision,
        method=method,
        note=(note or "").strip(),
        recorded_by=user,
    )
    consent.full_clean()
    consent.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE if previous is None else AuditAction.UPDATE,
        obj=consent,
        patient=patient,
        details={
            "event": "consent_recorded",
            "purpose": purpose,
            "decision": decision,
            "previous": previous.decision if previous is not None else NOT_ASKED,
            "method": method,
        },
    )
    return consent
