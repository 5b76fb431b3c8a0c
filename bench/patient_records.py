"""How fast are patient search and the chart with many patients? Prints milliseconds per
request (median and p95) for a doctor's and an admin's search and for opening a chart."""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    from django.test.utils import setup_test_environment

    setup_test_environment()  # allows the test client's host name
    old = setup_databases(verbosity=0, interactive=False)
    try:
        run(args)
    finally:
        teardown_databases(old, verbosity=0)


def run(args) -> None:
    import datetime as dt

    from django.utils import timezone

    from clinic.models import Department, Encounter, Patient, Role, User

    dept = Department.objects.create(code="cardiology", name="心血管内科", name_en="Cardiology")
    doctor = User.objects.create_user("doc", password="x", role=Role.DOCTOR, department=dept)
    admin = User.objects.create_user("adm", password="x", role=Role.ADMIN)
    Patient.objects.bulk_create(
        Patient(
            mrn=f"P{i:08d}",
            name=f"患者{i}",
            sex="female",
            birth_date=dt.date(1970, 1, 1),
            phone=f"139{i:08d}",
        )
        for i in range(args.patients)
    )
    ids = list(Patient.objects.values_list("pk", flat=True)[: args.patients // 20])
    now = timezone.now()
    Encounter.objects.bulk_create(
        Encounter(
            patient_id=pk,
            kind="outpatient",
            started_at=now - dt.timedelta(days=1),
            department=dept,
            practitioner=doctor,
            created_by=doctor,
            chief_complaint="胸闷",
        )
        for pk in ids
    )
    print(f"{args.patients} patients, doctor related to {len(ids)}")
    for label, user, query in [
        ("doctor search by name", doctor, "患者1"),
        ("doctor search by phone", doctor, "1390000"),
        ("admin search by MRN", admin, f"P{args.patients // 2:08d}"),
    ]:
        client = Client()
        client.force_login(user)
        assert client.get("/patients/", {"q": query}).status_code == 200
        median, p95 = timed(
            lambda client=client, query=query: client.get("/patients/", {"q": query}),
            args.repeat,
        )
        print(f"{label:28s} median {median:7.1f} ms   p95 {p95:7.1f} ms")
    client = Client()
    client.force_login(doctor)
    assert client.get(f"/patients/{ids[0]}/").status_code == 200
    median, p95 = timed(lambda: client.get(f"/patients/{ids[0]}/"), args.repeat)
    print(f"{'doctor opens a chart':28s} median {median:7.1f} ms   p95 {p95:7.1f} ms")


if __name__ == "__main__":
    main()
