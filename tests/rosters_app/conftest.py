"""A small cardiology roster: day (D), night (N) and clinic (C) shifts, four staff on one
contract, weekday cover; Dr Alice (``owner``) works clinics."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from appointments.models import CoverRequirement, RosterStaff, ShiftType, Site, StaffContract
from clinic.models import Role

from ..factories import PractitionerFactory, UserFactory


@pytest.fixture(autouse=True)
def quick_solver(settings):
    settings.ROSTER_TIME_LIMIT_SECONDS = 4
    settings.ROSTER_SLICE_SECONDS = 2
    settings.ROSTER_WORKERS = 1


@pytest.fixture
def shifts(db):
    day = ShiftType.objects.create(code="D", name="白班", name_en="Day", start=time(8), minutes=480)
    night = ShiftType.objects.create(
        code="N", name="夜班", name_en="Night", start=time(20), minutes=600, night=True
    )
    clinic = ShiftType.objects.create(
        code="C", name="门诊", name_en="Clinic", start=time(8), minutes=240, clinic_period="am"
    )
    night.cannot_follow.add(day, clinic)
    return {"D": day, "N": night, "C": clinic}


@pytest.fixture
def contract(db):
    return StaffContract.objects.create(
        name="全职",
        max_shifts={"N": 3},
        min_total_minutes=0,
        max_total_minutes=4000,
        min_consecutive_shifts=1,
        max_consecutive_shifts=5,
        min_consecutive_days_off=1,
        max_weekends=2,
    )


@pytest.fixture
def team(owner, cardiology, contract, shifts):
    members = [owner]
    for i in range(3):
        user = UserFactory(username=f"staff{i}", role=Role.DOCTOR, department=cardiology)
        PractitionerFactory(user=user, department=cardiology)
        members.append(user)
    for user in members:
        RosterStaff.objects.create(user=user, department=cardiology, contract=contract)
    for weekday in range(7):
        CoverRequirement.objects.create(
            department=cardiology,
            weekday=weekday,
            shift_type=shifts["D"],
            required=1,
            under_weight=100,
        )
        CoverRequirement.objects.create(
            department=cardiology,
            weekday=weekday,
            shift_type=shifts["N"],
            required=1,
            under_weight=100,
        )
    Site.objects.create(
        name="心内科门诊", kind=Site.Kind.DEPARTMENT_ENTRANCE, department=cardiology
    )
    return members


def next_monday():
    today = timezone.localdate()
    return today + timedelta(days=7 - today.weekday())
