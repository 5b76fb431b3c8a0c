"""The demo hospital's booking: a campus QR code and a cardiology entrance code, complaint
categories, weekly clinic templates for every demo doctor, the sessions of the next two weeks,
and last week's seen visits with ratings. A ``seed_demo`` step; idempotent like the others."""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone

from clinic.models import Department, Patient, Practitioner, User

from .models import (
    Appointment,
    AppointmentStatus,
    ClinicSession,
    ComplaintCategory,
    PaymentStatus,
    Rating,
    SessionMode,
    SessionTemplate,
    Site,
    SiteCode,
    Slot,
)
from .schedule import sessions_generate
from .tokens import new_key, token_for

# department code → (name, English name, specialty keywords)
CATEGORIES = {
    "cardiology": [
        ("胸痛胸闷", "Chest pain or tightness", "冠心病"),
        ("高血压", "High blood pressure", "高血压"),
        ("心悸气短", "Palpitations, breathlessness", "心力衰竭,心律失常"),
    ],
    "respiratory": [
        ("咳嗽咳痰", "Cough", "肺部感染"),
        ("喘息气促", "Wheezing", "哮喘,慢性阻塞性肺疾病"),
    ],
    "gastroenterology": [
        ("腹痛腹胀", "Abdominal pain", "胃食管反流"),
        ("胃镜肠镜咨询", "Endoscopy advice", "消化内镜"),
    ],
    "endocrinology": [("血糖异常", "Blood sugar", "糖尿病"), ("甲状腺", "Thyroid", "甲状腺")],
}
CAMPUS_CODE_LABEL = "门诊大厅 Outpatient hall"


def _get_or_create(model: type[Model], lookup: dict, defaults: dict) -> tuple[Model, bool]:
    found = model.objects.filter(**lookup).first()
    if found is not None:
        return found, False
    obj = model(**lookup, **defaults)
    obj.full_clean()
    obj.save()
    return obj, True


def seed_booking() -> dict[str, int]:
    created = {"sites": 0, "codes": 0, "categories": 0, "templates": 0}
    campus, new = _get_or_create(
        Site, {"name": "门诊楼"}, {"name_en": "Outpatient building", "kind": Site.Kind.CAMPUS}
    )
    created["sites"] += new
    cardiology = Department.objects.get(code="cardiology")
    entrance, new = _get_or_create(
        Site,
        {"name": "心血管内科门诊"},
        {
            "name_en": "Cardiology clinic",
            "kind": Site.Kind.DEPARTMENT_ENTRANCE,
            "department": cardiology,
        },
    )
    created["sites"] += new
    for site, label in ((campus, CAMPUS_CODE_LABEL), (entrance, "心内科候诊区 Cardiology")):
        if not SiteCode.objects.filter(site=site, label=label).exists():
            SiteCode.objects.create(site=site, label=label, key=new_key())
            created["codes"] += 1
    for code, items in CATEGORIES.items():
        department = Department.objects.get(code=code)
        for name, name_en, keywords in items:
            created["categories"] += _get_or_create(
                ComplaintCategory,
                {"department": department, "name": name},
                {"name_en": name_en, "specialty_keywords": keywords},
            )[1]
    created["templates"] = _templates_create(campus, entrance)
    created["sessions"] = sessions_generate()
    created["visits"] = _past_visits_create(campus)
    return created


def _templates_create(campus: Site, entrance: Site) -> int:
    """Mornings are number-quota clinics (12 numbers), afternoons 20-minute timed slots;
    each doctor works five half-days a week, spread so every weekday has clinics."""
    created = 0
    doctors = Practitioner.objects.filter(user__role="doctor").select_related("department")
    for index, doctor in enumerate(doctors.order_by("user__username")):
        site = entrance if doctor.department.code == "cardiology" else campus
        for weekday in range(5):
            morning = (weekday + index) % 2 == 0
            created += _get_or_create(
                SessionTemplate,
                {"doctor": doctor, "weekday": weekday},
                {
                    "department": doctor.department,
                    "site": site,
                    "period": "am" if morning else "pm",
                    "start_time": time(8) if morning else time(14),
                    "end_time": time(11, 30) if morning else time(17),
                    "mode": SessionMode.QUOTA if morning else SessionMode.TIMED,
                    "quota": 12 if morning else 0,
                    "slot_minutes": 20,
                    "fee": "25.00" if doctor.title in ("chief", "associate_chief") else "15.00",
                },
            )[1]
    return created


def _past_visits_create(site: Site) -> int:
    """Last week's seen visits of the cardiology chief, so ratings and consultation times exist."""
    doctor = Practitioner.objects.filter(user__username="doctor").first()
    patients = list(Patient.objects.order_by("mrn")[:4])
    if doctor is None or not patients:
        return 0
    day = timezone.localdate() - timedelta(days=7)
    start = timezone.make_aware(datetime.combine(day, time(8)))
    if ClinicSession.objects.filter(doctor=doctor, starts_at=start).exists():
        return 0
    session = ClinicSession.objects.create(
        doctor=doctor,
        department=doctor.department,
        site=site,
        date=day,
        period="am",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        mode=SessionMode.TIMED,
    )
    desk = User.objects.filter(username="reception").first() or doctor.user
    comments = ["医生非常耐心，讲解清楚", "Very thorough, explained everything", "", "等候时间短"]
    for number, patient in enumerate(patients, start=1):
        slot_start = start + timedelta(minutes=15 * (number - 1))
        slot = Slot.objects.create(
            session=session,
            number=number,
            starts_at=slot_start,
            minutes=15,
            status=Slot.Status.BOOKED,
        )
        visit = Appointment.objects.create(
            session=session,
            slot=slot,
            patient=patient,
            booked_by=desk,
            status=AppointmentStatus.FULFILLED,
            created_at=start - timedelta(days=2),
            arrived_at=slot_start - timedelta(minutes=10),
            queue_number=number,
            called_at=slot_start + timedelta(minutes=2),
            finished_at=slot_start + timedelta(minutes=14),
            payment_status=PaymentStatus.PAID,
            paid_at=slot_start,
            payment_reference=f"DEMO-{number:04d}",
        )
        Rating.objects.create(
            appointment=visit, doctor=doctor, stars=5 - (number == 3), comment=comments[number - 1]
        )
    return len(patients)


