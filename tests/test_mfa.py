"""Two-step sign-in for staff (clinic.mfa): set-up with a QR code, the code step after the
password, recovery codes, throttling of wrong codes, the administrator's reset, and who is never
asked (patients, receptionists, the API's Basic authentication)."""

import os
import re
import subprocess
import sys
from base64 import b32decode
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib import messages
from django.urls import NoReverseMatch, reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import mfa
from clinic.audit import Actor
from clinic.models import AuditAction, AuditEvent, Encounter, Role

from .conftest import api_auth, authenticator_code
from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ENROL = reverse("mfa:enrol")
VERIFY = reverse("mfa:verify")


def password_login(client, user):
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, "the password step failed"
    return client


def enrolled(user) -> tuple[TOTPDevice, list[str]]:
    """``user`` with a confirmed authenticator and recovery codes, set up through the service."""
    actor = Actor(user=user)
    device = mfa.mfa_device_start(user=user)
    result = mfa.mfa_device_confirm(actor=actor, user=user, token=authenticator_code(device))
    assert isinstance(result, mfa.Enrolment)
    return result.device, result.recovery_codes


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def mfa_events(user, action):
    return [
        e.details
        for e in AuditEvent.objects.filter(user=user, action=action).order_by("seq")
        if "mfa" in e.details
    ]


# --- Setting up -------------------------------------------------------------------------------


def test_a_doctor_without_an_authenticator_is_sent_to_set_one_up(client, owner, patient):
    password_login(client, owner)
    chart = reverse("clinic:patient_chart", args=[patient.pk])
    response = client.get(chart)
    assert response.status_code == 302
    assert response.url == f"{ENROL}?next={chart.replace('/', '%2F')}"

    page = client.get(response.url)
    assert page.status_code == 200
    assert page["Cache-Control"].startswith("max-age=0") and "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert "<svg" in html and 'data-testid="mfa-qr"' in html
    device = TOTPDevice.objects.get(user=owner)
    assert not device.confirmed
    secret = re.search(r'data-testid="mfa-secret">([A-Z2-7 ]+)<', html).group(1)
    assert b32decode(secret.replace(" ", "")) == device.bin_key
    assert "issuer=AI%20Mass" in device.config_url
    # Reloading the page keeps the same secret, so a QR code already scanned stays valid.
    client.get(ENROL)
    assert TOTPDevice.objects.filter(user=owner).count() == 1


def test_setting_up_confirms_with_a_code_and_shows_recovery_codes_once(client, owner, patient):
    password_login(client, owner)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=owner)
    key_before = client.cookies["sessionid"].value
    chart = reverse("clinic:patient_chart", args=[patient.pk])

    response = client.post(ENROL, {"code": totp(device.bin_key), "next": chart})
    assert response.status_code == 200
    html = response.content.decode()
    codes = re.findall(r'data-testid="recovery-code">([a-z2-7]{5}-[a-z2-7]{5})<', html)
    assert len(codes) == len(set(codes)) == mfa.RECOVERY_CODE_COUNT
    assert f'href="{chart}"' in html
    device.refresh_from_db()
    assert device.confirmed
    assert client.cookies["sessionid"].value != key_before  # a new session key
    assert client.get(chart).status_code == 200

    # Kept hashed: no code, with or without its hyphen, is in the database.
    stored = set(StaticToken.objects.filter(device__user=owner).values_list("token", flat=True))
    assert len(stored) == mfa.RECOVERY_CODE_COUNT
    assert not stored & ({c for c in codes} | {c.replace("-", "") for c in codes})
    # Shown once: the "Two-step sign-in" page counts them but does not show them.
    manage = client.get(reverse("mfa:manage")).content.decode()
    assert 'data-testid="recovery-codes-left">10<' in manage
    assert not any(c in manage for c in codes)
    # Setting up again is refused: the page sends a signed-in user to their settings.
    assert client.get(ENROL).url == reverse("mfa:manage")

    assert mfa_events(owner, AuditAction.UPDATE) == [
        {"mfa": "enrolled"},
        {"mfa": "recovery_codes_generated", "count": 10},
    ]
    assert mfa_events(owner, AuditAction.LOGIN) == [{"mfa": "totp"}]


