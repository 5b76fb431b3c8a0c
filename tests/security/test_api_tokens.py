"""Scripts cannot go around the two-step sign-in: accounts that have it get an API token only
with a code, and their password alone (HTTP Basic) is refused on the API and on DICOMweb.
Tokens end with the sessions."""

import base64

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from clinic import mfa
from clinic.audit import Actor
from clinic.models import AuditAction, AuditEvent, Role

from ..conftest import authenticator_code
from ..factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def basic(user, password=PASSWORD) -> dict:
    raw = base64.b64encode(f"{user.username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {raw}"}


def enrolled(user):
    device = mfa.mfa_device_start(user=user)
    result = mfa.mfa_device_confirm(
        actor=Actor(user=user), user=user, token=authenticator_code(device)
    )
    return result.device, result.recovery_codes


def ask_token(api, user, password=PASSWORD, code=None):
    body = {"username": user.username, "password": password}
    if code is not None:
        body["code"] = code
    return api.post(reverse("api-token"), body, format="json", REMOTE_ADDR="10.2.2.2")


@pytest.mark.parametrize("path", ["/api/v1/me/", "/dicomweb/studies"])
def test_basic_with_a_password_alone_is_refused_for_two_step_accounts(api, owner, path):
    response = api.get(path, **basic(owner))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_token_required"
    assert "Token" in response.json()["error"]["message"]
    refused = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, user=owner)
    assert refused.filter(details__reason="password_alone_refused").exists()


def test_basic_still_works_for_accounts_without_two_steps(api, receptionist, settings):
    assert api.get("/api/v1/me/", **basic(receptionist)).json()["role"] == "receptionist"
    settings.MFA_REQUIRED = False
    doctor = UserFactory(role=Role.DOCTOR)
    assert api.get("/api/v1/me/", **basic(doctor)).status_code == 200
    # ...until that doctor sets up an authenticator: then the code step applies to them.
    enrolled(doctor)
    assert api.get("/api/v1/me/", **basic(doctor)).status_code == 401


def test_a_two_step_account_gets_a_token_only_with_a_right_code(api, owner, settings):
    device, recovery_codes = enrolled(owner)
    # No growing wait after the wrong code below (tests/test_mfa.py tests the throttling).
    settings.OTP_TOTP_THROTTLE_FACTOR = settings.OTP_STATIC_THROTTLE_FACTOR = 0
    no_code = ask_token(api, owner)
    assert no_code.status_code == 400
    assert no_code.json()["error"]["code"] == "mfa_code_required"
    wrong = ask_token(api, owner, code=f"{(int(authenticator_code(device)) + 1) % 10**6:06d}")
    assert wrong.json()["error"]["code"] == "mfa_code_wrong"
    assert not Token.objects.filter(user=owner).exists()
    # The wrong code is in the audit trail although the request failed.
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGIN_FAILED, user=owner, details__reason="wrong_code"
    ).exists()

    right = ask_token(api, owner, code=authenticator_code(device))
    assert right.status_code == 200
    token = right.json()["token"]
    assert api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}").json()["id"] == owner.pk
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGIN, user=owner, details__api="token"
    ).exists()
    # A recovery code works too (a lost phone), and is used up.
    again = ask_token(api, owner, code=recovery_codes[0])
    assert again.json()["token"] == token
    assert ask_token(api, owner, code=recovery_codes[0]).status_code == 400


def test_a_two_step_account_without_an_authenticator_must_set_one_up_first(api, owner):
    response = ask_token(api, owner, code="123456")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "mfa_required"
    assert not Token.objects.filter(user=owner).exists()


def test_wrong_passwords_get_one_answer_and_lock_out(api, owner, settings):
    enrolled(owner)
    unknown = api.post(
        reverse("api-token"), {"username": "nobody", "password": "x"}, REMOTE_ADDR="10.2.2.2"
    )
    wrong = ask_token(api, owner, password="wrong")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        ask_token(api, owner, password="wrong")
    # Locked out: even the right password (and no hint of why beyond "too many attempts").
    locked = ask_token(api, owner)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "throttled"


def test_password_only_accounts_get_a_token_with_the_password(api, receptionist):
    response = ask_token(api, receptionist)
    assert response.status_code == 200
    assert Token.objects.get(user=receptionist).key == response.json()["token"]


@pytest.mark.parametrize(
    "change",
    [
        lambda user: user.set_password("a new long passphrase 2026"),
        lambda user: setattr(user, "role", Role.RECEPTIONIST),
        lambda user: setattr(user, "is_active", False),
    ],
    ids=["password", "role", "disabled"],
)
def test_a_token_ends_with_the_sessions(api, owner, change):
    token = Token.objects.create(user=owner)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/me/").status_code == 200
    change(owner)
    owner.save()
    assert not Token.objects.filter(user=owner).exists()
    assert api.get("/api/v1/me/").status_code == 401


def test_a_last_login_update_keeps_the_token(owner):
    from django.contrib.auth.models import update_last_login

    token = Token.objects.create(user=owner)
    update_last_login(None, owner)
    owner.full_name = "Dr Wang Li"
    owner.save()
    assert Token.objects.filter(pk=token.pk).exists()


@pytest.mark.parametrize("path", ["/api/v1/me/", "/dicomweb/studies"])
def test_a_wrong_token_is_refused_and_audited(api, owner, path):
    response = api.get(path, HTTP_AUTHORIZATION="Token " + "0" * 40, REMOTE_ADDR="10.3.3.3")
    assert response.status_code == 401
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGIN_FAILED, ip="10.3.3.3", details__reason="invalid_token"
    ).exists()


def test_a_user_revokes_their_own_token(api, owner, colleague):
    mine = Token.objects.create(user=owner)
    theirs = Token.objects.create(user=colleague)
    assert api.delete(reverse("api-token")).status_code == 401  # not signed in
    api.credentials(HTTP_AUTHORIZATION=f"Token {mine.key}")
    assert api.delete(reverse("api-token")).status_code == 204
    assert not Token.objects.filter(pk=mine.pk).exists()
    assert Token.objects.filter(pk=theirs.pk).exists()  # only one's own
    assert api.get("/api/v1/me/").status_code == 401
    assert AuditEvent.objects.filter(user=owner, details__token="revoked").exists()
