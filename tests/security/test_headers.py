"""Every response carries the Content-Security-Policy; production settings come from the
environment and pass `manage.py check --deploy`, while the defaults serve plain http."""

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from config.settings import proxy_ssl_header

from .test_templates import inline_code

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    parts = [d.split() for d in header.split(";") if d.strip()]
    return {name: sources for name, *sources in parts}


@pytest.mark.parametrize(
    "url",
    ["/accounts/login/", "/b/not-a-code", "/api/v1/me/", "/healthz", "/static/js/page.js"],
)
def test_every_response_carries_the_content_security_policy(client, url):
    policy = directives(client.get(url))
    assert policy["default-src"] == ["'self'"]
    # No 'unsafe-inline', no 'unsafe-eval'; the viewer's image codecs are WebAssembly, which
    # needs 'wasm-unsafe-eval' (compiling WebAssembly only, never eval of JavaScript).
    assert policy["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" in policy["style-src"]  # roster colours, page <style> blocks


def test_the_login_page_sends_the_other_security_headers(client):
    response = client.get("/accounts/login/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_the_api_docs_load_their_start_up_code_as_a_script_file(client_as, admin_user):
    client = client_as(admin_user)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert inline_code(page.content.decode()) == []
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("X-Forwarded-Proto=https", ("HTTP_X_FORWARDED_PROTO", "https")),
        ("HTTP_X_FORWARDED_PROTO=https", ("HTTP_X_FORWARDED_PROTO", "https")),
        (" X-Forwarded-Ssl = on ", ("HTTP_X_FORWARDED_SSL", "on")),
    ],
)
def test_the_proxy_header_is_read_as_header_equals_value(value, expected):
    assert proxy_ssl_header(value) == expected


@pytest.mark.parametrize("value", ["X-Forwarded-Proto", "=https", "X-Forwarded-Proto="])
def test_a_malformed_proxy_header_fails_loudly(value):
    with pytest.raises(ImproperlyConfigured, match="HEADER=VALUE"):
        proxy_ssl_header(value)


def run_django(tmp_path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``manage.py ARGS`` in a fresh process with only ``env``'s DJANGO_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update(env, AIMASS_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
        cwd=settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "pacs.example-hospital.cn",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://pacs.example-hospital.cn",
    "DJANGO_SECURE_COOKIES": "true",
    "DJANGO_SSL_REDIRECT": "true",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto=https",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_HSTS_PRELOAD": "true",
}


def test_production_settings_pass_the_deploy_check(tmp_path):
    from cryptography.fernet import Fernet

    env = {
        **PRODUCTION,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "PHI_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PHI_BLIND_INDEX_KEY": secrets.token_urlsafe(48),
    }
    result = run_django(tmp_path, env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_the_deploy_check_fails_on_the_development_defaults(tmp_path):
    result = run_django(tmp_path, {}, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    for check in (
        "security.W004",
        "security.W008",
        "security.W012",
        "security.W016",
        "clinic.W001",
        "clinic.W002",
    ):
        assert check in result.stderr


SHOW = (
    "import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) "
    "for k in ('SECURE_SSL_REDIRECT', 'SECURE_PROXY_SSL_HEADER', 'SECURE_HSTS_SECONDS', "
    "'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', 'SESSION_COOKIE_SECURE', "
    "'CSRF_COOKIE_SECURE', 'DEBUG')}))"
)
SHELL = ("shell", "--no-imports", "-c", SHOW)


def test_the_environment_turns_https_on_and_the_defaults_leave_it_off(tmp_path):
    production = json.loads(run_django(tmp_path, PRODUCTION, *SHELL).stdout)
    assert production == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "DEBUG": False,
    }
    development = json.loads(run_django(tmp_path, {}, *SHELL).stdout)
    assert development["SECURE_SSL_REDIRECT"] is False
    assert development["SECURE_PROXY_SSL_HEADER"] is None
    assert development["SECURE_HSTS_SECONDS"] == 0
    assert development["SESSION_COOKIE_SECURE"] is False
    assert development["CSRF_COOKIE_SECURE"] is False


def test_behind_the_proxy_http_is_redirected_and_https_gets_hsts(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    client = Client()  # built after the settings: SecurityMiddleware reads them once
    plain = client.get("/accounts/login/")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/accounts/login/"
    assert client.get("/healthz").status_code == 200  # load balancers probe over http
    secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    hsts = secure.headers["Strict-Transport-Security"]
    assert hsts == "max-age=31536000; includeSubDomains; preload"