def test_a_wrong_code_at_set_up_is_refused_and_audited(client, owner):
    password_login(client, owner)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=owner)
    response = client.post(ENROL, {"code": wrong(totp(device.bin_key))})
    assert response.status_code == 200
    assert 'data-testid="mfa-enrol"' in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert mfa_events(owner, AuditAction.LOGIN_FAILED) == [{"mfa": "enrol", "reason": "wrong_code"}]


def test_a_stolen_password_cannot_replace_the_authenticator(client, owner):
    device, _codes = enrolled(owner)
    password_login(client, owner)
    response = client.get(ENROL)
    assert response.status_code == 302 and response.url.startswith(VERIFY)
    client.post(ENROL, {"code": "123456"})
    assert list(TOTPDevice.objects.filter(user=owner)) == [device]


# --- The code step ----------------------------------------------------------------------------


def test_a_doctor_enters_the_code_after_the_password_and_lands_on_the_page_asked(
    client, owner, patient
):
    device, _codes = enrolled(owner)
    password_login(client, owner)
    chart = reverse("clinic:patient_chart", args=[patient.pk])
    response = client.get(chart)
    assert response.status_code == 302 and response.url.startswith(VERIFY)
    assert client.get(response.url).status_code == 200
    key_before = client.cookies["sessionid"].value

    response = client.post(VERIFY, {"code": authenticator_code(device), "next": chart})
    assert response.status_code == 302 and response.url == chart
    assert client.cookies["sessionid"].value != key_before
    assert client.get(chart).status_code == 200
    assert mfa_events(owner, AuditAction.LOGIN)[-1] == {"mfa": "totp"}


def test_a_wrong_code_is_refused_and_audited(client, owner):
    device, _codes = enrolled(owner)
    password_login(client, owner)
    response = client.post(VERIFY, {"code": wrong(authenticator_code(device))})
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert client.get(reverse("home")).status_code == 302  # still at the code step
    assert mfa_events(owner, AuditAction.LOGIN_FAILED) == [
        {"mfa": "verify", "reason": "wrong_code", "method": "totp"}
    ]
    failed = AuditEvent.objects.filter(user=owner, action=AuditAction.LOGIN_FAILED).get()
    assert failed.username == owner.username and failed.ip == "127.0.0.1"


def test_repeated_wrong_codes_are_throttled(client, settings, owner):
    settings.OTP_TOTP_THROTTLE_FACTOR = settings.OTP_STATIC_THROTTLE_FACTOR = 60
    device, codes = enrolled(owner)
    password_login(client, owner)
    right = authenticator_code(device)
    assert client.post(VERIFY, {"code": wrong(right)}).status_code == 200

    # Within the delay even the right code, or a recovery code, is refused unchecked.
    for code in (right, codes[0]):
        response = client.post(VERIFY, {"code": code})
        assert response.status_code == 429
        assert client.get(reverse("home")).status_code == 302
    assert [e["reason"] for e in mfa_events(owner, AuditAction.LOGIN_FAILED)] == [
        "wrong_code",
        "throttled",
        "throttled",
    ]
    # The delay doubles with every wrong code; once it has passed, the right code works.
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=device.throttling_failure_timestamp - timedelta(seconds=61)
    )
    assert client.post(VERIFY, {"code": right}).status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_each_recovery_code_works_once(client, owner):
    _device, codes = enrolled(owner)
    password_login(client, owner)
    response = client.post(VERIFY, {"code": codes[0].upper().replace("-", " ")})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    assert mfa_events(owner, AuditAction.LOGIN)[-1] == {
        "mfa": "recovery_code",
        "recovery_codes_left": 9,
    }

    client.post(reverse("logout"))
    password_login(client, owner)
    assert client.post(VERIFY, {"code": codes[0]}).status_code == 200  # used up
    assert mfa_events(owner, AuditAction.LOGIN_FAILED)[-1]["method"] == "recovery_code"
    assert mfa.recovery_codes_left(user=owner) == 9


def test_few_recovery_codes_left_bring_a_warning(client, owner):
    _device, codes = enrolled(owner)
    StaticToken.objects.filter(device__user=owner).exclude(
        token=mfa.recovery_code_digest(user=owner, code=codes[0])
    ).delete()
    password_login(client, owner)
    response = client.post(VERIFY, {"code": codes[0]}, follow=True)
    assert [m.level for m in response.context["messages"]] == [messages.WARNING]


