import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from clinic.validators import (
    id_card_check_char,
    validate_icd10,
    validate_id_number,
    validate_phone,
)

from .factories import make_id_number


def test_it_accepts_the_standard_example_id_number():
    # The worked example of GB 11643-1999.
    validate_id_number("11010519491231002X")


def test_it_computes_the_check_character_of_gb_11643():
    assert id_card_check_char("11010519491231002") == "X"
    assert make_id_number(dt.date(1990, 1, 2), 123)[-1] == id_card_check_char(
        make_id_number(dt.date(1990, 1, 2), 123)[:17]
    )


def test_it_accepts_a_lowercase_x():
    validate_id_number("11010519491231002x")


@pytest.mark.parametrize(
    "value,code",
    [
        ("110105194912310021", "id_checksum"),
        ("11010519491331002X", "id_birth_date"),
        ("1101051949123100", "id_format"),
        ("11010520991231002X", "id_birth_date"),
    ],
)
def test_it_rejects_bad_id_numbers_with_a_reason(value, code):
    with pytest.raises(ValidationError) as info:
        validate_id_number(value)
    assert info.value.code == code


@pytest.mark.parametrize(
    "phone", ["13912345678", "+86 139 1234 5678", "010-12345678", "02112345678"]
)
def test_it_accepts_mobile_and_landline_numbers(phone):
    validate_phone(phone)


@pytest.mark.parametrize("phone", ["12345", "23912345678", "1391234567", "abc"])
def test_it_rejects_malformed_phones(phone):
    with pytest.raises(ValidationError):
        validate_phone(phone)


def test_it_checks_icd10_codes():
    validate_icd10("I10")
    validate_icd10("E11.9")
    with pytest.raises(ValidationError):
        validate_icd10("110")
