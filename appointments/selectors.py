"""Reads for the booking pages: departments of a site, recommended doctors with their next free
slots and current wait, a patient's appointments, a doctor's inbox and queue."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Avg, Count, Q
from django.utils import timezone

from clinic.models import Department, Practitioner

from .models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    ClinicSession,
    ComplaintCategory,
    Site,
    SiteCode,
    Slot,
)
from .queue import newcomer_wait
from .services import booking_closes_at

S = AppointmentStatus


def departments_for_code(code: SiteCode) -> list[Department]:
    """Bookable departments reached from a code: its own (or its site's) department with its
    sub-departments, or, for a campus-wide code, every department holding sessions."""
    department = code.department or code.site.department
    upcoming = ClinicSession.objects.filter(
        status=ClinicSession.Status.OPEN, ends_at__gte=timezone.now()
    ).values("department_id")
    if department is None:
        return list(Department.objects.filter(pk__in=upcoming).select_related("parent"))
    family = Department.objects.filter(Q(pk=department.pk) | Q(parent=department))
    return list(family.filter(pk__in=upcoming)) or [department]


def free_slots(*, doctor=None, session=None, now=None, limit=None):
    now = now or timezone.now()
    slots = (
        Slot.objects.filter(session__status=ClinicSession.Status.OPEN, starts_at__gte=now)
        .filter(Q(status=Slot.Status.FREE) | Q(status=Slot.Status.HELD, held_until__lte=now))
        .select_related("session__department", "session__site")
        .order_by("starts_at", "number")
    )
    if doctor is not None:
        slots = slots.filter(session__doctor=doctor)
    if session is not None:
        slots = slots.filter(session=session)
    horizon = now + timedelta(days=settings.BOOKING_DAYS_AHEAD)
    slots = slots.filter(starts_at__lte=horizon)
    # Sessions whose booking has closed are not offered.
    result = []
    for slot in slots.iterator():
        if now < booking_closes_at(slot.session):
            result.append(slot)
            if limit is not None and len(result) >= limit:
                break
    return result


def full_sessions(*, doctor, now=None) -> list[ClinicSession]:
    """The doctor's open sessions, still taking bookings, whose numbers are all taken: a patient
    may join their waiting list."""
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.BOOKING_DAYS_AHEAD)
    sessions = (
        ClinicSession.objects.filter(
            doctor=doctor,
            status=ClinicSession.Status.OPEN,
            starts_at__gt=now,
            starts_at__lte=horizon,
        )
        .exclude(slots__status=Slot.Status.FREE)
        .filter(slots__isnull=False)
        .distinct()
        .select_related("department", "site")
        .order_by("starts_at")
    )
    return [s for s in sessions if now < booking_closes_at(s)]


@dataclass
class DoctorChoice:
    doctor: Practitioner
    next_slots: list = field(default_factory=list)
    rating: float | None = None
    ratings: int = 0
    previous: bool = False
    specialty_match: bool = False
    wait_minutes: int | None = None

    @property
    def soonest(self) -> datetime | None:
        return self.next_slots[0].starts_at if self.next_slots else None


def recommended_doctors(
    *, department: Department, user=None, category: ComplaintCategory | None = None, now=None
) -> list[DoctorChoice]:
    """Doctors of ``department`` with bookable slots, best first: the patient's previous
    doctor, then those whose specialty matches the chosen complaint, then the soonest free day,
    then the best rated."""
    now = now or timezone.now()
    doctors = (
        Practitioner.objects.filter(department=department, user__is_active=True)
        .select_related("user")
        .annotate(avg_rating=Avg("ratings__stars"), n_ratings=Count("ratings"))
    )
    previous_ids = set()
    if user is not None and user.is_authenticated:
        previous_ids = set(
            Appointment.objects.filter(
                booked_by=user, status__in=[S.FULFILLED, *ACTIVE_STATUSES]
            ).values_list("session__doctor_id", flat=True)
        )
    keywords = category.keywords if category else []
    choices = []
    for doctor in doctors:
        slots = free_slots(doctor=doctor, now=now, limit=3)
        if not slots:
            continue
        choices.append(
            DoctorChoice(
                doctor=doctor,
                next_slots=slots,
                rating=doctor.avg_rating,
                ratings=doctor.n_ratings,
                previous=doctor.pk in previous_ids,
                specialty_match=any(k in doctor.specialty for k in keywords),
                wait_minutes=current_wait(doctor, now=now),
            )
        )
    choices.sort(
        key=lambda c: (
            not c.previous,
            not c.specialty_match,
            timezone.localtime(c.soonest).date(),
            -(c.rating or 0),
            c.soonest,
        )
    )
    return choices


def current_wait(doctor, *, now=None) -> int | None:
    """Predicted wait for someone joining the doctor's queue now, if they are in clinic."""
    now = now or timezone.now()
    session = ClinicSession.objects.filter(
        doctor=doctor, starts_at__lte=now, ends_at__gt=now, status=ClinicSession.Status.OPEN
    ).first()
    if session is None:
        return None
    return round(newcomer_wait(session, now=now))


def appointments_for_account(user):
    return (
        Appointment.objects.filter(booked_by=user)
        .select_related(
            "session__doctor__user", "session__department", "session__site", "slot", "patient"
        )
        .order_by("-session__starts_at")
    )


def todays_appointments_at_site(user, site: Site, *, now=None):
    """The account's visits this site can check in now: check-in is open (from
    ``CHECK_IN_OPENS_MINUTES`` before the appointment to the session's end), whatever the
    calendar date, so a visit just after midnight is offered at 23:30."""
    now = now or timezone.now()
    opens_before = timedelta(minutes=settings.CHECK_IN_OPENS_MINUTES)
    mine = appointments_for_account(user).filter(
        status__in=[S.BOOKED, S.ARRIVED],
        session__ends_at__gte=now,
        session__starts_at__lte=now + opens_before + timedelta(hours=12),
    )
    return [
        a
        for a in mine
        if (a.session.site_id == site.pk or site.kind == Site.Kind.CAMPUS)
        and a.starts_at - opens_before <= now
    ]


def inbox_for(user):
    """A doctor's requests awaiting a decision, soonest first."""
    return (
        Appointment.objects.filter(session__doctor__user=user, status=S.PENDING)
        .select_related("patient", "slot", "session__department", "complaint_category")
        .order_by("slot__starts_at")
    )


def sessions_current(*, now=None):
    """Sessions the day's pages (queue, board, desk) show: the ones running now, ended in the
    last few hours, or starting within the next twelve, so a clinic does not vanish from the
    screens at midnight."""
    now = now or timezone.now()
    return ClinicSession.objects.filter(
        starts_at__lte=now + timedelta(hours=12), ends_at__gte=now - timedelta(hours=4)
    ).order_by("starts_at")


def sessions_today_for(user):
    return sessions_current().filter(doctor__user=user)
