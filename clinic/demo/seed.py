"""The seeding steps: create what is missing, idempotently."""

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db.models import Model
from django.utils import timezone

from ..audit import Actor, audit_record
from ..codes import OBSERVATION_CODES
from ..models import (
    AllergyIntolerance,
    AuditAction,
    Condition,
    Department,
    Dependant,
    Encounter,
    EncounterKind,
    EpisodeOfCare,
    Observation,
    Patient,
    Practitioner,
    Relationship,
    Role,
    Sex,
    User,
)
from ..validators import id_card_check_char
from .cases import (
    ADMISSION_LABS,
    ALLERGIES,
    CASES,
    DECIMALS,
    EXTRA_VITAL_CODES,
    LAB_TEXT,
    NORMAL_ADULT,
    NORMAL_CHILD,
    NORMAL_LABS,
    VITAL_CODES,
    Case,
)
from .people import (
    ADDRESSES,
    FIRST_DEMO_MRN,
    FOREIGN_GIVEN,
    GIVEN_FEMALE,
    GIVEN_MALE,
    MOBILE_PREFIXES,
    PATIENTS,
    SURNAMES,
    PatientSpec,
)
from .staff import DEMO_PASSWORD, DEMO_USERS, DEMO_USERS_BY_NAME, DEPARTMENT_NAMES, DEPARTMENTS

# --- Seeding ----------------------------------------------------------------------------------

MAX_ENCOUNTERS = 4
EMERGENCY_STAGE, FIRST, FOLLOW_UP = "emergency", "first", "follow-up"
CLINIC_HOURS = (8, 9, 10, 11, 14, 15, 16)
EMERGENCY_DOCTOR = "doctor10"
SEEDER = Actor(user=None, user_agent="system")


def _save_valid(obj: Model) -> None:
    """``full_clean()`` and insert. Foreign keys are not looked up again: they point at rows this
    seeding has just loaded or created, and each check would cost a query."""
    obj.full_clean(exclude=[f.name for f in obj._meta.concrete_fields if f.is_relation])
    obj.save()


def _get_or_create(model: type[Model], lookup: dict, defaults: dict) -> tuple[Model, bool]:
    """``get_or_create`` that validates a new row before inserting it."""
    obj = model.objects.filter(**lookup).first()
    if obj is not None:
        return obj, False
    obj = model(**lookup, **defaults)
    _save_valid(obj)
    return obj, True


def seed_departments() -> dict[str, int]:
    """The two-level department tree: divisions (内科) and their departments (心血管内科)."""
    created = 0
    for code, name, name_en, children in DEPARTMENTS:
        division, new = _get_or_create(
            Department, {"code": code}, {"name": name, "name_en": name_en}
        )
        created += new
        for child_code, child_name, child_name_en in children:
            _, new = _get_or_create(
                Department,
                {"code": child_code},
                {"name": child_name, "name_en": child_name_en, "parent": division},
            )
            created += new
    return {"departments": created}


def seed_staff() -> dict[str, int]:
    """The demo logins (see ``demo_logins``) and the doctors' and nurses' practitioner profiles.

    The password is set only when a user is created, so a changed demo password survives a rerun.
    """
    departments = {d.code: d for d in Department.objects.filter(code__in=DEPARTMENT_NAMES)}
    password_hash = ""
    users = practitioners = 0
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            # Hashing is slow on purpose; one hash serves every demo user, whose shared password
            # is printed anyway.
            password_hash = password_hash or make_password(DEMO_PASSWORD)
            user = User(
                username=spec.username,
                role=spec.role,
                full_name=spec.full_name,
                department=departments.get(spec.department),
                password=password_hash,
                is_staff=spec.role == Role.ADMIN,
                is_superuser=spec.role == Role.ADMIN,
            )
            _save_valid(user)
            users += 1
        if spec.title:
            _, new = _get_or_create(
                Practitioner,
                {"user": user},
                {
                    "title": spec.title,
                    "specialty": spec.specialty,
                    "bio": spec.bio,
                    "department": departments[spec.department],
                },
            )
            practitioners += new
    return {"users": users, "practitioners": practitioners}


