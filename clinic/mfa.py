"""Two-step sign-in for staff: an authenticator app (TOTP, django-otp) after the password, with
single-use recovery codes for a lost or forgotten phone.

Who is asked: users whose role is in ``settings.MFA_ROLES`` (admin, doctor, nurse, scheduler by
default) and every account that can open the Django admin. With ``MFA_REQUIRED`` they cannot
use the app until their session has passed the code step; those without a confirmed
authenticator set one up first. Patients sign in with a code sent to their phone
(appointments.identity) and are never asked.

Recovery codes are django-otp static tokens, but django-otp keeps those in plain text; here the
``StaticToken.token`` column holds a PBKDF2 digest of the code instead, so a copy of the
database does not give anyone a way in. Wrong codes are slowed down by django-otp's throttling
(each device doubles its delay after every failure; a device that is throttled blocks both kinds
of code). Every success and failure is written to the audit trail with ``details["mfa"]``.
"""

import enum
import hashlib
import secrets
from base64 import b32encode
from dataclasses import dataclass

import django_otp
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.middleware.csrf import rotate_token
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .audit import Actor, audit_record
from .models import AuditAction, AuditEvent, User

RECOVERY_CODE_COUNT = 10
# 10 characters of base32 (50 bits), shown as "abcde-fghij".
RECOVERY_CODE_LENGTH = 10
# An offline guess of one code then costs 2**50 * 20,000 HMAC-SHA256 rounds; one check at
# sign-in costs a few milliseconds.
RECOVERY_HASH_ITERATIONS = 20_000
TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery codes"


class Outcome(enum.Enum):
    VERIFIED = "verified"
    WRONG_CODE = "wrong_code"
    THROTTLED = "throttled"
    LOCKED_OUT = "locked_out"
    NO_DEVICE = "no_device"


@dataclass(frozen=True)
class VerifyResult:
    outcome: Outcome
    method: str = ""  # "totp" or "recovery_code" when verified
    device: object = None
    recovery_codes_left: int | None = None


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    recovery_codes: list[str]


# --- Who is asked ------------------------------------------------------------------------------


def mfa_role(user) -> bool:
    """Whether ``user`` signs in with a second step at all: a role in MFA_ROLES, or any account
    that can open the Django admin (``createsuperuser`` makes one with the patient role)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.role in settings.MFA_ROLES or user.is_staff or user.is_superuser


def mfa_session_pending(request: HttpRequest) -> bool:
    """The session's user must still pass the code step (or set up an authenticator)."""
    user = request.user
    if not mfa_role(user) or user.is_verified():
        return False
    return settings.MFA_REQUIRED or mfa_device_get(user=user) is not None


def mfa_device_get(*, user) -> TOTPDevice | None:
    """The user's confirmed authenticator, if any."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("-id").first()


def recovery_codes_left(*, user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- Set-up --------------------------------------------------------------------------------------


@transaction.atomic
def mfa_device_start(*, user: User) -> TOTPDevice:
    """The authenticator being set up: the same unconfirmed device on every visit of the set-up
    page, so the QR code a user has already scanned stays valid."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    if mfa_device_get(user=user) is not None:
        raise PermissionError("the user already has an authenticator; an admin resets it")
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
        device.full_clean()
        device.save()
    return device


@transaction.atomic
def mfa_device_confirm(*, actor: Actor, user: User, token: str) -> Enrolment | VerifyResult:
    """Confirm the authenticator being set up with a code it shows; on success, issue the
    recovery codes (returned in plain text once, never stored so)."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    if mfa_device_get(user=user) is not None:
        return VerifyResult(Outcome.NO_DEVICE)  # set up already: nothing to confirm
    device = (
        TOTPDevice.objects.devices_for_user(user, confirmed=False)
        .select_for_update()
        .order_by("-id")
        .first()
    )
    if device is None:
        return VerifyResult(Outcome.NO_DEVICE)
    allowed, _info = device.verify_is_allowed()
    if not allowed:
        _audit_failure(actor, user, step="enrol", reason=Outcome.THROTTLED)
        return VerifyResult(Outcome.THROTTLED)
    if not device.verify_token(_digits(token)):
        _audit_failure(actor, user, step="enrol", reason=Outcome.WRONG_CODE)
        return VerifyResult(Outcome.WRONG_CODE)
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=user, details={"mfa": "enrolled"})
    _audit_success(actor, user, method="totp")
    codes = mfa_recovery_codes_generate(actor=actor, user=user)
    return Enrolment(device=device, recovery_codes=codes)


# --- Recovery codes ------------------------------------------------------------------------------


def recovery_code_normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def recovery_code_digest(*, user, code: str) -> str:
    """What the database keeps of a recovery code: 16 characters (80 bits) of PBKDF2-SHA256,
    salted per user so equal codes of two users differ and one lookup finds the row."""
    raw = hashlib.pbkdf2_hmac(
        "sha256",
        recovery_code_normalise(code).encode(),
        f"aimass-mfa-recovery:{user.pk}".encode(),
        RECOVERY_HASH_ITERATIONS,
    )
    return b32encode(raw[:10]).decode().lower()


def _recovery_code_new() -> str:
    raw = b32encode(secrets.token_bytes(8)).decode().lower()[:RECOVERY_CODE_LENGTH]
    return f"{raw[:5]}-{raw[5:]}"


@transaction.atomic
def mfa_recovery_codes_generate(*, actor: Actor, user: User) -> list[str]:
    """Replace the user's recovery codes with RECOVERY_CODE_COUNT new ones: returned in plain
    text to show once; the database keeps only their digests."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    device.full_clean()
    device.save()
    codes = [_recovery_code_new() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=recovery_code_digest(user=user, code=code))
        for code in codes
    )
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=user,
        details={"mfa": "recovery_codes_generated", "count": len(codes)},
    )
    return codes


