"""Browser tests: Playwright drives Debian's Chromium (never a downloaded build).

Without Chromium they skip, unless AIMASS_REQUIRE_BROWSER=1 (set by CI) makes that a failure.
"""

import os
import shutil

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.mfa import mfa_role

from ..conftest import authenticator_code
from ..factories import PASSWORD
from ..review.conftest import model_version, three_nodule_study  # noqa: F401  (fixtures)

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# around it are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("AIMASS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM}; CI must install Debian's chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def log_in(page, user, *, password: str = PASSWORD, start: str = "/accounts/login/"):
    """Log ``user`` in through the pages, as a person does: user name and password, then, for
    staff whose role needs two-step sign-in, the code their authenticator app shows now. The
    authenticator (a confirmed django-otp TOTP device) is created here when the user has none;
    tests/e2e/test_csp.py sets one up through the QR-code page itself."""
    device = None
    if mfa_role(user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    page.goto(start)
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    if device is not None:
        page.wait_for_selector("[data-testid=mfa-verify]")
        page.fill("#id_code", authenticator_code(device))
        with page.expect_navigation():
            page.click("[data-testid=mfa-submit]")
    page.wait_for_selector("[data-testid=logout]")
