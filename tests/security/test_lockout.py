"""Brute force on passwords: after AXES_FAILURE_LIMIT failures for one user name from one
address the pair is refused, with the same answer whether or not the account exists; every
attempt is in the audit trail."""

import re

import pytest
from django.urls import reverse

from clinic.models import AuditEvent

from ..conftest import api_auth
from ..factories import PASSWORD

pytestmark = pytest.mark.django_db


def attempt(client, username, password, ip="10.1.1.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_repeated_failures_lock_the_user_name_at_that_address(client, settings, owner):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, owner.username, "wrong").status_code == 200
    assert attempt(client, owner.username, "wrong").status_code == 429  # the last allowed
    locked = attempt(client, owner.username, PASSWORD)
    assert locked.status_code == 429
    assert 'data-testid="locked-out"' in locked.content.decode()
    # Another address is not locked; the right password works there.
    assert attempt(client, owner.username, PASSWORD, ip="10.1.1.2").status_code == 302
    failed = AuditEvent.objects.filter(action="login_failed", username=owner.username)
    assert failed.count() >= settings.AXES_FAILURE_LIMIT


def test_an_unknown_user_name_is_answered_the_same_way(client, settings, owner):
    for name in (owner.username, "nobody-here"):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            attempt(client, name, "wrong")
    known = attempt(client, owner.username, "wrong")
    unknown = attempt(client, "nobody-here", "wrong")
    assert known.status_code == unknown.status_code == 429
    token = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
    assert token.sub(b"", known.content) == token.sub(b"", unknown.content)


def test_basic_auth_on_the_api_is_locked_too(api, settings, receptionist):
    # A receptionist may use a password alone (staff with two steps send tokens instead).
    assert api_auth(receptionist)["HTTP_AUTHORIZATION"].startswith("Basic ")
    bad = {"HTTP_AUTHORIZATION": api_auth(receptionist)["HTTP_AUTHORIZATION"][:-4] + "AAAA"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert api.get("/api/v1/me/", REMOTE_ADDR="10.2.2.2", **bad).status_code in (401, 403)
    response = api.get("/api/v1/me/", REMOTE_ADDR="10.2.2.2", **api_auth(receptionist))
    assert response.status_code in (401, 403, 429)
    assert response.json()["error"]["code"] in ("throttled", "authentication_failed")
