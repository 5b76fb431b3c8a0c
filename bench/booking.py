"""Booking under load: N concurrent patients book against gunicorn + the configured database.

Every client signs in (a session cookie made here), then keeps booking: it picks a free slot at
random from the same small pool everyone races for, posts the booking form, and records the
latency and the outcome (booked, or "taken" when someone was faster). Prints confirmed bookings
per second, p50/p99 latency, and the number of double bookings found in the database afterwards
(must be 0). Use PostgreSQL for meaningful numbers:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/aimass .venv/bin/python bench/booking.py \
        --clients 32 --slots 400 --workers 4
"""

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["BOOKING_MAX_PER_HOUR"] = "1000000"
os.environ["BOOKING_MAX_PER_IP_HOUR"] = "1000000"

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402


def prepare(*, patients: int, slots: int) -> tuple[list[str], list[int]]:
    """A doctor whose department confirms at once, one session per 20 slots, and ``patients``
    signed-in patient accounts. Returns their session keys and the slot ids."""
    from datetime import timedelta

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from appointments.models import BookingPolicy, ClinicSession, Site, Slot
    from clinic.models import Department, Patient, Practitioner, Role, User

    dept = Department.objects.create(code="cardiology", name="心血管内科")
    BookingPolicy.objects.create(department=dept, auto_confirm=True)
    user = User.objects.create_user("doc", password="x", role=Role.DOCTOR, department=dept)
    doctor = Practitioner.objects.create(user=user, department=dept, title="attending")
    site = Site.objects.create(name="门诊楼", kind="campus")
    start = timezone.now() + timedelta(days=1)
    slot_ids = []
    for n in range(0, slots, 20):
        begins = start + timedelta(hours=n // 20 * 6)
        session = ClinicSession.objects.create(
            doctor=doctor,
            department=dept,
            site=site,
            date=begins.date(),
            period="am",
            starts_at=begins,
            ends_at=begins + timedelta(hours=5),
            mode="timed",
        )
        made = Slot.objects.bulk_create(
            Slot(
                session=session,
                number=i + 1,
                starts_at=begins + timedelta(minutes=15 * i),
                minutes=15,
            )
            for i in range(min(20, slots - n))
        )
        slot_ids += [s.pk for s in made]
    keys = []
    for i in range(patients):
        account = User.objects.create_user(f"tel-139{i:08d}", role=Role.PATIENT)
        Patient.objects.create(
            mrn=f"B{i:08d}", name=f"患者{i}", sex="female", birth_date="1980-01-01", account=account
        )
        store = SessionStore()
        store[SESSION_KEY] = str(account.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = account.get_session_auth_hash()
        store.create()
        keys.append(store.session_key)
    return keys, slot_ids


def client_loop(base, session_key, slot_ids, deadline, results, lock):
    http = requests.Session()
    http.cookies.set("sessionid", session_key)
    rng = random.Random(session_key)
    while time.monotonic() < deadline:
        slot = rng.choice(slot_ids)
        form = http.get(f"{base}/b/slot/{slot}/")
        token = http.cookies.get("csrftoken")
        person = re.search(r'name="person" value="(\d+)"', form.text)
        key = re.search(r'name="idempotency_key" value="(\w+)"', form.text)
        if not (token and person and key):
            with lock:
                results.append(("error", 0.0))
            continue
        began = time.perf_counter()
        response = http.post(
            f"{base}/b/slot/{slot}/",
            data={
                "csrfmiddlewaretoken": token,
                "person": person.group(1),
                "idempotency_key": key.group(1),
            },
            headers={"Referer": f"{base}/b/slot/{slot}/"},
            allow_redirects=False,
        )
        elapsed = (time.perf_counter() - began) * 1000
        outcome = {302: "booked", 409: "taken"}.get(response.status_code, "error")
        with lock:
            results.append((outcome, elapsed))
        if outcome == "booked":  # one visit per patient: cancel so the patient may book again
            appointment = response.headers["Location"].rstrip("/").split("/")[-1]
            http.post(
                f"{base}/b/appointments/{appointment}/action/",
                data={"csrfmiddlewaretoken": token, "action": "cancel"},
                headers={"Referer": base},
                allow_redirects=False,
            )


def double_bookings() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT slot_id FROM appointments_appointment "
            "WHERE status IN ('pending','proposed','booked','arrived','checked-in') "
            "GROUP BY slot_id HAVING COUNT(*) > 1) AS doubled"
        )
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--slots", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    old = setup_databases(verbosity=0, interactive=False)
    server = None
    try:
        keys, slot_ids = prepare(patients=args.clients, slots=args.slots)
        db = connection.settings_dict
        env = {**os.environ, "DJANGO_ALLOWED_HOSTS": "127.0.0.1"}
        if db["ENGINE"].endswith("sqlite3"):
            env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
        else:
            env["DATABASE_URL"] = (
                f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
                f"{db['NAME']}"
            )
        connection.close()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-b",
                f"127.0.0.1:{args.port}",
                "-w",
                str(args.workers),
                "-k",
                "gthread",
                "--threads",
                "4",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        results, lock = [], threading.Lock()
        deadline = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=client_loop, args=(base, key, slot_ids, deadline, results, lock)
            )
            for key in keys
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        report(results, wall, args)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        teardown_databases(old, verbosity=0)


def report(results, wall, args) -> None:
    booked = [ms for outcome, ms in results if outcome == "booked"]
    latencies = sorted(ms for outcome, ms in results if outcome != "error")
    errors = sum(1 for outcome, _ in results if outcome == "error")
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] if latencies else float("nan")
    print(
        f"database: {connection.vendor}; {args.clients} clients, {args.slots} slots, "
        f"{args.workers} gunicorn workers, {wall:.1f} s"
    )
    print(
        f"confirmed bookings: {len(booked)} ({len(booked) / wall:.1f}/s); "
        f"taken: {len(latencies) - len(booked)}; errors: {errors}"
    )
    if latencies:
        print(f"booking POST latency: p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms")
    print(f"double bookings: {double_bookings()}")


if __name__ == "__main__":
    main()
