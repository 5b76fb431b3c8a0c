"""Shared fixtures: the personas every patient-data endpoint is tested with.

- ``owner``: Dr Alice, who saw ``patient`` in clinic (an encounter): may open the chart.
- ``colleague``: a nurse in the same department: may open the chart.
- ``outsider``: Dr Charlie in another department, no relation: must get 404 and no data.
"""

import copy
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.http import HttpRequest
from rest_framework.test import APIClient

from clinic.models import Role
from imaging.storage import dicom_storage

from .factories import (
    PASSWORD,
    DepartmentFactory,
    EncounterFactory,
    PatientFactory,
    PractitionerFactory,
    UserFactory,
)


def pytest_configure(config):
    """On the embedded broker, give this test run its own broker and result files, so a
    running `make run` worker (or another test run) never takes the tests' tasks."""
    if settings.REDIS_URL or "CELERY_BROKER_URL" in os.environ:
        return
    from config.celery import app

    var = Path(settings.VAR_DIR)
    broker = f"sqla+sqlite:///{var / f'test-broker-{os.getpid()}.sqlite3'}"
    results = f"db+sqlite:///{var / f'test-results-{os.getpid()}.sqlite3'}"
    settings.CELERY_BROKER_URL = broker
    settings.CELERY_RESULT_BACKEND = results
    app.conf.update(broker_url=broker, result_backend=results)


def pytest_unconfigure(config):
    for pattern in (f"test-broker-{os.getpid()}.sqlite3", f"test-results-{os.getpid()}.sqlite3"):
        (Path(settings.VAR_DIR) / pattern).unlink(missing_ok=True)


@pytest.fixture
def cardiology(db):
    internal = DepartmentFactory(code="internal", name="内科", name_en="Internal Medicine")
    return DepartmentFactory(
        code="cardiology", name="心血管内科", name_en="Cardiology", parent=internal
    )


@pytest.fixture
def orthopaedics(db):
    surgery = DepartmentFactory(code="surgery", name="外科", name_en="Surgery")
    return DepartmentFactory(
        code="orthopaedics", name="骨科", name_en="Orthopaedics", parent=surgery
    )


@pytest.fixture
def owner(cardiology):
    user = UserFactory(username="alice", full_name="王丽", role=Role.DOCTOR, department=cardiology)
    PractitionerFactory(user=user, department=cardiology)
    return user


@pytest.fixture
def colleague(cardiology):
    return UserFactory(username="nina", full_name="李娜", role=Role.NURSE, department=cardiology)


@pytest.fixture
def outsider(orthopaedics):
    user = UserFactory(
        username="charlie", full_name="赵强", role=Role.DOCTOR, department=orthopaedics
    )
    PractitionerFactory(user=user, department=orthopaedics)
    return user


@pytest.fixture
def admin_user(db):
    return UserFactory(
        username="root", full_name="管理员", role=Role.ADMIN, is_staff=True, is_superuser=True
    )


@pytest.fixture
def receptionist(db):
    return UserFactory(username="rita", full_name="前台", role=Role.RECEPTIONIST)


@pytest.fixture
def scheduler(db):
    return UserFactory(username="sam", full_name="排班", role=Role.SCHEDULER)


@pytest.fixture
def patient(owner, cardiology):
    patient = PatientFactory(name="张伟")
    EncounterFactory(patient=patient, practitioner=owner, department=cardiology)
    return patient


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def api_as(api):
    def login(user):
        api.force_authenticate(user=None)
        api.credentials(**api_auth(user))
        return api

    return login


def api_auth(user) -> dict:
    """Test-client headers that sign ``user`` in to the API as a script would: HTTP Basic for
    accounts that may use a password alone, an API token for accounts with two-step sign-in
    (clinic.authentication refuses their password alone)."""
    return {"HTTP_AUTHORIZATION": api_authorization(user)}


def api_authorization(user) -> str:
    """The Authorization header value ``api_auth`` sends."""
    import base64

    from rest_framework.authtoken.models import Token

    from clinic.authentication import password_alone_allowed

    if password_alone_allowed(user):
        return "Basic " + base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
    token, _ = Token.objects.get_or_create(user=user)
    return f"Token {token.key}"


def api_session(user):
    """A requests session (for dicomweb-client and plain requests against a live server) that
    sends ``api_auth``."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = api_authorization(user)
    return session


def authenticator_code(device) -> str:
    """The code ``device``'s authenticator app shows now; the next one when this one was
    already used (a TOTP code is accepted once; the server allows one step either side)."""
    import time

    from django_otp.oath import TOTP

    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.t() <= device.last_t:
        totp.time += device.step
    return f"{totp.token():0{device.digits}d}"


def two_step_passed(client, user):
    """Leave ``client``'s session as a right code at the two-step sign-in leaves it: with the id
    of a confirmed authenticator of ``user`` under django-otp's session key (what
    ``django_otp.login`` stores; ``clinic.mfa.mfa_session_verified`` also rotates the session
    key, which a test client does not need). The authenticator is created here when the user has
    none. Users who have no second step (clinic.mfa.mfa_role) are left as they are.
    tests/test_mfa.py walks the real code step, throttling and recovery codes included."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from clinic.mfa import mfa_role

    if not mfa_role(user):
        return client
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def client_as(client):
    """Log ``user`` in as a person would: the password through Django's authentication (axes,
    audit), then, for staff whose role needs it, the two-step sign-in (``two_step_passed``)."""

    def login(user):
        client.logout()
        assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
        return two_step_passed(client, user)

    return login


from .worker import celery_worker_process, worker_storage  # noqa: E402,F401  (fixtures)


@pytest.fixture(autouse=True)
def dicom_storage_dir(settings, tmp_path):
    """Point the "dicom" storage (and MEDIA_ROOT) at tmp_path; returns the DICOM directory.

    Django's ``storages`` handler caches backends; assigning STORAGES through the ``settings``
    fixture sends ``setting_changed``, whose handler (django.test.signals.storages_changed)
    empties that cache on the way in and out. The assert catches a Django that stops doing so.
    """
    location = tmp_path / "dicom"
    location.mkdir()
    storages = copy.deepcopy(settings.STORAGES)
    storages["dicom"].setdefault("OPTIONS", {})["location"] = str(location)
    storages["models"].setdefault("OPTIONS", {})["location"] = str(tmp_path / "models")
    settings.MODEL_CACHE_DIR = tmp_path / "model-cache"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = storages
    assert dicom_storage().location == str(location)
    return location


@pytest.fixture(autouse=True)
def _fresh_caches(settings):
    """Each test has a fresh database, so it gets fresh caches too: the DICOMweb views' per
    process caches are emptied, and Django's cache (Redis in CI, shared by every run and by the
    broker, so never flushed) gets a key prefix of its own."""
    import uuid

    from imaging.dicomweb.lookup import clear_caches

    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches
    clear_caches()
    yield
    clear_caches()