def test_recovery_codes_are_made_anew_from_a_verified_session(client, owner):
    _device, old = enrolled(owner)
    password_login(client, owner)
    # Before the code step, making new codes is refused.
    assert client.post(reverse("mfa:recovery_codes")).status_code == 403
    client.post(VERIFY, {"code": old[0]})
    response = client.post(reverse("mfa:recovery_codes"))
    assert response.status_code == 200
    new = re.findall(r'data-testid="recovery-code">([a-z2-7-]+)<', response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert mfa_events(owner, AuditAction.UPDATE)[-1]["mfa"] == "recovery_codes_generated"

    stored = set(StaticToken.objects.filter(device__user=owner).values_list("token", flat=True))
    assert stored == {mfa.recovery_code_digest(user=owner, code=c) for c in new}

    client.post(reverse("logout"))
    password_login(client, owner)
    assert client.post(VERIFY, {"code": new[0]}).status_code == 302
    client.post(reverse("logout"))
    password_login(client, owner)
    assert client.post(VERIFY, {"code": old[1]}).status_code == 200  # the old ones are void


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/x", "http://testserver.evil/"]
)
def test_the_next_address_stays_on_this_site(client, owner, next_url):
    device, _codes = enrolled(owner)
    password_login(client, owner)
    response = client.post(VERIFY, {"code": authenticator_code(device), "next": next_url})
    assert response.status_code == 302 and response.url == reverse("home")


# --- What an unverified staff session may do --------------------------------------------------


def test_a_doctor_past_only_the_password_can_neither_read_a_chart_nor_post(client, owner, patient):
    password_login(client, owner)
    chart = reverse("clinic:patient_chart", args=[patient.pk])
    response = client.get(chart)
    assert response.status_code == 302 and response.url.startswith(ENROL)

    encounters = Encounter.objects.count()
    new_encounter = reverse("clinic:encounter_create", args=[patient.pk])
    response = client.post(new_encounter, {"chief_complaint": "x", "kind": "outpatient"})
    assert response.status_code == 403
    assert 'data-testid="mfa-required"' in response.content.decode()
    assert Encounter.objects.count() == encounters

    response = client.get("/api/v1/me/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "mfa_required"
    response = client.get(chart, HTTP_ACCEPT="application/json")
    assert response.status_code == 403

    # The menu offers nothing that would only lead back here.
    assert client.get(ENROL).context["nav_items"] == []


def test_logging_out_switching_language_and_health_checks_stay_open(client, owner):
    password_login(client, owner)
    assert client.get("/healthz").status_code == 200
    response = client.post(reverse("set_language"), {"language": "en", "next": ENROL})
    assert response.status_code == 302 and response.url == ENROL
    assert client.get("/static/js/page.js").status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response.url == reverse("login")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("role", [Role.PATIENT, Role.RECEPTIONIST])
def test_patients_and_receptionists_are_not_asked(client, role):
    user = UserFactory(role=role)
    password_login(client, user)
    assert client.get(reverse("home")).status_code == 200
    assert client.get(VERIFY).status_code == 404
    assert client.get(ENROL).status_code == 404
    assert not TOTPDevice.objects.exists()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.DOCTOR, Role.NURSE, Role.SCHEDULER])
def test_every_staff_role_is_asked_by_default(client, role):
    password_login(client, UserFactory(role=role))
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(ENROL)


def test_an_account_that_can_open_the_django_admin_is_asked_whatever_its_role(client):
    superuser = UserFactory(role=Role.PATIENT, is_staff=True, is_superuser=True)
    password_login(client, superuser)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith(ENROL)


def test_with_mfa_not_required_only_staff_who_set_it_up_are_asked(client, settings, owner):
    settings.MFA_REQUIRED = False
    colleague = UserFactory(role=Role.DOCTOR)
    password_login(client, colleague)
    assert client.get(reverse("home")).status_code == 200

    enrolled(owner)
    password_login(client, owner)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(VERIFY)


