"""Markup typed into free-text fields (a patient's name, an encounter, a booking complaint, a
rating comment), mixed with Chinese, comes back escaped on every page that shows it."""

# Fixtures come in by import; the tests' arguments of the same names use them.
# ruff: noqa: F811

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from appointments import queue, services
from appointments.models import Appointment, BookingPolicy

from ..appointments.conftest import (  # noqa: F401
    actor,
    make_account,
    make_session,
    own_record,
    site,
    sms_outbox,
)
from ..factories import EncounterFactory

pytestmark = pytest.mark.django_db

NAME = '张<script>alert(1)</script>伟"><img src=x onerror=alert(1)>'
COMPLAINT = "胸痛</textarea><svg onload=alert(2)>三天<script>alert(3)</script>"
ENCOUNTER = "头痛'><iframe src=javascript:alert(4)></iframe>两天<b onmouseover=alert(5)>重</b>"
COMMENT = '医生很好</p><script>alert(6)</script><a href="javascript:alert(7)">谢谢</a>'
RAW = [
    "<script>alert",
    "<img src=x",
    "<svg onload",
    "<iframe",
    "<b onmouseover",
    '<a href="javascript',
]


class Markup(HTMLParser):
    """The elements a browser would build: inline scripts and on*= / javascript: attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
        if tag == "iframe" or (tag == "img" and dict(attrs).get("src") == "x"):
            self.found.append(f"<{tag}>")
        self._in_script = tag == "script" and not dict(attrs).get("src")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"<script>{data}")


def assert_escaped(response, *shown: str) -> str:
    assert response.status_code == 200, response
    html = response.content.decode()
    for raw in RAW:
        assert raw not in html, raw
    parser = Markup()
    parser.feed(html)
    assert parser.found == []
    for text in shown:
        assert escape(text) in html, text
    return html


@pytest.fixture
def hostile(owner, site, cardiology):
    """Dr Alice's patient with a hostile name: a request for tomorrow with a hostile complaint,
    and a visit today, checked in, seen and rated with a hostile comment."""
    BookingPolicy.objects.create(department=cardiology, close_minutes_before=0)
    account = make_account("13800000077", name=NAME)
    record = own_record(account)
    EncounterFactory(
        patient=record,
        practitioner=owner,
        department=cardiology,
        chief_complaint=ENCOUNTER,
        diagnosis=ENCOUNTER,
    )
    tomorrow = make_session(owner, site, start=_at(days=1))
    pending = services.appointment_request(
        actor=actor(account),
        slot_id=tomorrow.slots.first().pk,
        patient_id=record.pk,
        complaint=COMPLAINT,
    )
    today = make_session(owner, site, start=_at(minutes=30))
    visit = services.appointment_request(
        actor=actor(account),
        slot_id=today.slots.first().pk,
        patient_id=record.pk,
        complaint=COMPLAINT,
    )
    services.appointment_confirm(actor=actor(owner), appointment_id=visit.pk)
    queue.appointment_check_in(actor=actor(account), appointment_id=visit.pk, site=site)
    return {"account": account, "record": record, "pending": pending, "visit": visit}


def _at(*, days: int = 0, minutes: int = 0):
    start = timezone.now().replace(second=0, microsecond=0)
    return start + timedelta(days=days, minutes=minutes)


def test_the_doctors_pages_show_the_markup_as_text(client_as, owner, hostile):
    client = client_as(owner)
    record, pending = hostile["record"], hostile["pending"]
    assert_escaped(client.get(reverse("clinic:patient_chart", args=[record.pk])), NAME, ENCOUNTER)
    assert_escaped(client.get(reverse("clinic:patient_search"), {"q": NAME}), NAME)
    assert_escaped(client.get(reverse("home")))
    assert_escaped(client.get(reverse("appointments:inbox")), NAME, COMPLAINT)
    assert_escaped(client.get(reverse("appointments:decide", args=[pending.pk])), NAME, COMPLAINT)
    assert_escaped(client.get(reverse("appointments:queue")), NAME)
    assert_escaped(client.get(reverse("appointments:notifications")))

    # Called in: the encounter opened from the booking carries the complaint to the chart.
    queue.queue_call_next(actor=actor(owner), session_id=hostile["visit"].session_id)
    assert_escaped(client.get(reverse("appointments:queue")), NAME)
    assert_escaped(client.get(reverse("clinic:patient_chart", args=[record.pk])), NAME)


def test_the_patients_booking_pages_show_the_markup_as_text(client, owner, hostile):
    visit = hostile["visit"]
    queue.queue_call_next(actor=actor(owner), session_id=visit.session_id)
    queue.queue_finish(actor=actor(owner), appointment_id=visit.pk)
    services.appointment_rate(
        actor=actor(hostile["account"]), appointment_id=visit.pk, stars=5, comment=COMMENT
    )
    assert Appointment.objects.get(pk=visit.pk).rating.comment == COMMENT

    client.force_login(hostile["account"])
    assert_escaped(client.get(reverse("booking:me")), NAME)
    for appointment in (hostile["pending"], visit):
        assert_escaped(client.get(reverse("booking:appointment", args=[appointment.pk])), NAME)
    slot = hostile["pending"].session.slots.last()
    assert_escaped(client.get(reverse("booking:slot", args=[slot.pk])), NAME)


def test_the_admin_shows_a_rating_comment_as_text(client_as, admin_user, hostile):
    # No page of the app shows rating comments yet; the admin does.
    visit = hostile["visit"]
    owner = visit.session.doctor.user
    queue.queue_call_next(actor=actor(owner), session_id=visit.session_id)
    queue.queue_finish(actor=actor(owner), appointment_id=visit.pk)
    rating = services.appointment_rate(
        actor=actor(hostile["account"]), appointment_id=visit.pk, stars=4, comment=COMMENT
    )
    client = client_as(admin_user)
    assert_escaped(client.get(reverse("admin:appointments_rating_changelist")))
    assert_escaped(
        client.get(reverse("admin:appointments_rating_change", args=[rating.pk])), COMMENT
    )
