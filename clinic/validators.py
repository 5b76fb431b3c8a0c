"""Validators for Chinese patient identifiers, usable from forms, serializers and imports."""

import re
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# GB 11643-1999: weights of the first 17 digits and the check character for sum mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_ICD10_RE = re.compile(r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$")


def id_card_check_char(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def normalise_id_number(value: str) -> str:
    return (value or "").strip().upper()


def id_card_birth_date(value: str) -> date | None:
    value = normalise_id_number(value)
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except (ValueError, IndexError):
        return None


def validate_id_number(value: str) -> None:
    """A mainland resident identity card number: 18 characters, real birth date, checksum."""
    value = normalise_id_number(value)
    if not _ID_RE.match(value):
        raise ValidationError(
            _("An ID-card number has 17 digits followed by a digit or X."), code="id_format"
        )
    born = id_card_birth_date(value)
    if born is None or born > timezone.localdate() or born.year < 1880:
        raise ValidationError(
            _("The birth date inside this ID-card number is not a real date."), code="id_birth_date"
        )
    if id_card_check_char(value[:17]) != value[17]:
        raise ValidationError(
            _("This ID-card number's check digit is wrong; please check for a typing error."),
            code="id_checksum",
        )


def normalise_phone(value: str) -> str:
    value = re.sub(r"[\s()]", "", value or "")
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("0086"):
        value = value[4:]
    return value


def validate_phone(value: str) -> None:
    """A mainland mobile number (11 digits starting 13-19) or a landline with area code."""
    value = normalise_phone(value)
    if not (_MOBILE_RE.match(value) or _LANDLINE_RE.match(value)):
        raise ValidationError(
            _(
                "Enter an 11-digit mobile number or a landline with its area code, e.g. 010-12345678."  # noqa: E501
            ),
            code="phone_format",
        )


def validate_icd10(value: str) -> None:
    if not _ICD10_RE.match((value or "").strip().upper()):
        raise ValidationError(_("An ICD-10 code looks like I10 or E11.9."), code="icd10_format")


def validate_not_future(value) -> None:
    if value is None:
        return
    day = timezone.localtime(value).date() if isinstance(value, datetime) else value
    if day > timezone.localdate():
        raise ValidationError(_("This date is in the future."), code="future_date")