def test_the_api_with_basic_auth_needs_no_code(api, owner):
    enrolled(owner)
    response = api.get("/api/v1/me/", **api_auth(owner))
    assert response.status_code == 200


# --- The administrator's reset ----------------------------------------------------------------


def test_an_administrator_resets_a_lost_phone_and_it_is_audited(
    client, client_as, admin_user, owner
):
    from django.test import Client

    _device, codes = enrolled(owner)
    doctor = Client()
    password_login(doctor, owner)
    doctor.post(VERIFY, {"code": codes[0]})
    assert doctor.get(reverse("home")).status_code == 200

    admin = client_as(admin_user)
    response = admin.post(
        reverse("admin:clinic_user_changelist"),
        {"action": "two_step_reset", "_selected_action": [owner.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=owner).exists()
    assert not StaticToken.objects.filter(device__user=owner).exists()
    event = AuditEvent.objects.filter(user=admin_user, action=AuditAction.UPDATE).last()
    assert event.details == {"mfa": "reset", "devices_removed": 2}
    assert (event.object_type, event.object_id) == ("user", str(owner.pk))

    # The doctor's session lost its second step: they set up a new authenticator.
    response = doctor.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(ENROL)


def test_the_user_list_shows_who_has_two_step_sign_in(client_as, admin_user, owner):
    enrolled(owner)
    page = client_as(admin_user).get(reverse("admin:clinic_user_changelist"))
    rows = {u.username: u.has_two_step for u in page.context["cl"].result_list}
    assert rows[owner.username] is True
    # client_as gave the administrator an authenticator of their own to pass the code step.
    assert rows[admin_user.username] is True


def test_authenticators_are_not_editable_in_the_admin_outside_the_audited_reset(
    client_as, admin_user
):
    admin = client_as(admin_user)
    for name in ("otp_totp_totpdevice", "otp_static_staticdevice"):
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:{name}_changelist")
    assert admin.get("/admin/otp_totp/totpdevice/").status_code == 404


# --- Settings ---------------------------------------------------------------------------------


def test_the_settings_refuse_a_patient_role_for_mfa():
    env = {**os.environ, "MFA_ROLES": "doctor,patient"}
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "MFA_ROLES" in result.stderr and "ImproperlyConfigured" in result.stderr


def test_too_many_wrong_codes_from_one_address_lock_the_code_step(client, settings, owner):
    settings.OTP_TOTP_THROTTLE_FACTOR = settings.OTP_STATIC_THROTTLE_FACTOR = 0
    settings.AXES_FAILURE_LIMIT = 3
    device, _ = enrolled(owner)
    password_login(client, owner)
    right = authenticator_code(device)
    for _ in range(3):
        assert client.post(VERIFY, {"code": wrong(right)}).status_code == 200
    # Now even the right code is refused, the session ends and the answer says nothing more.
    response = client.post(VERIFY, {"code": right})
    assert response.status_code == 403
    assert 'data-testid="locked-out"' in response.content.decode()
    assert client.get(reverse("home")).status_code == 302  # back to the password
    password_login(client, owner)
    assert client.post(VERIFY, {"code": authenticator_code(device)}).status_code == 403
    reasons = [e["reason"] for e in mfa_events(owner, AuditAction.LOGIN_FAILED)]
    assert reasons == ["wrong_code"] * 3 + ["locked_out"] * 2

    # Another address is not locked: the pair is, as for passwords.
    other = client.__class__(REMOTE_ADDR="10.9.8.7")
    password_login(other, owner)
    assert other.post(VERIFY, {"code": authenticator_code(device)}).status_code == 302


def test_a_good_code_clears_the_count_of_wrong_ones(client, settings, owner):
    settings.OTP_TOTP_THROTTLE_FACTOR = settings.OTP_STATIC_THROTTLE_FACTOR = 0
    settings.AXES_FAILURE_LIMIT = 3
    device, _ = enrolled(owner)
    password_login(client, owner)
    right = authenticator_code(device)
    for _ in range(2):
        client.post(VERIFY, {"code": wrong(right)})
    assert client.post(VERIFY, {"code": right}).status_code == 302
    client.logout()
    password_login(client, owner)
    client.post(VERIFY, {"code": wrong(right)})
    assert not mfa.mfa_locked_out(user=owner, ip="127.0.0.1")
