"""Patients identify with their phone and a one-time code, then name the people they book for.

Codes are six digits, valid ``PHONE_CODE_TTL_SECONDS``, stored only as a keyed hash, and
limited: one per phone per minute, ``PHONE_CODE_MAX_PER_HOUR`` per phone and
``PHONE_CODE_MAX_PER_IP_HOUR`` per IP address; ``PHONE_CODE_MAX_ATTEMPTS`` wrong entries spend
a code. Messages never say whether a phone number is known.
"""

import hashlib
import hmac
import secrets
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Dependant, Patient, Relationship, Role, Sex, User
from clinic.phi import blind_index
from clinic.services import patient_insert
from clinic.validators import (
    id_card_birth_date,
    normalise_id_number,
    normalise_phone,
    validate_id_number,
)

from .errors import BookingError
from .models import PhoneCode
from .sms import send_sms


def _hash(phone: str, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _mobile(phone: str) -> str:
    phone = normalise_phone(phone)
    if not (len(phone) == 11 and phone.isdigit() and phone[0] == "1" and phone[1] in "3456789"):
        raise BookingError("phone_invalid", _("Enter an 11-digit mobile phone number."))
    return phone


def phone_code_send(*, phone: str, ip: str | None) -> str:
    """Send a code to ``phone``; returns the normalised phone. Raises BookingError when the
    number is malformed or a rate limit is reached."""
    phone = _mobile(phone)
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    recent = PhoneCode.objects.filter(created_at__gte=hour_ago)
    if recent.filter(phone=phone, created_at__gte=now - timedelta(seconds=60)).exists():
        raise BookingError(
            "code_too_soon", _("A code was sent less than a minute ago; please wait.")
        )
    too_many_for_phone = recent.filter(phone=phone).count() >= settings.PHONE_CODE_MAX_PER_HOUR
    too_many_for_ip = (
        ip is not None and recent.filter(ip=ip).count() >= settings.PHONE_CODE_MAX_PER_IP_HOUR
    )
    if too_many_for_phone or too_many_for_ip:
        raise BookingError(
            "too_many_codes", _("Too many codes were requested. Please try again in an hour.")
        )
    code = f"{secrets.randbelow(10**6):06d}"
    PhoneCode.objects.create(
        phone=phone,
        code_hash=_hash(phone, code),
        ip=ip,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.PHONE_CODE_TTL_SECONDS),
    )
    minutes = settings.PHONE_CODE_TTL_SECONDS // 60
    text = _("AI Mass verification code: %(code)s, valid for %(minutes)s minutes.") % {
        "code": code,
        "minutes": minutes,
    }
    transaction.on_commit(lambda: send_sms(phone, text))
    return phone


