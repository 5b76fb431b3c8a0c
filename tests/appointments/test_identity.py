"""Phone sign-in with one-time codes, and adding the people an account books for."""

import datetime as dt
import re

import pytest

from appointments import identity
from appointments.errors import BookingError
from appointments.models import PhoneCode
from clinic.audit import Actor
from clinic.models import AuditEvent, Dependant, Patient, Role

from ..factories import PatientFactory, UserFactory, make_id_number
from .conftest import actor

pytestmark = pytest.mark.django_db(transaction=True)
ANON = Actor(user=None, ip="10.0.0.9")


def sent_code(outbox) -> str:
    return re.search(r"(?<!\d)(\d{6})(?!\d)", outbox[-1][1]).group(1)


def test_a_code_signs_the_phone_in_and_is_kept_only_as_a_hash(sms_outbox):
    identity.phone_code_send(phone="138 0013 8000", ip="10.0.0.9")
    code = sent_code(sms_outbox)
    assert sms_outbox[-1][0] == "13800138000"
    assert code not in PhoneCode.objects.get().code_hash

    user = identity.phone_code_verify(phone="13800138000", code=code, actor=ANON)
    assert user.username == "tel-13800138000" and user.role == Role.PATIENT
    assert not user.has_usable_password()
    assert AuditEvent.objects.filter(user=user, action="login").exists()
    with pytest.raises(BookingError):  # a code works once
        identity.phone_code_verify(phone="13800138000", code=code, actor=ANON)


def test_wrong_codes_spend_the_code_after_the_allowed_attempts(sms_outbox, settings):
    identity.phone_code_send(phone="13800138000", ip="10.0.0.9")
    code = sent_code(sms_outbox)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(settings.PHONE_CODE_MAX_ATTEMPTS):
        with pytest.raises(BookingError) as error:
            identity.phone_code_verify(phone="13800138000", code=wrong, actor=ANON)
        assert error.value.code == "code_invalid"
    with pytest.raises(BookingError):
        identity.phone_code_verify(phone="13800138000", code=code, actor=ANON)
    assert AuditEvent.objects.filter(action="login_failed").count() == 6


def test_codes_are_rate_limited_per_phone_and_per_ip(sms_outbox, settings):
    identity.phone_code_send(phone="13800138000", ip="10.0.0.9")
    with pytest.raises(BookingError) as error:
        identity.phone_code_send(phone="13800138000", ip="10.0.0.9")
    assert error.value.code == "code_too_soon"

    settings.PHONE_CODE_MAX_PER_IP_HOUR = 3
    identity.phone_code_send(phone="13800138001", ip="10.0.0.9")
    identity.phone_code_send(phone="13800138002", ip="10.0.0.9")
    with pytest.raises(BookingError) as error:
        identity.phone_code_send(phone="13800138003", ip="10.0.0.9")
    assert error.value.code == "too_many_codes"
    assert len(sms_outbox) == 3


def test_a_malformed_phone_number_is_refused_clearly():
    with pytest.raises(BookingError) as error:
        identity.phone_code_send(phone="12345", ip=None)
    assert error.value.code == "phone_invalid"


def test_a_staff_account_is_never_reached_by_phone_code(sms_outbox):
    UserFactory(username="tel-13800138000", role=Role.DOCTOR)
    identity.phone_code_send(phone="13800138000", ip=None)
    with pytest.raises(BookingError):
        identity.phone_code_verify(phone="13800138000", code=sent_code(sms_outbox), actor=ANON)


@pytest.fixture
def account(db):
    return UserFactory(username="tel-13900001111", role=Role.PATIENT)


def test_adding_myself_creates_a_record_from_the_id_card(account):
    number = make_id_number(dt.date(1990, 3, 4), 123)  # odd sequence digit: male
    patient = identity.booking_person_add(
        actor=actor(account), name="周杰", id_number=number, relationship="self"
    )
    assert (patient.account, patient.birth_date, patient.sex) == (
        account,
        dt.date(1990, 3, 4),
        "male",
    )
    assert patient.phone == "13900001111" and patient.mrn.startswith("P")


def test_an_existing_record_is_linked_when_name_id_and_phone_match(account):
    existing = PatientFactory(name="周杰", phone="13900001111")
    patient = identity.booking_person_add(
        actor=actor(account), name="周杰", id_number=existing.id_number, relationship="self"
    )
    assert patient.pk == existing.pk
    assert Patient.objects.count() == 1


def test_a_record_with_another_phone_is_never_linked(account):
    existing = PatientFactory(name="周杰", phone="13700000000")
    with pytest.raises(BookingError) as error:
        identity.booking_person_add(
            actor=actor(account), name="周杰", id_number=existing.id_number, relationship="child"
        )
    assert error.value.code == "record_mismatch"
    assert not Dependant.objects.exists()
    assert Patient.objects.count() == 1


def test_a_child_without_an_id_card_is_added_by_birth_date(account):
    child = identity.booking_person_add(
        actor=actor(account),
        name="周小宝",
        birth_date=dt.date(2022, 6, 1),
        sex="female",
        relationship="child",
    )
    assert Dependant.objects.filter(manager=account, patient=child, relationship="child").exists()
    again = identity.booking_person_add(
        actor=actor(account),
        name="周小宝",
        birth_date=dt.date(2022, 6, 1),
        sex="female",
        relationship="child",
    )
    assert again.pk == child.pk  # de-duplicated


def test_a_wrong_id_card_number_is_explained(account):
    with pytest.raises(BookingError) as error:
        identity.booking_person_add(
            actor=actor(account), name="周杰", id_number="110101199003041234", relationship="self"
        )
    assert error.value.code == "id_number_invalid"
    assert not Patient.objects.exists()