@dataclass
class _Hospital:
    """What the chart generator looks up, loaded once."""

    now: datetime
    departments: dict[str, Department]
    users: dict[str, User]
    nurses: dict[str, User]  # department code -> the nurse who charts vital signs there
    observations: list[Observation] = field(default_factory=list)

    @classmethod
    def load(cls) -> "_Hospital":
        users = {u.username: u for u in User.objects.filter(username__in=DEMO_USERS_BY_NAME)}
        nurses = {
            u.department: users[u.username]
            for u in DEMO_USERS
            if u.role == Role.NURSE and u.username in users
        }
        departments = {d.code: d for d in Department.objects.filter(code__in=DEPARTMENT_NAMES)}
        return cls(timezone.now(), departments, users, nurses)


def seed_patients() -> dict[str, int]:
    """About fifty patients with 1-4 encounters each, conditions, allergies, vital signs, lab
    values and open episodes for those still in hospital; and the patient login's own record and
    the child it manages. A patient that exists already (by MRN) is left as it is."""
    hospital = _Hospital.load()
    counts: Counter[str] = Counter()
    for index, spec in enumerate(PATIENTS):
        mrn = _mrn(index)
        if Patient.objects.filter(mrn=mrn).exists():
            continue
        rng = random.Random(f"aimass-demo:{mrn}")  # str seeds are stable across processes
        patient = _patient_create(spec, mrn, rng)
        counts["patients"] += 1
        _chart_create(hospital, patient, spec, rng, counts)
    Observation.objects.bulk_create(hospital.observations, batch_size=500)
    counts["observations"] = len(hospital.observations)
    counts["dependants"] = _dependants_link()
    keys = ("patients", "encounters", "episodes", "conditions", "allergies", "observations")
    return {key: counts[key] for key in (*keys, "dependants")}


def _mrn(index: int) -> str:
    return f"P{FIRST_DEMO_MRN + index}"


def _patient_create(spec: PatientSpec, mrn: str, rng: random.Random) -> Patient:
    born = date.fromisoformat(spec.born)
    male = spec.sex == "M"
    contact_name, contact_phone = _emergency_contact(spec, born, rng)
    patient = Patient(
        mrn=mrn,
        name=spec.name,
        sex=Sex.MALE if male else Sex.FEMALE,
        birth_date=born,
        # A young child has no phone of their own; the family's number is the one to call.
        phone=contact_phone if _age(born) < 14 else _mobile(rng),
        id_number=_id_number(spec.area, born, male, rng),
        address=_address(spec.area, rng),
        emergency_contact_name=contact_name,
        emergency_contact_phone=contact_phone,
        account=User.objects.filter(username=spec.account).first() if spec.account else None,
    )
    _save_valid(patient)
    audit_record(
        actor=SEEDER,
        action=AuditAction.IMPORT,
        obj=patient,
        username="seed_demo",
        details={"source": "seed_demo"},
    )
    return patient


def _age(born: date, on: date | None = None) -> int:
    on = on or timezone.localdate()
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _id_number(area: str, born: date, male: bool, rng: random.Random) -> str:
    # GB 11643: the last digit of the three-digit order code is odd for men, even for women.
    order = rng.randint(1, 99) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    first17 = f"{area}{born:%Y%m%d}{order:03d}"
    return first17 + id_card_check_char(first17)


def _mobile(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"


def _address(area: str, rng: random.Random) -> str:
    district, streets = ADDRESSES[area]
    return (
        f"{district}{rng.choice(streets)}{rng.randint(1, 300)}号"
        f"{rng.randint(1, 20)}栋{rng.randint(1, 18)}0{rng.randint(1, 4)}室"
    )


def _emergency_contact(spec: PatientSpec, born: date, rng: random.Random) -> tuple[str, str]:
    if spec.guardian:
        guardian = Patient.objects.filter(account__username=spec.guardian).first()
        if guardian is not None:
            return guardian.name, guardian.phone
    if spec.area.startswith("9"):
        partner = FOREIGN_GIVEN["F" if spec.sex == "M" else "M"]
        return f"{rng.choice(partner)} {spec.name.split()[-1]}", _mobile(rng)
    age = _age(born)
    if age < 18:  # a parent: children usually carry the father's surname
        name = spec.name[0] + rng.choice(GIVEN_MALE)
    elif age >= 65:  # a grown-up son or daughter
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_MALE + GIVEN_FEMALE)
    else:  # the spouse; Chinese women keep their own surname
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_FEMALE if spec.sex == "M" else GIVEN_MALE)
    return name, _mobile(rng)