def phone_code_verify(*, phone: str, code: str, actor: Actor) -> User:
    """Check ``code`` for ``phone``; returns the phone's patient account (created on first use).
    Every attempt is audited; a wrong code counts against the code's attempts."""
    phone = _mobile(phone)
    now = timezone.now()
    candidate = (
        PhoneCode.objects.filter(phone=phone, used_at__isnull=True, expires_at__gt=now)
        .order_by("-created_at")
        .first()
    )
    code = (code or "").strip()
    wrong = _("The code is wrong or has expired. Request a new one if needed.")
    if candidate is None or candidate.attempts >= settings.PHONE_CODE_MAX_ATTEMPTS:
        _audit_failure(actor, phone)
        raise BookingError("code_invalid", wrong)
    PhoneCode.objects.filter(pk=candidate.pk).update(attempts=F("attempts") + 1)
    if not hmac.compare_digest(candidate.code_hash, _hash(phone, code)):
        _audit_failure(actor, phone)
        raise BookingError("code_invalid", wrong)
    with transaction.atomic():
        claimed = PhoneCode.objects.filter(pk=candidate.pk, used_at__isnull=True).update(
            used_at=now
        )
        if not claimed:
            raise BookingError("code_invalid", wrong)
        user, created = User.objects.get_or_create(
            username=f"tel-{phone}", defaults={"role": Role.PATIENT}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        if user.role != Role.PATIENT or not user.is_active:
            # A staff account is never reachable through a phone code.
            raise BookingError("code_invalid", wrong)
        audit_record(
            actor=Actor(user=user, ip=actor.ip, user_agent=actor.user_agent),
            action=AuditAction.LOGIN,
            details={"method": "phone_code"},
        )
    return user


def _audit_failure(actor: Actor, phone: str) -> None:
    audit_record(
        actor=actor,
        action=AuditAction.LOGIN_FAILED,
        username=f"tel-{phone[:3]}****{phone[-4:]}",
        details={"method": "phone_code"},
    )


def account_phone(user) -> str:
    return user.username.removeprefix("tel-") if user.username.startswith("tel-") else ""


def people_for(user) -> list[Patient]:
    """The people ``user`` books for (就诊人): their own record first, then their dependants."""
    own = list(Patient.objects.filter(account=user))
    others = Patient.objects.filter(managers__manager=user).exclude(account=user)
    return own + sorted(others, key=lambda p: (p.name, p.pk))  # names are encrypted in the database


@transaction.atomic
def booking_person_add(
    *,
    actor: Actor,
    name: str,
    id_number: str = "",
    birth_date: date | None = None,
    sex: str = "",
    relationship: str = "self",
) -> Patient:
    """Add a person ``actor.user`` books for, linking to the hospital's existing record when the
    name, ID-card number (or birth date) and the verified phone all match, otherwise creating
    one. A record that matches the ID-card number but not the phone is never linked: the front
    desk updates it, so nobody reaches another person's chart by knowing their ID number."""
    user = actor.user
    phone = account_phone(user)
    name = (name or "").strip()
    if not phone or user.role != Role.PATIENT:
        raise BookingError("not_a_patient_account", _("Sign in with your phone first."))
    if not name:
        raise BookingError("name_required", _("Enter the patient's name."))
    id_number = normalise_id_number(id_number)
    if id_number:
        try:
            validate_id_number(id_number)
        except ValidationError as exc:
            raise BookingError("id_number_invalid", exc.messages[0]) from exc
        birth_date = id_card_birth_date(id_number)
        sex = Sex.MALE if int(id_number[16]) % 2 else Sex.FEMALE
    elif birth_date is None:
        raise BookingError(
            "identity_required", _("Enter an ID-card number, or a birth date and sex.")
        )
    if sex not in Sex.values:
        raise BookingError("sex_required", _("Choose the patient's sex."))
    patient = _existing_patient(name=name, id_number=id_number, birth_date=birth_date, phone=phone)
    if patient is None:
        patient = Patient(
            name=name, id_number=id_number, birth_date=birth_date, sex=sex, phone=phone
        )
        try:
            patient.full_clean(exclude=["mrn"])
        except ValidationError as exc:
            raise BookingError("invalid_person", " ".join(exc.messages)) from exc
        patient_insert(patient)
        action = AuditAction.CREATE
    else:
        action = AuditAction.UPDATE
    if relationship == "self":
        if Patient.objects.filter(account=user).exclude(pk=patient.pk).exists():
            raise BookingError("self_exists", _("Your own record is already linked."))
        if patient.account_id not in (None, user.pk):
            raise BookingError("record_mismatch", _mismatch_message())
        patient.account = user
        patient.save(update_fields=["account"])
    else:
        if relationship not in Relationship.values:
            raise BookingError("relationship_invalid", _("Choose how you are related."))
        Dependant.objects.get_or_create(
            manager=user, patient=patient, defaults={"relationship": relationship}
        )
    audit_record(
        actor=actor, action=action, obj=patient, details={"via": "booking", "link": relationship}
    )
    return patient


def _mismatch_message() -> str:
    return _(
        "These details do not match the hospital's record. Please ask at the registration desk."
    )


def _existing_patient(*, name, id_number, birth_date, phone) -> Patient | None:
    if id_number:
        patient = Patient.objects.filter(
            id_number_index=blind_index("id_number", id_number)
        ).first()
        if patient is None:
            return None
        if patient.name != name or normalise_phone(patient.phone) != phone:
            raise BookingError("record_mismatch", _mismatch_message())
        return patient
    return Patient.objects.filter(
        name_index=blind_index("name", name),
        birth_date=birth_date,
        phone_index=blind_index("phone", phone),
    ).first()
