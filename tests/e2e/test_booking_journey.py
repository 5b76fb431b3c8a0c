"""On a phone-sized Chromium a new patient scans a site's code, signs in with a text-message
code, books, is confirmed by the doctor, checks in by scanning again, watches the queue move and
rates the doctor — in Chinese and in English."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from appointments import queue, services
from appointments.models import Appointment, BookingPolicy, Rating, Site, SiteCode
from appointments.sms import LocmemSmsBackend
from appointments.tokens import new_key, token_for
from clinic.audit import Actor
from clinic.models import Role
from clinic.phi import blind_index

from ..appointments.conftest import make_account, make_session, own_record
from ..factories import make_id_number
from .conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
LABELS = {
    "zh-CN": {"lang": "zh-hans", "send": "发送验证码", "add": "添加就诊人", "thanks": "感谢"},
    "en-US": {"lang": "en", "send": "Send code", "add": "Add a patient", "thanks": "Thank you"},
}


@pytest.fixture
def clinic(settings, owner, cardiology):
    settings.SMS_BACKEND = "appointments.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox = []
    BookingPolicy.objects.create(department=cardiology, close_minutes_before=0)
    site = Site.objects.create(
        name="心内科门诊",
        name_en="Cardiology clinic",
        kind=Site.Kind.DEPARTMENT_ENTRANCE,
        department=cardiology,
    )
    code = SiteCode.objects.create(site=site, key=new_key())
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=40)
    session = make_session(owner, site, start=start, slots=6)
    return {"token": token_for(code.key), "session": session, "site": site}


def sms_code() -> str:
    return re.search(r"(?<!\d)(\d{6})(?!\d)", LocmemSmsBackend.outbox[-1][1]).group(1)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_a_new_patient_goes_from_the_qr_code_to_a_rated_visit(
    browser, live_server, clinic, owner, locale
):
    labels = LABELS[locale]
    session, site = clinic["session"], clinic["site"]
    # Somebody already booked and checked in for number 1: our patient will be second.
    first = make_account("13800009999", name="先到")
    ahead = services.appointment_request(
        actor=Actor(user=first),
        slot_id=session.slots.get(number=1).pk,
        patient_id=own_record(first).pk,
    )
    services.appointment_confirm(actor=Actor(user=owner), appointment_id=ahead.pk)
    queue.appointment_check_in(actor=Actor(user=first), appointment_id=ahead.pk, site=site)

    context = browser.new_context(
        base_url=live_server.url, locale=locale, viewport=PHONE, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)

    page.goto(f"/b/{clinic['token']}")
    assert page.locator("html").get_attribute("lang") == labels["lang"]
    page.locator("[data-testid=doctor] [data-testid=slot]").first.click()  # number 2

    page.fill("#phone", "13912345678")
    assert page.locator("[data-testid=send-code]").inner_text() == labels["send"]
    page.click("[data-testid=send-code]")
    page.fill("#code", sms_code())
    page.click("[data-testid=verify]")

    assert page.locator("[data-testid=add-person]").inner_text() == labels["add"]
    page.click("[data-testid=add-person]")
    page.fill("#name", "孙悦")
    page.fill("#id_number", make_id_number(timezone.localdate().replace(year=1985), 222))
    page.click("[data-testid=save-person]")
    page.fill("#complaint", "心悸三天")
    page.click("[data-testid=book]")
    page.wait_for_selector("[data-testid=status]")
    appointment = Appointment.objects.get(patient__name_index=blind_index("name", "孙悦"))
    assert appointment.status == "pending"

    # The doctor confirms in their inbox; the patient's page follows by itself.
    doctor = browser.new_context(base_url=live_server.url, locale=locale)
    inbox = doctor.new_page()
    log_in(inbox, owner)
    inbox.goto("/appointments/inbox/")
    inbox.locator("[data-testid=request]", has_text="孙悦").locator("a").click()
    inbox.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=cancel]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=status]').closest('#visit').dataset.status"
        " === 'booked'"
    )

    # On the day: scan the code again and check in.
    page.goto(f"/b/{clinic['token']}")
    page.click("[data-testid=check-in] button")
    page.wait_for_selector("[data-testid=queue]:not([hidden])")
    assert page.locator("[data-testid=queue-number]").inner_text() == "2"
    assert page.locator("[data-testid=ahead]").inner_text() == "1"

    # The doctor calls the patient ahead: the queue moves without a reload.
    queue.queue_call_next(actor=Actor(user=owner), session_id=session.pk)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=ahead]').textContent === '0'"
    )
    queue.queue_finish(actor=Actor(user=owner), appointment_id=ahead.pk)
    called = queue.queue_call_next(actor=Actor(user=owner), session_id=session.pk)
    assert called.pk == appointment.pk
    queue.queue_finish(actor=Actor(user=owner), appointment_id=appointment.pk)

    page.wait_for_selector("[data-testid=rating-form]")
    page.check("input[name=stars][value='5']")
    page.fill("#comment", "医生很耐心 <b>very kind</b>")
    page.click("[data-testid=rate]")
    page.wait_for_selector("[data-testid=rated]")
    assert labels["thanks"] in page.locator("[data-testid=rated]").inner_text()
    rating = Rating.objects.get()
    assert rating.stars == 5 and rating.doctor == owner.practitioner
    assert owner.role == Role.DOCTOR
    context.close()
    doctor.close()