def _dependants_link() -> int:
    created = 0
    for index, spec in enumerate(PATIENTS):
        manager = User.objects.filter(username=spec.guardian).first() if spec.guardian else None
        patient = Patient.objects.filter(mrn=_mrn(index)).first()
        if manager is not None and patient is not None:
            _, new = _get_or_create(
                Dependant,
                {"manager": manager, "patient": patient},
                {"relationship": Relationship.CHILD},
            )
            created += new
    return created


# --- Charts -----------------------------------------------------------------------------------


def _chart_create(
    hospital: _Hospital,
    patient: Patient,
    spec: PatientSpec,
    rng: random.Random,
    counts: Counter,
) -> None:
    # A patient still in hospital has that admission as their latest visit.
    cases = sorted((CASES[key] for key in spec.cases.split()), key=lambda c: c.still_admitted)
    _check_fits(spec, patient, cases)
    visits = _plan_visits(cases, rng)
    times = _schedule(visits, rng, hospital.now)
    allergies = [ALLERGIES[key] for key in spec.allergies.split()]
    allergy_history = (
        "；".join(f"{s}过敏（{r}）" for s, _c, _k, r in allergies) or "否认药物、食物过敏史"
    )
    first_doctor = hospital.users[cases[0].doctor]
    for substance, category, criticality, reaction in allergies:
        _get_or_create(
            AllergyIntolerance,
            {"patient": patient, "substance": substance},
            {
                "category": category,
                "criticality": criticality,
                "reaction": reaction,
                "recorded_by": first_doctor,
            },
        )
        counts["allergies"] += 1
    seen: list[Case] = []
    for number, ((case, stage), at) in enumerate(zip(visits, times, strict=True)):
        notes = [c.past_note for c in seen if c is not case]
        if notes:
            past = "；".join(notes) + "。"
        elif _age(patient.birth_date) < 14:
            past = "既往体健，按时预防接种。"
        else:
            past = "既往体健，否认高血压、糖尿病等慢性病史，否认手术外伤史。"
        encounter = _encounter_create(
            hospital, patient, case, stage, at, past, allergy_history + "。", rng, counts
        )
        if number == 0:
            _body_size_record(hospital, encounter, rng)
        if case not in seen:
            seen.append(case)


def _check_fits(spec: PatientSpec, patient: Patient, cases: list[Case]) -> None:
    # A typo in the specs must fail loudly rather than seed a man with fibroids.
    child = _age(patient.birth_date) < 14
    for case in cases:
        if case.child != child or (case.female_only and spec.sex != "F"):
            raise ValueError(f"demo patient {spec.name}: a case does not fit their age or sex")
    if sum(2 if c.via_emergency else 1 for c in cases) > MAX_ENCOUNTERS:
        raise ValueError(f"demo patient {spec.name}: more than {MAX_ENCOUNTERS} encounters")


def _plan_visits(cases: list[Case], rng: random.Random) -> list[tuple[Case, str]]:
    """Each case's first visit (after an emergency visit when it came that way), and up to two
    follow-ups of a chronic case while the patient's total stays within four."""
    needed = [2 if case.via_emergency else 1 for case in cases]
    visits: list[tuple[Case, str]] = []
    for i, case in enumerate(cases):
        if case.via_emergency:
            visits.append((case, EMERGENCY_STAGE))
        visits.append((case, FIRST))
        if case.follow_up:
            room = MAX_ENCOUNTERS - len(visits) - sum(needed[i + 1 :])
            visits += [(case, FOLLOW_UP)] * max(0, min(rng.randint(0, 2), room))
    return visits


