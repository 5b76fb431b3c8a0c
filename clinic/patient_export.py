"""A patient's copy of their own data (PIPL art. 45: the right to consult, copy and transfer).

``patient_data_export`` gathers the record, the clinical entries, visits, imaging (metadata, AI
findings with their review status, signed impressions), consents and who accessed the record,
as plain JSON-ready values: codes rather than translated labels, so another system can read it.
Images themselves are not included; they are requested from the imaging department.
"""

from django.db import transaction
from django.utils import timezone

from .audit import Actor, audit_record
from .models import AuditAction, AuditEvent, Patient

EXPORT_FORMAT = "aimass-patient-export/1"


def _person(user) -> dict | None:
    if user is None:
        return None
    return {"name": user.display_name, "role": user.role}


def _patient(patient: Patient) -> dict:
    return {
        "mrn": patient.mrn,
        "name": patient.name,
        "sex": patient.sex,
        "birth_date": patient.birth_date,
        "phone": patient.phone,
        "id_number": patient.id_number,
        "address": patient.address,
        "emergency_contact_name": patient.emergency_contact_name,
        "emergency_contact_phone": patient.emergency_contact_phone,
        "registered_at": patient.created_at,
    }


def _encounters(patient: Patient) -> list[dict]:
    return [
        {
            "started_at": e.started_at,
            "kind": e.kind,
            "department": e.department.name,
            "doctor": e.practitioner.display_name,
            "chief_complaint": e.chief_complaint,
            "present_illness": e.present_illness,
            "past_history": e.past_history,
            "allergy_history": e.allergy_history,
            "physical_exam": e.physical_exam,
            "lab_summary": e.lab_summary,
            "diagnosis": e.diagnosis,
            "treatment_plan": e.treatment_plan,
        }
        for e in patient.encounters.select_related("department", "practitioner")
    ]


def _clinical(patient: Patient) -> dict:
    return {
        "conditions": [
            {
                "icd10_code": c.icd10_code,
                "text": c.text,
                "clinical_status": c.clinical_status,
                "onset_date": c.onset_date,
                "recorded_at": c.recorded_at,
            }
            for c in patient.conditions.all()
        ],
        "allergies": [
            {
                "substance": a.substance,
                "category": a.category,
                "criticality": a.criticality,
                "reaction": a.reaction,
                "recorded_at": a.recorded_at,
            }
            for a in patient.allergies.all()
        ],
        "observations": [
            {
                "effective_at": o.effective_at,
                "category": o.category,
                "code": o.code,
                "name": o.display,
                "value": o.value,
                "unit": o.unit,
            }
            for o in patient.observations.all()
        ],
    }


def _appointments(patient: Patient) -> list[dict]:
    from appointments.models import Appointment

    rows = Appointment.objects.filter(patient=patient).select_related(
        "slot", "session__doctor__user", "session__department"
    )
    return [
        {
            "starts_at": a.starts_at,
            "doctor": a.session.doctor.user.display_name,
            "department": a.session.department.name,
            "status": a.status,
            "reason": a.complaint,
            "walk_in": a.walk_in,
            "requested_at": a.created_at,
            "checked_in_at": a.arrived_at,
            "finished_at": a.finished_at,
            "payment_status": a.payment_status,
        }
        for a in rows
    ]


def _imaging(patient: Patient) -> list[dict]:
    from imaging.models import ReportStatus, Study

    studies = Study.objects.filter(patient=patient).prefetch_related(
        "series", "findings__model_version__model", "reports__signed_by"
    )
    return [
        {
            "study_date": s.study_date,
            "study_time": s.study_time,
            "description": s.study_description,
            "modalities": [m for m in s.modalities.split("\\") if m],
            "accession_number": s.accession_number,
            "series": [
                {
                    "modality": x.modality,
                    "description": x.series_description,
                    "body_part": x.body_part_examined,
                    "images": x.number_of_instances,
                }
                for x in s.series.all()
            ],
            "ai_findings": [
                {
                    "label": f.label,
                    "kind": f.kind,
                    "source": f.source,
                    "status": f.status,
                    "score": f.score,
                    "diameter_mm": f.diameter_mm,
                    "volume_mm3": f.volume_mm3,
                    "model": f.model_version.model.name if f.model_version else None,
                    "model_version": f.model_version.version if f.model_version else None,
                    "created_at": f.created_at,
                }
                for f in s.findings.all()
            ],
            "reports": [
                {
                    "version": r.version,
                    "signed_at": r.signed_at,
                    "signed_by": r.signed_by.display_name,
                    "impression": r.impression,
                }
                for r in s.reports.all()
                if r.status == ReportStatus.SIGNED
            ],
        }
        for s in studies
    ]


def _consents(patient: Patient) -> list[dict]:
    from .consent import consent_history

    return [
        {
            "purpose": c.purpose,
            "decision": c.decision,
            "method": c.method,
            "note": c.note,
            "recorded_at": c.recorded_at,
            "recorded_by": _person(c.recorded_by),
            "current": c.current,
        }
        for c in consent_history(patient)
    ]


def _access_log(patient: Patient) -> list[dict]:
    events = AuditEvent.objects.filter(patient=patient).select_related("user")
    return [
        {
            "at": e.at,
            "user": e.user.display_name if e.user else e.username,
            "role": e.role,
            "action": e.action,
            "object": e.object_type,
        }
        for e in events.iterator(chunk_size=2000)
    ]


@transaction.atomic
def patient_data_export(*, actor: Actor, patient: Patient) -> dict:
    """Everything the hospital holds about ``patient`` that this app keeps, for the patient to
    download; the export is audited. The caller checks that ``actor`` is the patient."""
    data = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now(),
        "patient": _patient(patient),
        "encounters": _encounters(patient),
        **_clinical(patient),
        "appointments": _appointments(patient),
        "imaging_studies": _imaging(patient),
        "consents": _consents(patient),
        "access_log": _access_log(patient),
    }
    audit_record(
        actor=actor,
        action=AuditAction.EXPORT,
        obj=patient,
        patient=patient,
        details={"export": "patient_data"},
    )
    return data
