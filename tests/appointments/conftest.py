"""Booking fixtures: a clinic site with a QR code, Dr Alice's (``owner``) session tomorrow with
four 15-minute slots, and patients who signed in with their phones."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from appointments.models import ClinicSession, SessionMode, Site, SiteCode, Slot
from appointments.sms import LocmemSmsBackend
from appointments.tokens import new_key, token_for
from clinic.audit import Actor
from clinic.models import Patient, Role

from ..factories import PatientFactory, UserFactory


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "appointments.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox = []
    return LocmemSmsBackend.outbox


@pytest.fixture
def site(cardiology):
    return Site.objects.create(
        name="门诊楼二层",
        name_en="Outpatient building, floor 2",
        kind=Site.Kind.CLINIC,
        department=cardiology,
    )


@pytest.fixture
def code(site):
    return SiteCode.objects.create(site=site, key=new_key(), label="poster 1")


@pytest.fixture
def token(code):
    return token_for(code.key)


def make_session(doctor_user, site, *, start: datetime, slots: int = 4, minutes: int = 15):
    session = ClinicSession.objects.create(
        doctor=doctor_user.practitioner,
        department=doctor_user.practitioner.department,
        site=site,
        date=timezone.localtime(start).date(),
        period="am",
        starts_at=start,
        ends_at=start + timedelta(minutes=slots * minutes),
        mode=SessionMode.TIMED,
    )
    Slot.objects.bulk_create(
        Slot(
            session=session,
            number=i + 1,
            starts_at=start + timedelta(minutes=i * minutes),
            minutes=minutes,
        )
        for i in range(slots)
    )
    return session


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    day = timezone.localdate() + timedelta(days=day_offset)
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture
def clinic_session(owner, site):
    return make_session(owner, site, start=at(1, 8))


def make_account(phone: str, *, name: str = "刘洋", with_record: bool = True):
    user = UserFactory(username=f"tel-{phone}", role=Role.PATIENT, full_name="")
    if with_record:
        PatientFactory(name=name, phone=phone, account=user)
    return user


@pytest.fixture
def booker(db):
    """A patient account (signed in by phone) with their own record."""
    return make_account("13800000001")


@pytest.fixture
def other_booker(db):
    return make_account("13800000002", name="陈静")


def own_record(user) -> Patient:
    return Patient.objects.get(account=user)


def actor(user) -> Actor:
    return Actor(user=user, ip="10.0.0.1")
