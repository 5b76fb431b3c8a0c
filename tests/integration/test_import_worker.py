"""A CSV uploaded on the admin page is imported by the real Celery worker, on the real broker and
database."""

import datetime as dt
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clinic.models import AuditAction, AuditEvent, Patient, PatientImport
from clinic.phi import blind_index

from ..factories import make_id_number

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HEADER = (
    "name,sex,birth_date,phone,id_number,address,emergency_contact_name,emergency_contact_phone"
)
ID_A = make_id_number(dt.date(1985, 3, 12), 101)
ID_B = make_id_number(dt.date(1990, 11, 2), 202)


def upload(client, *rows: str, dry_run: bool = False) -> PatientImport:
    content = "\n".join([HEADER, *rows]) + "\n"
    data = {"file": SimpleUploadedFile("patients.csv", content.encode("utf-8-sig"), "text/csv")}
    if dry_run:
        data["dry_run"] = "on"
    response = client.post(reverse("clinic:patient_import"), data)
    assert response.status_code == 302
    return PatientImport.objects.latest("pk")


def finished(job: PatientImport, timeout: float = 60) -> PatientImport:
    """Poll the database until the worker has finished ``job``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (PatientImport.Status.SUCCEEDED, PatientImport.Status.FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"import {job.pk} still {job.status} after {timeout}s")


def test_the_worker_imports_an_uploaded_file(celery_worker_process, client_as, admin_user):
    client = client_as(admin_user)

    job = finished(
        upload(
            client,
            f"张伟,男,1985-03-12,13800138000,{ID_A},北京市东城区,李娜,13900139000",
            f"王芳,女,1990/11/02,13912345678,{ID_B},,,",
            f"张伟,男,1985-03-12,,{ID_A},,,",
        )
    )

    assert job.status == PatientImport.Status.SUCCEEDED
    assert job.report["summary"] == {"created": 2, "merged": 1, "rejected": 0}
    zhang = Patient.objects.get(id_number_index=blind_index("id_number", ID_A))
    wang = Patient.objects.get(id_number_index=blind_index("id_number", ID_B))
    assert [r["mrn"] for r in job.report["rows"]] == [zhang.mrn, wang.mrn, zhang.mrn]
    assert zhang.mrn == f"P{zhang.pk:08d}"
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT, user=admin_user).count() == 3
    page = client.get(reverse("clinic:patient_import_detail", args=[job.pk])).content.decode()
    assert wang.mrn in page


def test_the_worker_fails_a_file_with_a_bad_row_and_imports_nothing(
    celery_worker_process, client_as, admin_user
):
    wrong_checksum = ID_B[:-1] + ("0" if ID_B[-1] != "0" else "1")

    job = finished(
        upload(
            client_as(admin_user),
            f"张伟,男,1985-03-12,13800138000,{ID_A},,,",
            f"王芳,女,1990-11-02,13912345678,{wrong_checksum},,,",
        )
    )

    assert job.status == PatientImport.Status.FAILED
    assert job.report["summary"]["rejected"] == 1
    assert list(job.report["rows"][1]["errors"]) == ["id_number"]
    assert not Patient.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.IMPORT).exists()


def test_the_worker_runs_a_dry_run_without_writing(celery_worker_process, client_as, admin_user):
    job = finished(
        upload(client_as(admin_user), f"张伟,男,1985-03-12,13800138000,{ID_A},,,", dry_run=True)
    )

    assert job.status == PatientImport.Status.SUCCEEDED
    assert job.report["summary"]["created"] == 1
    assert not Patient.objects.exists()