def demo_booking_url() -> str:
    """Where the campus poster's QR code leads (printed by ``seed_demo``)."""
    code = SiteCode.objects.filter(label=CAMPUS_CODE_LABEL, revoked_at__isnull=True).first()
    if code is None:
        return ""
    return settings.SITE_URL + reverse("booking:entry", args=[token_for(code.key)])


# --- Rosters ----------------------------------------------------------------------------------

ROSTER_NURSES = ("周敏", "吴丹", "郑洁", "王芳", "冯雪", "何静", "宋佳", "唐颖")


def seed_rosters() -> dict[str, int]:
    """Cardiology's ward roster: four shift types, nurse and doctor contracts, ten staff, cover
    for every weekday, one approved day off, and a draft four-week roster to optimise."""
    from django.contrib.auth.hashers import make_password

    from clinic.models import Role

    from .models import CoverRequirement, RosterPeriod, RosterStaff, ShiftType, StaffContract
    from .models import StaffRequest as Request

    created = {"shift types": 0, "roster staff": 0, "cover": 0, "rosters": 0}
    specs = [
        ("A", "早班", "Early", time(8), 480, False, ""),
        ("P", "晚班", "Late", time(15), 480, False, ""),
        ("N", "夜班", "Night", time(22), 600, True, ""),
        ("C", "门诊", "Clinic", time(8), 240, False, "am"),
    ]
    colours = {"A": "#9fd8a4", "P": "#f7c873", "N": "#8fa8d9", "C": "#e4a5c8"}
    types = {}
    for code, name, name_en, start, minutes, night, clinic in specs:
        types[code], new = _get_or_create(
            ShiftType,
            {"code": code},
            {
                "name": name,
                "name_en": name_en,
                "start": start,
                "minutes": minutes,
                "night": night,
                "clinic_period": clinic,
                "colour": colours[code],
            },
        )
        created["shift types"] += new
    types["N"].cannot_follow.add(types["A"], types["P"], types["C"])
    types["P"].cannot_follow.add(types["A"], types["C"])
    nurse_contract, _new = _get_or_create(
        StaffContract,
        {"name": "护士全职 Nurse full time"},
        {
            "max_shifts": {"N": 6, "C": 0},
            "min_total_minutes": 7680,
            "max_total_minutes": 9600,
            "min_consecutive_shifts": 2,
            "max_consecutive_shifts": 5,
            "min_consecutive_days_off": 2,
            "max_weekends": 3,
        },
    )
    doctor_contract, _new = _get_or_create(
        StaffContract,
        {"name": "医生 Doctor"},
        {
            "max_shifts": {"N": 4},
            "min_total_minutes": 4800,
            "max_total_minutes": 9600,
            "min_consecutive_shifts": 1,
            "max_consecutive_shifts": 5,
            "min_consecutive_days_off": 1,
            "max_weekends": 2,
        },
    )
    cardiology = Department.objects.get(code="cardiology")
    members = [(u, nurse_contract) for u in User.objects.filter(username="nurse")]
    members += [(u, doctor_contract) for u in User.objects.filter(username="doctor")]
    for i, name in enumerate(ROSTER_NURSES, start=1):
        user, _new = User.objects.get_or_create(
            username=f"ward-nurse{i}",
            defaults={
                "full_name": name,
                "role": Role.NURSE,
                "department": cardiology,
                "password": make_password(None),
            },
        )
        members.append((user, nurse_contract))
    for user, contract in members:
        created["roster staff"] += _get_or_create(
            RosterStaff, {"user": user}, {"department": cardiology, "contract": contract}
        )[1]
    need = {"A": (3, 2), "P": (2, 2), "N": (1, 1), "C": (1, 0)}
    for code, (weekday_need, weekend_need) in need.items():
        for weekday in range(7):
            required = weekday_need if weekday < 5 else weekend_need
            if required:
                created["cover"] += _get_or_create(
                    CoverRequirement,
                    {"department": cardiology, "weekday": weekday, "shift_type": types[code]},
                    {"required": required, "under_weight": 100, "over_weight": 10},
                )[1]
    today = timezone.localdate()
    start = today + timedelta(days=7 - today.weekday())
    first_nurse = User.objects.get(username="ward-nurse1")
    _get_or_create(
        Request,
        {"user": first_nurse, "date": start + timedelta(days=4)},
        {"kind": "day_off", "status": "approved", "note": "孩子家长会"},
    )
    if not RosterPeriod.objects.filter(department=cardiology).exists():
        scheduler = User.objects.filter(username="scheduler").first()
        RosterPeriod.objects.create(
            department=cardiology, start=start, days=28, created_by=scheduler or first_nurse
        )
        created["rosters"] += 1
    return created
