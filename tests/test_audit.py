import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(owner, patient):
    return audit_record(
        actor=Actor(user=owner, ip="10.0.0.5", user_agent="pytest"),
        action=AuditAction.VIEW,
        obj=patient,
    )


def test_an_event_records_who_what_whom_and_from_where(event, owner, patient):
    event.refresh_from_db()
    assert (event.user, event.username, event.role) == (owner, "alice", "doctor")
    assert (event.object_type, event.object_id, event.patient) == (
        "patient",
        str(patient.pk),
        patient,
    )
    assert (event.ip, event.user_agent) == ("10.0.0.5", "pytest")


def test_an_event_cannot_be_changed_through_the_orm(event):
    event.reason = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")


def test_an_event_cannot_be_deleted_through_the_orm(event):
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_database_refuses_raw_updates_and_deletes_on_postgresql(event):
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger is a PostgreSQL feature; CI runs on PostgreSQL")
    for sql in ("UPDATE clinic_auditevent SET reason = 'x'", "DELETE FROM clinic_auditevent"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    event.refresh_from_db()
    assert event.reason == ""


def test_the_admin_shows_events_but_offers_no_change_or_delete(client_as, admin_user, event):
    client = client_as(admin_user)
    changelist = client.get(reverse("admin:clinic_auditevent_changelist"))
    assert changelist.status_code == 200
    assert b"alice" in changelist.content
    client.post(reverse("admin:clinic_auditevent_delete", args=[event.pk]), {"post": "yes"})
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    client.post(reverse("admin:clinic_auditevent_change", args=[event.pk]), {"reason": "x"})
    event.refresh_from_db()
    assert event.reason == ""


def test_a_write_and_its_audit_row_commit_or_roll_back_together(owner, patient):
    from django.core.exceptions import ValidationError

    from clinic import services

    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        services.observation_create(
            actor=Actor(user=owner), patient=patient, code="8867-4", value=9999
        )
    assert AuditEvent.objects.count() == before
    assert not patient.observations.exists()