# --- The code step -------------------------------------------------------------------------------


def _digits(token: str) -> str:
    return "".join(token.split())


def _looks_like_totp(token: str, device: TOTPDevice) -> bool:
    return token.isdigit() and len(token) == device.digits


def mfa_locked_out(*, user: User, ip: str | None) -> bool:
    """AXES_FAILURE_LIMIT wrong codes for ``user`` from ``ip`` since their last good code and
    within AXES_COOLOFF_TIME lock the code step for that pair, as django-axes locks passwords."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    events = AuditEvent.objects.filter(user=user, at__gte=since)
    last_ok = (
        events.filter(action=AuditAction.LOGIN, details__has_key="mfa")
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    failures = events.filter(
        action=AuditAction.LOGIN_FAILED,
        ip=ip,
        details__mfa="verify",
        details__reason=Outcome.WRONG_CODE.value,
    )
    if last_ok is not None:
        failures = failures.filter(at__gt=last_ok)
    return failures.count() >= settings.AXES_FAILURE_LIMIT


@transaction.atomic
def mfa_verify(*, actor: Actor, user: User, token: str) -> VerifyResult:
    """Check a code from the authenticator or a recovery code (used up on success).

    Throttled (django-otp): while either of the user's devices is waiting out its delay after
    wrong codes, every code is refused unchecked. Locked out (``mfa_locked_out``) after too
    many wrong codes from one address. Each attempt is audited."""
    if mfa_locked_out(user=user, ip=actor.ip):
        _audit_failure(actor, user, step="verify", reason=Outcome.LOCKED_OUT)
        return VerifyResult(Outcome.LOCKED_OUT)
    totp = (
        TOTPDevice.objects.devices_for_user(user, confirmed=True)
        .select_for_update()
        .order_by("-id")
        .first()
    )
    if totp is None:
        return VerifyResult(Outcome.NO_DEVICE)
    recovery = (
        StaticDevice.objects.devices_for_user(user, confirmed=True).select_for_update().first()
    )
    devices = [d for d in (totp, recovery) if d is not None]
    if not all(d.verify_is_allowed()[0] for d in devices):
        _audit_failure(actor, user, step="verify", reason=Outcome.THROTTLED)
        return VerifyResult(Outcome.THROTTLED)

    code = _digits(token)
    if _looks_like_totp(code, totp):
        if totp.verify_token(code):
            _audit_success(actor, user, method="totp")
            return VerifyResult(Outcome.VERIFIED, method="totp", device=totp)
        _audit_failure(actor, user, step="verify", reason=Outcome.WRONG_CODE, method="totp")
        return VerifyResult(Outcome.WRONG_CODE)

    digest = recovery_code_digest(user=user, code=code)
    if recovery is not None and recovery.verify_token(digest):
        left = recovery.token_set.count()
        _audit_success(actor, user, method="recovery_code", left=left)
        return VerifyResult(
            Outcome.VERIFIED, method="recovery_code", device=recovery, recovery_codes_left=left
        )
    if recovery is None:
        totp.throttle_increment()  # no recovery codes: the guess still counts
    _audit_failure(actor, user, step="verify", reason=Outcome.WRONG_CODE, method="recovery_code")
    return VerifyResult(Outcome.WRONG_CODE)


def mfa_session_verified(request: HttpRequest, device) -> None:
    """Mark the session as having passed the code step with ``device``, under a new session key
    and CSRF token (as after a password login), so a key planted before sign-in is worthless."""
    django_otp.login(request, device)
    request.session.cycle_key()
    rotate_token(request)


# --- Administration ------------------------------------------------------------------------------


@transaction.atomic
def mfa_reset(*, actor: Actor, user: User) -> int:
    """Remove the user's authenticator and recovery codes (a lost phone). Their sessions that
    passed the code step lose it at the next request; at the next sign-in they set up a new
    authenticator. Returns how many devices were removed."""
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=user,
        details={"mfa": "reset", "devices_removed": removed},
    )
    return removed


# --- Audit ---------------------------------------------------------------------------------------


def _audit_success(actor: Actor, user: User, *, method: str, left: int | None = None) -> None:
    details = {"mfa": method}
    if left is not None:
        details["recovery_codes_left"] = left
    audit_record(actor=_as(actor, user), action=AuditAction.LOGIN, details=details)


def _audit_failure(
    actor: Actor, user: User, *, step: str, reason: Outcome, method: str = ""
) -> None:
    details = {"mfa": step, "reason": reason.value}
    if method:
        details["method"] = method
    audit_record(actor=_as(actor, user), action=AuditAction.LOGIN_FAILED, details=details)


def _as(actor: Actor, user: User) -> Actor:
    """The event is about ``user`` (the one signing in), from the actor's address."""
    return Actor(user=user, ip=actor.ip, user_agent=actor.user_agent)
