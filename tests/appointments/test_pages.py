"""The booking pages through Django's test client: the journey, and who is refused."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from appointments import services
from appointments.models import Appointment, AppointmentStatus, Rating
from appointments.tokens import token_for
from clinic.models import AuditEvent

from ..factories import PatientFactory
from .conftest import actor, make_account, own_record

S = AppointmentStatus
pytestmark = pytest.mark.django_db(transaction=True)


def phone_sign_in(client, outbox, phone, next_url):
    login = reverse("booking:login")
    client.post(login, {"phone": phone, "action": "send", "next": next_url})
    code = re.search(r"(?<!\d)(\d{6})(?!\d)", outbox[-1][1]).group(1)
    return client.post(login, {"phone": phone, "code": code, "action": "verify", "next": next_url})


def test_a_new_patient_books_from_the_code_to_a_request(
    client, sms_outbox, token, clinic_session, owner
):
    page = client.get(f"/b/{token}")
    # One department behind this code: straight to its doctors.
    assert page.status_code == 302
    page = client.get(page.url)
    assert owner.full_name in page.content.decode()
    slot = clinic_session.slots.get(number=2)

    page = client.get(reverse("booking:slot", args=[slot.pk]))
    assert page.status_code == 302 and page.url.startswith(reverse("booking:login"))
    page = phone_sign_in(client, sms_outbox, "13912345678", reverse("booking:slot", args=[slot.pk]))
    assert page.status_code == 302

    page = client.post(
        reverse("booking:person_add"),
        {
            "relationship": "self",
            "name": "孙悦",
            "id_number": "",
            "birth_date": "1985-02-03",
            "sex": "female",
            "next": reverse("booking:slot", args=[slot.pk]),
        },
    )
    assert page.status_code == 302
    form = client.get(reverse("booking:slot", args=[slot.pk])).content.decode()
    key = re.search(r'name="idempotency_key" value="(\w+)"', form).group(1)
    person = re.search(r'name="person" value="(\d+)"', form).group(1)
    for _ in range(2):  # a double tap
        page = client.post(
            reverse("booking:slot", args=[slot.pk]),
            {"person": person, "idempotency_key": key, "complaint": "心悸"},
        )
        assert page.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.patient.name == "孙悦" and appointment.status == S.PENDING
    status = client.get(reverse("booking:appointment_status", args=[appointment.pk])).json()
    assert status["status"] == "pending"


def test_a_forged_or_revoked_code_opens_nothing(client, code, token):
    assert client.get(f"/b/{token}x").status_code == 404
    assert client.get(f"/b/{code.key}").status_code == 404  # the key without its signature
    assert client.get(f"/b/{token_for('guessed-key')}").status_code == 404
    code.revoked_at = code.created_at
    code.save()
    assert client.get(f"/b/{token}").status_code == 404


def test_a_patient_cannot_see_or_act_on_another_patients_appointment(client, clinic_session):
    mine, theirs = make_account("13800000021"), make_account("13800000022")
    appointment = services.appointment_request(
        actor=actor(theirs),
        slot_id=clinic_session.slots.first().pk,
        patient_id=own_record(theirs).pk,
    )
    client.force_login(mine)
    for name in ("booking:appointment", "booking:appointment_status"):
        assert client.get(reverse(name, args=[appointment.pk])).status_code == 404
    response = client.post(reverse("booking:action", args=[appointment.pk]), {"action": "cancel"})
    assert response.status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == S.PENDING


def test_a_client_supplied_patient_id_of_someone_else_books_nothing(client, clinic_session):
    mine = make_account("13800000031")
    stranger = PatientFactory(name="路人")
    client.force_login(mine)
    slot = clinic_session.slots.first()
    response = client.post(
        reverse("booking:slot", args=[slot.pk]), {"person": stranger.pk, "idempotency_key": "k1"}
    )
    assert response.status_code == 404
    assert not Appointment.objects.exists()


def test_a_patient_cannot_set_a_status_through_the_action_endpoint(client, clinic_session):
    mine = make_account("13800000041")
    appointment = services.appointment_request(
        actor=actor(mine), slot_id=clinic_session.slots.first().pk, patient_id=own_record(mine).pk
    )
    client.force_login(mine)
    for action in ("confirm", "fulfilled", "booked"):
        client.post(
            reverse("booking:action", args=[appointment.pk]), {"action": action, "status": "booked"}
        )
    appointment.refresh_from_db()
    assert appointment.status == S.PENDING
    assert not Rating.objects.exists()


def test_the_doctor_bulk_confirms_from_the_inbox_and_an_outsider_sees_nothing(
    client_as, owner, outsider, clinic_session
):
    ids = []
    for number, phone in ((1, "13800000051"), (2, "13800000052")):
        user = make_account(phone, name=f"患者{number}")
        ids.append(
            services.appointment_request(
                actor=actor(user),
                slot_id=clinic_session.slots.get(number=number).pk,
                patient_id=own_record(user).pk,
            ).pk
        )
    client = client_as(outsider)
    assert "患者1" not in client.get(reverse("appointments:inbox")).content.decode()
    assert client.get(reverse("appointments:decide", args=[ids[0]])).status_code == 404
    client.post(reverse("appointments:inbox"), {"ids": ids})
    assert not Appointment.objects.filter(status=S.BOOKED).exists()

    client = client_as(owner)
    page = client.get(reverse("appointments:decide", args=[ids[0]])).content.decode()
    assert 'data-testid="chart-link"' in page
    client.post(reverse("appointments:inbox"), {"ids": ids})
    assert Appointment.objects.filter(status=S.BOOKED).count() == 2


def test_posters_and_qr_images_are_for_the_desk_only(client_as, receptionist, booker, code):
    client = client_as(receptionist)
    poster = client.get(reverse("appointments:poster", args=[code.pk])).content.decode()
    assert "<svg" in poster and "扫码挂号" in poster and "Scan to book" in poster
    png = client.get(reverse("appointments:qr_image", args=[code.pk, "png"]))
    assert png["Content-Type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    client.force_login(booker)
    assert client.get(reverse("appointments:poster", args=[code.pk])).status_code == 403


def test_the_queue_board_masks_names_and_needs_staff(client_as, colleague, booker, site):
    client = client_as(colleague)
    assert client.get(reverse("appointments:board", args=[site.pk])).status_code == 200
    client.force_login(booker)
    assert client.get(reverse("appointments:board_data", args=[site.pk])).status_code == 403


def test_viewing_an_appointment_is_audited(client, booker, clinic_session):
    appointment = services.appointment_request(
        actor=actor(booker),
        slot_id=clinic_session.slots.first().pk,
        patient_id=own_record(booker).pk,
    )
    client.force_login(booker)
    assert client.get(reverse("booking:appointment", args=[appointment.pk])).status_code == 200
    assert AuditEvent.objects.filter(
        action="view", object_type="appointment", object_id=str(appointment.pk)
    ).exists()


def test_sign_in_never_redirects_off_site(client, sms_outbox):
    page = phone_sign_in(client, sms_outbox, "13912340000", "https://evil.example/")
    assert page.url == reverse("booking:me")


def test_staff_logins_are_not_patients_on_the_booking_pages(client_as, owner, clinic_session):
    client = client_as(owner)
    assert client.get(reverse("booking:me")).status_code == 403


def test_the_doctors_lists_and_the_request_page_are_audited(
    client_as, owner, booker, clinic_session
):
    appointment = services.appointment_request(
        actor=actor(booker),
        slot_id=clinic_session.slots.first().pk,
        patient_id=own_record(booker).pk,
    )
    client = client_as(owner)
    client.get(reverse("appointments:inbox"))
    client.get(reverse("appointments:decide", args=[appointment.pk]))
    listed = AuditEvent.objects.filter(user=owner, action="view", details__page="inbox").get()
    assert listed.details["appointments"] == [appointment.pk]
    assert AuditEvent.objects.filter(
        user=owner, action="view", object_type="appointment", patient=own_record(booker)
    ).exists()


def test_polling_the_status_is_audited_once_per_session(client, booker, clinic_session):
    appointment = services.appointment_request(
        actor=actor(booker),
        slot_id=clinic_session.slots.first().pk,
        patient_id=own_record(booker).pk,
    )
    client.force_login(booker)
    for _ in range(3):
        client.get(reverse("booking:appointment_status", args=[appointment.pk]))
    assert AuditEvent.objects.filter(details__via="status").count() == 1


def test_the_staff_pages_render_for_their_roles(
    client_as, owner, receptionist, admin_user, site, code, booker, clinic_session
):
    appointment = services.appointment_request(
        actor=actor(booker),
        slot_id=clinic_session.slots.first().pk,
        patient_id=own_record(booker).pk,
    )
    services.appointment_confirm(actor=actor(owner), appointment_id=appointment.pk)
    doctor = client_as(owner)
    for name in ("appointments:queue", "appointments:notifications", "home"):
        assert doctor.get(reverse(name)).status_code == 200
    assert doctor.get(reverse("appointments:desk")).status_code == 403
    desk = client_as(receptionist)
    for name in ("appointments:desk", "appointments:sites"):
        assert desk.get(reverse(name)).status_code == 200
    desk.post(reverse("appointments:sites"), {"site": site.pk, "action": "revoke", "code": code.pk})
    code.refresh_from_db()
    assert code.revoked_at is not None
    assert client_as(admin_user).get(reverse("appointments:sites")).status_code == 200


def test_the_desk_registers_a_walk_in_by_record_number(client_as, receptionist, owner, site):
    from django.utils import timezone

    from .conftest import make_session

    now = timezone.now()
    session = make_session(owner, site, start=now - timedelta(minutes=30), slots=8)
    patient = PatientFactory(name="吴敏")
    response = client_as(receptionist).post(
        reverse("appointments:desk"),
        {"action": "walk_in", "mrn": patient.mrn, "session": session.pk},
        follow=True,
    )
    assert response.status_code == 200
    walk_in = Appointment.objects.get(patient=patient)
    assert walk_in.walk_in and walk_in.status == S.ARRIVED and walk_in.queue_number == 9
