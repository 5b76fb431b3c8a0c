import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from clinic.models import Department

from .factories import PatientFactory, make_id_number

pytestmark = pytest.mark.django_db


def test_departments_have_two_levels_only(cardiology):
    third = Department(code="arrhythmia", name="心律失常组", parent=cardiology)
    with pytest.raises(ValidationError) as info:
        third.full_clean()
    assert "parent" in info.value.message_dict


def test_a_department_shows_its_name_in_the_active_language(cardiology):
    from django.utils import translation

    with translation.override("en"):
        assert str(cardiology) == "Cardiology"
    with translation.override("zh-hans"):
        assert str(cardiology) == "心血管内科"


def test_a_birth_date_that_disagrees_with_the_id_number_is_refused():
    patient = PatientFactory.build(
        birth_date=dt.date(1980, 5, 17), id_number=make_id_number(dt.date(1981, 5, 17), 1)
    )
    with pytest.raises(ValidationError) as info:
        patient.full_clean()
    assert "birth_date" in info.value.message_dict


def test_identifiers_are_normalised_before_saving():
    patient = PatientFactory.build(
        phone="+86 139 0000 1111", id_number=make_id_number(dt.date(1980, 5, 17), 2).lower()
    )
    patient.full_clean()
    assert patient.phone == "13900001111"
    assert patient.id_number == patient.id_number.upper()


def test_two_patients_cannot_share_an_id_number():
    first = PatientFactory()
    with pytest.raises(ValidationError):
        PatientFactory.build(id_number=first.id_number, mrn="X1").full_clean()


def test_many_patients_may_have_no_id_number():
    PatientFactory(id_number="")
    PatientFactory(id_number="")
