"""factory_boy factories for the clinic app."""

import datetime as dt
import random

import factory
from django.utils import timezone

from clinic.models import (
    Department,
    Encounter,
    EncounterKind,
    EpisodeOfCare,
    Observation,
    Patient,
    Practitioner,
    PractitionerTitle,
    Role,
    Sex,
    User,
)
from clinic.validators import id_card_check_char

PASSWORD = "correct-horse-9"


def make_id_number(birth: dt.date, seq: int | None = None) -> str:
    """A valid 18-character ID-card number for ``birth`` (area code 110101, Beijing)."""
    seq = random.randint(100, 999) if seq is None else seq
    first17 = f"110101{birth:%Y%m%d}{seq:03d}"
    return first17 + id_card_check_char(first17)


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"dept-{n}")
    name = factory.Sequence(lambda n: f"科室{n}")
    name_en = factory.Sequence(lambda n: f"Department {n}")
    parent = None


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Faker("name", locale="zh_CN")
    role = Role.DOCTOR
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class PractitionerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practitioner

    user = factory.SubFactory(UserFactory, role=Role.DOCTOR)
    title = PractitionerTitle.ATTENDING
    specialty = "心血管"
    department = factory.LazyAttribute(lambda o: o.user.department or DepartmentFactory())


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"T{n:08d}")
    name = factory.Faker("name", locale="zh_CN")
    sex = Sex.FEMALE
    birth_date = dt.date(1980, 5, 17)
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    id_number = factory.LazyAttributeSequence(lambda o, n: make_id_number(o.birth_date, n % 1000))


class EncounterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Encounter

    patient = factory.SubFactory(PatientFactory)
    kind = EncounterKind.OUTPATIENT
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=3))
    practitioner = factory.SubFactory(UserFactory, role=Role.DOCTOR)
    department = factory.LazyAttribute(lambda o: o.practitioner.department or DepartmentFactory())
    chief_complaint = "胸闷三天"
    created_by = factory.SelfAttribute("practitioner")


class EpisodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EpisodeOfCare

    patient = factory.SubFactory(PatientFactory)
    department = factory.SubFactory(DepartmentFactory)


class ObservationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Observation

    patient = factory.SubFactory(PatientFactory)
    category = "vital-signs"
    code = "8867-4"
    display = "Heart rate"
    value = 72
    unit = "/min"
    recorded_by = factory.SubFactory(UserFactory, role=Role.NURSE)