def _schedule(visits: list[tuple[Case, str]], rng: random.Random, now: datetime) -> list[datetime]:
    """When each visit happened: the last one recent (an open admission 2-5 days ago), earlier
    ones one to four months apart, an emergency visit a few hours before its admission."""
    today = timezone.localdate(now)
    times: list[datetime] = []
    for case, stage in reversed(visits):
        if stage == EMERGENCY_STAGE:
            times.append(times[-1] - timedelta(minutes=rng.randint(120, 240)))
            continue
        if not times:
            if case.still_admitted:
                days_ago = rng.randint(2, 5)
            else:  # a closed admission must have ended before today
                days_ago = rng.randint(case.stay_days + 3, 60)
            day = today - timedelta(days=days_ago)
        else:
            day = timezone.localtime(times[-1]).date() - timedelta(days=rng.randint(28, 120))
        urgent = stage == FIRST and (case.via_emergency or case.kind == EncounterKind.EMERGENCY)
        hour = rng.randint(0, 23) if urgent else rng.choice(CLINIC_HOURS)
        times.append(_local(day, hour, rng.randrange(0, 60, 5)))
    return times[::-1]


def _local(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


def _encounter_create(
    hospital: _Hospital,
    patient: Patient,
    case: Case,
    stage: str,
    at: datetime,
    past: str,
    allergy_history: str,
    rng: random.Random,
    counts: Counter,
) -> Encounter:
    if stage == EMERGENCY_STAGE:
        visit, kind, department, doctor = (
            case.via_emergency,
            EncounterKind.EMERGENCY,
            "emergency",
            EMERGENCY_DOCTOR,
        )
    elif stage == FIRST:
        visit, kind, department, doctor = case.first, case.kind, case.department, case.doctor
    else:
        visit, kind, department, doctor = (
            case.follow_up,
            EncounterKind.OUTPATIENT,
            case.department,
            case.doctor,
        )
    labs = _lab_draws(case, stage, rng)
    lab_text = "；".join(f"{LAB_TEXT[code][0]} {value}{LAB_TEXT[code][1]}" for code, value in labs)
    doctor_user = hospital.users[doctor]
    encounter = Encounter(
        patient=patient,
        kind=kind,
        started_at=at,
        department=hospital.departments[department],
        practitioner=doctor_user,
        created_by=doctor_user,
        chief_complaint=visit.chief_complaint,
        present_illness=visit.present_illness,
        past_history=past,
        allergy_history=allergy_history,
        physical_exam=visit.physical_exam,
        lab_summary="。".join(text for text in (lab_text, visit.findings.rstrip("。")) if text)
        + ("。" if lab_text or visit.findings else ""),
        diagnosis=visit.diagnosis,
        treatment_plan=visit.treatment_plan,
    )
    _save_valid(encounter)
    counts["encounters"] += 1
    nurse = hospital.nurses.get(department, doctor_user)
    if kind == EncounterKind.INPATIENT:
        end = _admission_record(hospital, encounter, case, rng, counts)
        _vital_series(hospital, encounter, case, nurse, end, rng)
    else:
        progress = rng.uniform(0.6, 0.9) if stage == FOLLOW_UP else 0.0
        _vitals_record(hospital, encounter, case, nurse, at + timedelta(minutes=5), progress, rng)
    for code, value in labs:
        _observation_add(hospital, encounter, code, value, at + timedelta(minutes=90), doctor_user)
    if stage == FIRST:
        _conditions_record(encounter, case, counts)
    return encounter


def _admission_record(
    hospital: _Hospital, encounter: Encounter, case: Case, rng: random.Random, counts: Counter
) -> datetime:
    """The admission's episode of care; returns when the stay ends (now, if it has not)."""
    admitted = encounter.started_at
    discharged = None
    if not case.still_admitted:
        discharge_day = timezone.localtime(admitted).date() + timedelta(days=case.stay_days)
        discharged = _local(discharge_day, 10, rng.randrange(0, 60, 5))
    episode = EpisodeOfCare(
        patient=encounter.patient,
        department=encounter.department,
        opened_at=admitted,
        status=EpisodeOfCare.Status.CLOSED if discharged else EpisodeOfCare.Status.OPEN,
        closed_at=discharged,
    )
    _save_valid(episode)
    counts["episodes"] += 1
    return discharged or hospital.now


def _vital_series(
    hospital: _Hospital,
    encounter: Encounter,
    case: Case,
    nurse: User,
    end: datetime,
    rng: random.Random,
) -> None:
    """Twice-daily readings through the stay, returning to normal as treatment works."""
    start = encounter.started_at + timedelta(minutes=30)
    stay = timedelta(days=case.stay_days)
    at = start
    while at < end:
        _vitals_record(hospital, encounter, case, nurse, at, min(1.0, (at - start) / stay), rng)
        at += timedelta(hours=12)


def _vitals_record(
    hospital: _Hospital,
    encounter: Encounter,
    case: Case,
    by: User,
    at: datetime,
    progress: float,
    rng: random.Random,
) -> None:
    normal = NORMAL_CHILD if case.child else NORMAL_ADULT
    codes = VITAL_CODES
    if encounter.kind != EncounterKind.OUTPATIENT or case.department == "respiratory":
        codes += EXTRA_VITAL_CODES
    for name, code in codes:
        value = _draw(
            rng, getattr(case.vitals, name), getattr(normal, name), progress, DECIMALS.get(code, 0)
        )
        _observation_add(hospital, encounter, code, value, at, by)


def _body_size_record(hospital: _Hospital, encounter: Encounter, rng: random.Random) -> None:
    patient = encounter.patient
    age = _age(patient.birth_date, timezone.localtime(encounter.started_at).date())
    if age < 14:
        height, weight = 76 + 6.5 * age + rng.uniform(-3, 3), 9 + 2.2 * age + rng.uniform(-1.5, 1.5)
    elif patient.sex == Sex.MALE:
        height, weight = rng.uniform(163, 180), rng.uniform(58, 85)
    else:
        height, weight = rng.uniform(152, 168), rng.uniform(46, 70)
    by = hospital.nurses.get(encounter.department.code, encounter.practitioner)
    at = encounter.started_at + timedelta(minutes=5)
    _observation_add(hospital, encounter, "8302-2", Decimal(f"{height:.0f}"), at, by)
    _observation_add(hospital, encounter, "29463-7", Decimal(f"{weight:.1f}"), at, by)


def _lab_draws(case: Case, stage: str, rng: random.Random) -> list[tuple[str, Decimal]]:
    if stage == EMERGENCY_STAGE:
        return []
    labs = list(case.labs)
    if stage == FIRST and case.kind == EncounterKind.INPATIENT:
        ordered = {code for code, _low, _high in labs}
        labs += [lab for lab in ADMISSION_LABS if lab[0] not in ordered]
    progress = rng.uniform(0.5, 0.9) if stage == FOLLOW_UP else 0.0
    return [
        (code, _draw(rng, (low, high), NORMAL_LABS[code], progress, DECIMALS.get(code, 0)))
        for code, low, high in labs
    ]


def _draw(
    rng: random.Random,
    first: tuple[float, float],
    normal: tuple[float, float],
    progress: float,
    decimals: int,
) -> Decimal:
    """A value from the ``first`` range moved ``progress`` of the way to the ``normal`` one."""
    low = first[0] + (normal[0] - first[0]) * progress
    high = first[1] + (normal[1] - first[1]) * progress
    return Decimal(f"{rng.uniform(low, high):.{decimals}f}")


def _observation_add(
    hospital: _Hospital, encounter: Encounter, code: str, value: Decimal, at: datetime, by: User
) -> None:
    known = OBSERVATION_CODES[code]
    # The same plausibility check as observation_create: a bad demo range is a bug here.
    if not known.low <= value <= known.high:
        raise ValueError(f"demo {code} value {value} outside {known.low}-{known.high}")
    hospital.observations.append(
        Observation(
            patient=encounter.patient,
            encounter=encounter,
            category=known.category,
            code=code,
            display=str(known.display),
            value=value,
            unit=known.unit,
            effective_at=at,
            recorded_by=by,
        )
    )


def _conditions_record(encounter: Encounter, case: Case, counts: Counter) -> None:
    onset = timezone.localtime(encounter.started_at).date() - timedelta(days=case.onset_days)
    resolved = not case.chronic and not case.still_admitted
    for code, text in case.conditions:
        condition = Condition(
            patient=encounter.patient,
            encounter=encounter,
            icd10_code=code,
            text=text,
            clinical_status=(
                Condition.ClinicalStatus.RESOLVED if resolved else Condition.ClinicalStatus.ACTIVE
            ),
            onset_date=onset,
            recorded_by=encounter.practitioner,
        )
        _save_valid(condition)
        counts["conditions"] += 1
