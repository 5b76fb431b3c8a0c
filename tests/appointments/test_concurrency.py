"""Fifty patients tap "book" on the last free number at the same moment: exactly one wins.

Runs on whichever database the suite uses; CI runs it on PostgreSQL, where the row lock and the
partial unique index are what decide."""

import threading

import pytest
from django.db import connection

from appointments import services
from appointments.errors import BookingError
from appointments.models import Appointment, Slot

from .conftest import actor, at, make_account, make_session, own_record

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_parallel_bookings_of_the_last_number_make_exactly_one(owner, site):
    session = make_session(owner, site, start=at(1, 8), slots=1)
    slot = session.slots.get()
    users = [make_account(f"1380000{i:04d}", name=f"并发{i}") for i in range(50)]
    patients = {u.pk: own_record(u).pk for u in users}
    start = threading.Barrier(len(users))
    outcomes: list[str] = []
    lock = threading.Lock()

    def book(user):
        try:
            start.wait()
            services.appointment_request(
                actor=actor(user),
                slot_id=slot.pk,
                patient_id=patients[user.pk],
                idempotency_key=f"tap-{user.pk}",
            )
            result = "booked"
        except BookingError as exc:
            result = exc.code
        except Exception as exc:  # noqa: BLE001 - any other failure must show in the assert
            result = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=book, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert outcomes.count("booked") == 1, outcomes
    assert sorted(set(outcomes)) == ["booked", "slot_taken"], outcomes
    assert Appointment.objects.filter(slot=slot).count() == 1
    slot.refresh_from_db()
    assert slot.status == Slot.Status.HELD
