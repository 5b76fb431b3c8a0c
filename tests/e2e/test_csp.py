"""Under the Content-Security-Policy, Chromium reports no violation on the key pages and their
scripts still work (the language selector, the decline-reason preset, the print button, the
visit page's updates, the roster editor, Swagger UI) — while an injected inline script is
refused."""

# Fixtures come in by import; the tests' arguments of the same names use them.
# ruff: noqa: F811

from base64 import b32decode

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp

from appointments import rosters, services
from appointments.models import BookingPolicy

from ..appointments.conftest import (  # noqa: F401
    actor,
    clinic_session,
    code,
    make_account,
    own_record,
    site,
    sms_outbox,
    token,
)
from ..conftest import two_step_passed
from ..factories import PASSWORD
from ..rosters_app.conftest import contract, next_monday, shifts, team  # noqa: F401
from .conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Runs before the page's own scripts (Playwright injects it outside the page's CSP): records
# every violation the browser reports, and replaces the print dialog with a flag.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
window.print = () => { window.__printed = true; };
"""


class Browser:
    """A browser context that collects CSP violations from the console and the DOM."""

    def __init__(self, browser, live_server, **options):
        self.context = browser.new_context(base_url=live_server.url, locale="zh-CN", **options)
        self.context.add_init_script(WATCH)
        self.live_server = live_server
        self.console: list[str] = []
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))

    def _console(self, message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def log_in_as(self, user):
        """Share a Django test client's session instead of typing a password or a code (for
        staff, one that has passed two-step sign-in: tests/conftest.py, two_step_passed)."""
        client = Client()
        client.force_login(user)
        two_step_passed(client, user)
        cookie = client.cookies["sessionid"]
        self.context.add_cookies(
            [{"name": "sessionid", "value": cookie.value, "url": self.live_server.url}]
        )

    def visit(self, url: str):
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")
        self.assert_clean(url)

    def assert_clean(self, where: str):
        assert self.page.evaluate("window.__csp") == [], where
        assert self.console == [], where

    def close(self):
        self.context.close()


@pytest.fixture
def chromium(browser, live_server):
    opened = []

    def open_(**options):
        opened.append(Browser(browser, live_server, **options))
        return opened[-1]

    yield open_
    for b in opened:
        b.close()


def test_the_staff_pages_run_under_the_policy(chromium, owner, patient, clinic_session, code):
    booker = make_account("13800000061", name="刘洋")
    request = services.appointment_request(
        actor=actor(booker),
        slot_id=clinic_session.slots.first().pk,
        patient_id=own_record(booker).pk,
        complaint="心悸",
    )
    b = chromium(viewport={"width": 1280, "height": 900})
    page = b.page
    b.visit("/accounts/login/")
    log_in(page, owner)  # the password, then the code step
    b.assert_clean("home")

    b.visit(reverse("clinic:patient_chart", args=[patient.pk]))
    assert page.locator("[data-testid=patient-name]").inner_text() == "张伟"
    b.visit(reverse("clinic:patient_search") + "?q=张")
    b.visit(reverse("appointments:inbox"))
    b.visit(reverse("appointments:queue"))

    # The decline-reason preset fills the reason field (static/js/page.js, no onchange=).
    b.visit(reverse("appointments:decide", args=[request.pk]))
    page.select_option("#reason-preset", index=2)
    preset = page.locator("#reason-preset option").nth(2).inner_text()
    assert page.input_value("#reason") == preset

    # The language selector submits itself.
    page.select_option("#language", "en")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.locator("h1").inner_text() == "Booking request"
    b.assert_clean("after switching the language")

    # Swagger UI renders from our static files and its script endpoint.
    b.visit("/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "AI Mass API" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock-tag-section")
    b.assert_clean("/api/docs/")

    # And an inline script injected into a page is refused, and reported.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = true'; document.body.append(s); }"
    )
    page.wait_for_function("() => window.__csp.length > 0")
    assert page.evaluate("window.__ran") is None
    assert "script-src" in page.evaluate("window.__csp")[0]


def test_the_print_button_prints_the_poster(chromium, receptionist, code):
    b = chromium()
    b.log_in_as(receptionist)
    b.visit(reverse("appointments:poster", args=[code.pk]))
    b.page.click("button[data-print]")
    assert b.page.evaluate("window.__printed") is True
    b.assert_clean("poster")


def test_the_booking_pages_run_under_the_policy(
    chromium,
    owner,
    cardiology,
    token,
    clinic_session,
):
    BookingPolicy.objects.create(department=cardiology, close_minutes_before=0)
    booker = make_account("13800000062", name="孙悦")
    b = chromium(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = b.page
    b.visit(f"/b/{token}")  # redirects to the department's doctors
    page.wait_for_selector("[data-testid=doctor]")
    b.visit(reverse("booking:login"))

    b.log_in_as(booker)
    slot = clinic_session.slots.get(number=2)
    b.visit(reverse("booking:slot", args=[slot.pk]))
    page.fill("#complaint", "心悸三天")
    page.click("[data-testid=book]")
    page.wait_for_selector("[data-testid=status]")
    b.assert_clean("booked")
    appointment = own_record(booker).appointments.get()
    b.visit(reverse("booking:me"))
    b.visit(reverse("booking:appointment", args=[appointment.pk]))

    # The visit page follows the doctor's decision by itself (appointment-status.js).
    services.appointment_confirm(actor=actor(owner), appointment_id=appointment.pk)
    page.wait_for_function(
        "() => document.getElementById('visit').dataset.status === 'booked'", timeout=20_000
    )
    b.assert_clean("visit page after the update")

    page.select_option("#language", "en")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    b.assert_clean("booking pages in English")


def test_the_roster_page_runs_under_the_policy(chromium, scheduler, cardiology, team):
    period = rosters.roster_create(
        actor=actor(scheduler), department=cardiology, start=next_monday(), days=7
    )
    b = chromium(viewport={"width": 1280, "height": 900})
    b.log_in_as(scheduler)
    b.visit(f"/rosters/{period.pk}/")
    before = b.page.locator("[data-testid=objective]").inner_text()
    b.page.locator(f"td.cell[data-user='{team[0].pk}']").first.click()
    b.page.select_option("#cell-editor", "N")
    b.page.wait_for_function(
        f"() => document.querySelector('[data-testid=objective]').textContent !== '{before}'"
    )
    b.assert_clean("roster after an edit")


def test_setting_up_two_step_sign_in_runs_under_the_policy(chromium, owner):
    """A doctor's first sign-in: the set-up page with its QR code and typed key, the code from
    an authenticator app that read that key, the recovery codes with their print button."""
    b = chromium(viewport={"width": 1280, "height": 900})
    page = b.page
    b.visit("/accounts/login/")
    page.fill("#id_username", owner.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=mfa-enrol]")
    b.assert_clean("set-up page")
    assert page.locator("[data-testid=mfa-qr] svg").count() == 1

    # The authenticator app is given the key as typed from the page.
    key = b32decode(page.inner_text("[data-testid=mfa-secret]").replace(" ", ""))
    page.fill("#id_code", f"{totp(key):06d}")
    with page.expect_navigation():
        page.click("[data-testid=mfa-confirm]")
    page.wait_for_selector("[data-testid=mfa-recovery-codes]")
    b.assert_clean("recovery codes")
    assert page.locator("[data-testid=recovery-code]").count() == 10
    page.click("button[data-print]")
    assert page.evaluate("window.__printed") is True

    with page.expect_navigation():
        page.click("[data-testid=mfa-continue]")
    b.visit(reverse("clinic:patient_search"))
    b.visit(reverse("mfa:manage"))
    assert page.inner_text("[data-testid=recovery-codes-left]") == "10"
