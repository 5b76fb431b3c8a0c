"""Writes to patient records. Each service validates, saves and audits in one transaction."""

import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import access
from .audit import Actor, audit_record
from .codes import OBSERVATION_CODES
from .models import (
    AllergyIntolerance,
    AuditAction,
    BreakGlassAccess,
    Condition,
    Encounter,
    Observation,
    Patient,
)

PATIENT_FIELDS = (
    "name",
    "sex",
    "birth_date",
    "phone",
    "id_number",
    "address",
    "emergency_contact_name",
    "emergency_contact_phone",
)
ENCOUNTER_FIELDS = (
    "kind",
    "started_at",
    "department",
    "chief_complaint",
    "present_illness",
    "past_history",
    "allergy_history",
    "physical_exam",
    "lab_summary",
    "diagnosis",
    "treatment_plan",
)


def _changed(instance, fields: dict) -> list[str]:
    changed = []
    for name, value in fields.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


def patient_insert(patient: Patient) -> Patient:
    """Insert a validated, unsaved patient and assign its MRN: ``P`` and the primary key, padded.

    Shared by registration and the CSV import. The key is only known after the insert, so the row
    goes in under a unique placeholder first. Call it inside the caller's transaction, after
    ``full_clean(exclude=["mrn"])``; it neither checks permissions nor audits.
    """
    patient.mrn = f"tmp-{uuid.uuid4().hex[:12]}"
    patient.save()
    patient.mrn = f"P{patient.pk:08d}"
    patient.save(update_fields=["mrn"])
    return patient


@transaction.atomic
def patient_create(*, actor: Actor, **fields) -> Patient:
    """Register a patient; the MRN is assigned here."""
    if not access.can_register_patients(user=actor.user):
        raise PermissionDenied
    patient = Patient(**fields)
    patient.full_clean(exclude=["mrn"])
    patient_insert(patient)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=patient)
    return patient


@transaction.atomic
def patient_update(*, actor: Actor, patient: Patient, **fields) -> Patient:
    if not access.can_edit_demographics(user=actor.user, patient=patient):
        raise PermissionDenied
    unknown = set(fields) - set(PATIENT_FIELDS)
    if unknown:
        raise ValueError(f"not patient fields: {sorted(unknown)}")
    changed = _changed(patient, fields)
    patient.full_clean()
    if changed:
        patient.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=actor, action=AuditAction.UPDATE, obj=patient, details={"fields": changed}
        )
    return patient


@transaction.atomic
def encounter_create(*, actor: Actor, patient: Patient, **fields) -> Encounter:
    if not access.can_write_clinical(user=actor.user, patient=patient):
        raise PermissionDenied
    encounter = Encounter(patient=patient, practitioner=actor.user, created_by=actor.user, **fields)
    encounter.full_clean()
    encounter.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=encounter, patient=patient)
    return encounter


@transaction.atomic
def encounter_update(*, actor: Actor, encounter: Encounter, **fields) -> Encounter:
    if not access.can_write_clinical(user=actor.user, patient=encounter.patient):
        raise PermissionDenied
    unknown = set(fields) - set(ENCOUNTER_FIELDS)
    if unknown:
        raise ValueError(f"not encounter fields: {sorted(unknown)}")
    changed = _changed(encounter, fields)
    encounter.full_clean()
    if changed:
        encounter.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            obj=encounter,
            patient=encounter.patient,
            details={"fields": changed},
        )
    return encounter


@transaction.atomic
def observation_create(
    *,
    actor: Actor,
    patient: Patient,
    code: str,
    value: Decimal,
    effective_at=None,
    encounter: Encounter | None = None,
) -> Observation:
    """Record a vital sign or lab value; ``code`` must be one of codes.OBSERVATION_CODES."""
    if not access.can_record_observations(user=actor.user, patient=patient):
        raise PermissionDenied
    known = OBSERVATION_CODES.get(code)
    if known is None:
        raise ValidationError({"code": _("Unknown observation code.")})
    if not known.low <= float(value) <= known.high:
        raise ValidationError(
            {
                "value": _("%(value)s %(unit)s is outside the plausible range %(low)s–%(high)s.")
                % {"value": value, "unit": known.unit, "low": known.low, "high": known.high}
            }
        )
    if encounter is not None and encounter.patient_id != patient.pk:
        raise ValidationError({"encounter": _("This encounter belongs to another patient.")})
    observation = Observation(
        patient=patient,
        encounter=encounter,
        code=code,
        display=str(known.display),
        unit=known.unit,
        category=known.category,
        value=value,
        effective_at=effective_at or timezone.now(),
        recorded_by=actor.user,
    )
    observation.full_clean()
    observation.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=observation, patient=patient)
    return observation


@transaction.atomic
def condition_create(*, actor: Actor, patient: Patient, **fields) -> Condition:
    if not access.can_write_clinical(user=actor.user, patient=patient):
        raise PermissionDenied
    condition = Condition(patient=patient, recorded_by=actor.user, **fields)
    condition.full_clean()
    condition.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=condition, patient=patient)
    return condition


@transaction.atomic
def allergy_create(*, actor: Actor, patient: Patient, **fields) -> AllergyIntolerance:
    if not access.can_record_observations(user=actor.user, patient=patient):
        raise PermissionDenied
    allergy = AllergyIntolerance(patient=patient, recorded_by=actor.user, **fields)
    allergy.full_clean()
    allergy.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=allergy, patient=patient)
    return allergy


BREAK_GLASS_MIN_REASON = 10


@transaction.atomic
def break_glass_open(*, actor: Actor, patient: Patient, reason: str) -> BreakGlassAccess:
    """Give a doctor emergency access to any chart for a few hours; flagged for review."""
    if not access.can_break_glass(user=actor.user):
        raise PermissionDenied
    reason = (reason or "").strip()
    if len(reason) < BREAK_GLASS_MIN_REASON:
        raise ValidationError(
            {
                "reason": _("Give a reason of at least %(n)d characters.")
                % {"n": BREAK_GLASS_MIN_REASON}
            },
            code="break_glass_reason_required",
        )
    now = timezone.now()
    grant = BreakGlassAccess.objects.create(
        user=actor.user,
        patient=patient,
        reason=reason,
        granted_at=now,
        expires_at=now + timedelta(hours=settings.BREAK_GLASS_HOURS),
    )
    audit_record(
        actor=actor,
        action=AuditAction.BREAK_GLASS,
        obj=grant,
        patient=patient,
        reason=reason,
        flagged=True,
    )
    return grant


def patient_read_audit(
    *, actor: Actor, patient: Patient, obj=None, action: str = AuditAction.VIEW
) -> None:
    """Audit a read of ``patient``'s data; reads through emergency access are flagged."""
    grant = access.break_glass_active(user=actor.user, patient=patient)
    audit_record(
        actor=actor,
        action=action,
        obj=obj if obj is not None else patient,
        patient=patient,
        flagged=grant is not None,
        reason=f"break-glass #{grant.pk}: {grant.reason}" if grant else "",
    )
