"""Reads of patient records. Callers check access first (clinic.access) and audit the read."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from . import access
from .codes import OBSERVATION_CODES, VITAL_CHART_CODES
from .models import AuditEvent, Patient
from .phi import blind_index
from .validators import normalise_id_number


def patient_identifier_q(query: str, *, via: str = "") -> Q:
    """Patients whose MRN, full name, phone or ID-card number is exactly ``query``. Names, phones
    and ID-card numbers are encrypted at rest (clinic.phi), so they match through their blind
    indexes: whole values only, spelled as stored (case and spacing aside). ``via`` prefixes the
    lookups for a relation (``"patient__"``)."""
    query = (query or "").replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    condition = Q(**{f"{via}mrn__iexact": query})
    for kind in ("name", "phone", "id_number"):
        digest = blind_index(kind, query)
        if digest:
            condition |= Q(**{f"{via}{kind}_index": digest})
    return condition


def patient_search(*, user, query: str) -> QuerySet[Patient]:
    """Patients ``user`` may find, by their exact MRN, full name, phone or ID-card number."""
    patients = access.patients_findable_by(user)
    query = (query or "").replace("\x00", "").strip()
    if not query:
        return patients.order_by("mrn")[:0] if user.role == "receptionist" else patients
    return patients.filter(patient_identifier_q(query)).order_by("mrn")


def patient_by_exact_identifier(*, query: str) -> Patient | None:
    """For break-the-glass: the one patient whose MRN or ID-card number is exactly ``query``."""
    query = (query or "").strip()
    if not query:
        return None
    digest = blind_index("id_number", normalise_id_number(query))
    condition = Q(mrn__iexact=query) | (Q(id_number_index=digest) if digest else Q(pk__in=[]))
    return Patient.objects.filter(condition).first()


def patient_for_break_glass(*, patient_id) -> Patient:
    """Any patient, for the emergency-access form (which shows no clinical data)."""
    return get_object_or_404(Patient, pk=patient_id)


@dataclass
class VitalSeries:
    code: str
    display: str
    unit: str
    points: list  # (effective_at, value), oldest first
    polyline: str  # SVG points in a CHART_WIDTH x CHART_HEIGHT box
    dots: list  # (x, y, effective_at, value) for each measurement
    low: float
    high: float
    latest: float
    start: object  # the shared time axis
    end: object


CHART_WIDTH, CHART_HEIGHT = 600, 80
CHART_MAX_POINTS = 500


def patient_vitals(*, patient: Patient) -> list[VitalSeries]:
    """The most recent vitals, each as an SVG polyline with its own value range on a shared
    time axis."""
    observations = list(
        patient.observations.filter(code__in=VITAL_CHART_CODES).order_by("-effective_at")[
            :CHART_MAX_POINTS
        ]
    )[::-1]
    if not observations:
        return []
    left, right = observations[0].effective_at, observations[-1].effective_at
    span = (right - left).total_seconds() or 1
    series = []
    for code in VITAL_CHART_CODES:
        pts = [(o.effective_at, float(o.value)) for o in observations if o.code == code]
        if not pts:
            continue
        values = [v for _, v in pts]
        pad = (max(values) - min(values)) * 0.1 or 1
        low, high = min(values) - pad, max(values) + pad
        dots = [
            (
                f"{(t - left).total_seconds() / span * CHART_WIDTH:.1f}",
                f"{CHART_HEIGHT - (v - low) / (high - low) * CHART_HEIGHT:.1f}",
                t,
                v,
            )
            for t, v in pts
        ]
        known = OBSERVATION_CODES[code]
        series.append(
            VitalSeries(
                code=code,
                display=str(known.display),
                unit=known.label_unit,
                points=pts,
                polyline=" ".join(f"{x},{y}" for x, y, _, _ in dots),
                dots=dots,
                low=round(low, 1),
                high=round(high, 1),
                latest=pts[-1][1],
                start=left,
                end=right,
            )
        )
    return series


def patient_chart(*, patient: Patient) -> dict:
    return {
        "encounters": patient.encounters.select_related("department", "practitioner"),
        "conditions": patient.conditions.select_related("recorded_by"),
        "allergies": patient.allergies.all(),
        "observations": patient.observations.select_related("recorded_by")[:50],
        "vitals": patient_vitals(patient=patient),
        "dependants": patient.managers.select_related("manager"),
    }


def audit_search(
    *,
    user_query: str = "",
    patient_query: str = "",
    action: str = "",
    date_from=None,
    date_to=None,
    flagged: bool | None = None,
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("patient", "user")
    if user_query:
        events = events.filter(username__icontains=user_query)
    if patient_query:
        events = events.filter(patient_identifier_q(patient_query, via="patient__"))
    if action:
        events = events.filter(action=action)
    if date_from:
        events = events.filter(at__date__gte=date_from)
    if date_to:
        events = events.filter(at__date__lte=date_to)
    if flagged is not None:
        events = events.filter(flagged=flagged)
    return events


def patient_access_log(*, patient: Patient) -> QuerySet[AuditEvent]:
    """Who accessed this record, newest first."""
    return AuditEvent.objects.filter(patient=patient).select_related("user")
