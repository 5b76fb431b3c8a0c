"""Clinic sessions and their slots, generated from doctors' weekly templates (until published
rosters generate them). Number-quota sessions get suggested arrival times from the slotting
optimiser, fed with the doctor's measured consultation time and no-show rate."""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import slotting
from .models import (
    Appointment,
    AppointmentStatus,
    ClinicSession,
    SessionMode,
    SessionTemplate,
    Slot,
)
from .queue import consultation_minutes


def no_show_rate(doctor) -> float:
    """Share of the doctor's past appointments not attended, shrunk towards the setting's prior
    (as if 20 earlier appointments had that rate), so a new doctor starts at the prior."""
    past = Appointment.objects.filter(
        session__doctor=doctor,
        status__in=[AppointmentStatus.FULFILLED, AppointmentStatus.NOSHOW],
        walk_in=False,
    )
    total = past.count()
    missed = past.filter(status=AppointmentStatus.NOSHOW).count()
    prior_weight = 20
    rate = (missed + settings.DEFAULT_NO_SHOW_RATE * prior_weight) / (total + prior_weight)
    return min(rate, 0.5)


def quota_offsets(*, patients: int, length_minutes: float, doctor) -> list[float]:
    """Suggested arrival times (minutes from the start) for a number-quota session."""
    # Rounded inputs make repeated generations hit the optimiser's per-process cache.
    mean = max(1.0, round(consultation_minutes(doctor)))
    session = slotting.Session(
        patients=patients,
        length_minutes=length_minutes,
        consultation=slotting.ConsultationTime(mean_minutes=mean, cv=0.5),
        no_show=round(no_show_rate(doctor) * 20) / 20,
        grid_minutes=5.0 if length_minutes >= 5 else length_minutes,
    )
    return slotting.optimised(session, replications=1000)


def _aware(day: date, at) -> datetime:
    return timezone.make_aware(datetime.combine(day, at))


def session_from_template(template: SessionTemplate, day: date) -> ClinicSession | None:
    """Create ``template``'s session on ``day`` with its slots; None if it already exists."""
    starts_at = _aware(day, template.start_time)
    if ClinicSession.objects.filter(doctor=template.doctor, starts_at=starts_at).exists():
        return None
    return session_create(
        doctor=template.doctor,
        department=template.department,
        site=template.site,
        day=day,
        period=template.period,
        starts_at=starts_at,
        ends_at=_aware(day, template.end_time),
        mode=template.mode,
        quota=template.quota,
        slot_minutes=template.slot_minutes,
        fee=template.fee,
        template=template,
    )


def session_create(
    *,
    doctor,
    department,
    site,
    day,
    period,
    starts_at,
    ends_at,
    mode,
    quota=0,
    slot_minutes=15,
    fee=0,
    template=None,
    roster=None,
) -> ClinicSession:
    """A clinic session with its slots: fixed-length in timed mode, optimised arrival times for
    the number quota otherwise."""
    session = ClinicSession.objects.create(
        doctor=doctor,
        department=department,
        site=site,
        date=day,
        period=period,
        starts_at=starts_at,
        ends_at=ends_at,
        mode=mode,
        fee=fee,
        template=template,
        roster=roster,
    )
    length = (ends_at - starts_at).total_seconds() / 60
    if mode == SessionMode.TIMED:
        count = int(length // slot_minutes)
        offsets = [i * slot_minutes for i in range(count)]
        minutes = [slot_minutes] * count
    else:
        offsets = (
            quota_offsets(patients=quota, length_minutes=length, doctor=doctor) if quota else []
        )
        ends = [*offsets[1:], length]
        minutes = [max(1, round(end - start)) for start, end in zip(offsets, ends, strict=True)]
    Slot.objects.bulk_create(
        Slot(
            session=session,
            number=i + 1,
            starts_at=starts_at + timedelta(minutes=offset),
            minutes=minutes[i],
        )
        for i, offset in enumerate(offsets)
    )
    return session


def sessions_generate(*, start: date | None = None, days: int | None = None) -> int:
    """Create the sessions of the next ``days`` days (default ``BOOKING_DAYS_AHEAD``) from the
    active templates; existing sessions are left alone. Returns how many were created."""
    start = start or timezone.localdate()
    days = settings.BOOKING_DAYS_AHEAD if days is None else days
    created = 0
    templates = SessionTemplate.objects.filter(active=True).select_related("doctor")
    for offset in range(days):
        day = start + timedelta(days=offset)
        for template in templates:
            if template.weekday != day.weekday():
                continue
            with transaction.atomic():
                created += session_from_template(template, day) is not None
    return created
