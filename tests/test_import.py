"""The patient CSV import: cleaning, de-duplication, all-or-nothing, audit, worker entry point,
the admin-only page and ``manage.py import_patients``."""

import datetime as dt
from io import StringIO
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone, translation

from clinic import tasks
from clinic.audit import Actor
from clinic.imports import patient_csv_import, patient_import_run, patient_import_submit
from clinic.models import AuditAction, AuditEvent, Patient, PatientImport, Sex
from clinic.phi import blind_index
from clinic.validators import validate_id_number, validate_phone

from .factories import PatientFactory, make_id_number

HEADER = (
    "name,sex,birth_date,phone,id_number,address,emergency_contact_name,emergency_contact_phone"
)
BORN = dt.date(1985, 3, 12)
ID_A = make_id_number(BORN, 101)
ID_B = make_id_number(dt.date(1990, 11, 2), 202)
ROW_A = f"张伟,男,1985-03-12,13800138000,{ID_A},北京市东城区,李娜,13900139000"
ROW_B = f"王芳,female,1990/11/02,+86 139 1234 5678,{ID_B},,,"

pytestmark = pytest.mark.django_db


def csv_of(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def bad_checksum(id_number: str) -> str:
    wrong = "0" if id_number[-1] != "0" else "1"
    return id_number[:-1] + wrong


def messages_of(validator, value) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        validator(value)
    return exc.value.messages


def stored_zhang(**fields) -> Patient:
    """The patient of ``ROW_A`` as already registered, with ``fields`` differing."""
    return PatientFactory(
        **{"name": "张伟", "sex": Sex.MALE, "birth_date": BORN, "id_number": ID_A, **fields}
    )


@pytest.fixture
def import_csv(admin_user):
    def run(content: str, **options):
        return patient_csv_import(actor=Actor.system(admin_user), content=content, **options)

    return run


# --- Cleaning and creating --------------------------------------------------------------------


def test_it_creates_patients_with_mrns_from_a_valid_file(import_csv):
    result = import_csv("\ufeff" + csv_of(ROW_A, ROW_B))

    assert result.succeeded
    assert result.report["summary"] == {"created": 2, "merged": 0, "rejected": 0}
    assert "error" not in result.report
    zhang, wang = (
        Patient.objects.get(id_number_index=blind_index("id_number", n)) for n in (ID_A, ID_B)
    )
    assert [r["mrn"] for r in result.report["rows"]] == [zhang.mrn, wang.mrn]
    assert zhang.mrn == f"P{zhang.pk:08d}"
    assert [r["row"] for r in result.report["rows"]] == [2, 3]
    assert all(r["outcome"] == "created" for r in result.report["rows"])
    assert (zhang.sex, zhang.birth_date, zhang.emergency_contact_name) == (Sex.MALE, BORN, "李娜")
    assert (wang.sex, wang.birth_date) == (Sex.FEMALE, dt.date(1990, 11, 2))
    assert wang.phone == "13912345678"


def test_it_accepts_m_f_and_unknown_for_sex(import_csv):
    rows = [f"甲,{sex},2001-01-0{n},1380013800{n},,,," for n, sex in enumerate("MFu", start=1)]
    result = import_csv(csv_of(*rows))

    assert result.succeeded
    assert list(Patient.objects.order_by("birth_date").values_list("sex", flat=True)) == [
        Sex.MALE,
        Sex.FEMALE,
        Sex.UNKNOWN,
    ]


def test_it_counts_csv_lines_past_blank_lines_and_quoted_line_breaks(import_csv):
    quoted = f'"王芳",女,1990-11-02,13912345678,{ID_B},"北京市\n朝阳区",,'
    result = import_csv(csv_of(ROW_A, "", quoted, "张三,bogus,1970-01-01,,,,,"))

    assert [r["row"] for r in result.report["rows"]] == [2, 4, 6]
    assert result.report["rows"][2]["errors"].keys() == {"sex"}


# --- Rejections: the field is named, and nothing is written -----------------------------------


def test_it_rejects_a_bad_id_checksum_and_imports_nothing(import_csv):
    wrong = bad_checksum(ID_B)
    result = import_csv(csv_of(ROW_A, f"王芳,女,1990-11-02,13912345678,{wrong},,,"))

    assert not result.succeeded
    assert result.report["summary"] == {"created": 1, "merged": 0, "rejected": 1}
    good, bad = result.report["rows"]
    assert bad["outcome"] == "rejected"
    assert bad["errors"] == {"id_number": messages_of(validate_id_number, wrong)}
    assert bad["mrn"] is None
    assert good["outcome"] == "created" and good["mrn"] is None  # rolled back: no MRN to show
    assert not Patient.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("王芳,女,1990-11-02,1234,,,,", "phone"),
        ("王芳,女,1990-11-02,13912345678,,,李娜,99", "emergency_contact_phone"),
        ("王芳,女,2999-01-01,13912345678,,,,", "birth_date"),
        ("王芳,女,02.11.1990,13912345678,,,,", "birth_date"),
        ("王芳,女,,13912345678,,,,", "birth_date"),
        (f"王芳,女,1990-11-03,13912345678,{ID_B},,,", "birth_date"),  # not the ID's date
        ("王芳,woman,1990-11-02,13912345678,,,,", "sex"),
        (",女,1990-11-02,13912345678,,,,", "name"),
    ],
    ids=[
        "phone",
        "emergency-phone",
        "future-date",
        "date-format",
        "no-date",
        "date-vs-id",
        "sex",
        "name",
    ],
)
def test_it_rejects_an_invalid_value_naming_the_field_and_imports_nothing(import_csv, row, field):
    result = import_csv(csv_of(ROW_A, row))

    assert not result.succeeded
    rejected = result.report["rows"][1]
    assert rejected["outcome"] == "rejected"
    assert list(rejected["errors"]) == [field]
    assert all(isinstance(m, str) and m for m in rejected["errors"][field])
    assert not Patient.objects.exists()


def test_it_gives_the_validators_own_message_for_a_bad_phone(import_csv):
    result = import_csv(csv_of("王芳,女,1990-11-02,1234,,,,"))

    assert result.report["rows"][0]["errors"]["phone"] == messages_of(validate_phone, "1234")


def test_it_rejects_a_row_with_more_values_than_columns(import_csv):
    result = import_csv(csv_of(ROW_A + ",extra"))

    assert result.report["rows"][0]["outcome"] == "rejected"
    assert result.report["rows"][0]["reason"]
    assert not Patient.objects.exists()


# --- File-level errors ------------------------------------------------------------------------


def test_a_missing_required_column_fails_the_whole_file(import_csv):
    header = HEADER.replace("sex,", "")
    with translation.override("en"):
        result = import_csv(csv_of("张伟,1985-03-12,13800138000,,,,", header=header))

    assert not result.succeeded
    assert "Required columns are missing: sex." in result.report["error"]
    assert result.report["rows"] == []
    assert result.report["summary"] == {"created": 0, "merged": 0, "rejected": 0}


def test_an_unknown_column_fails_the_whole_file(import_csv):
    with translation.override("en"):
        result = import_csv(csv_of("张伟,男,1985-03-12,,", header="name,sex,birth_date,notes"))

    assert not result.succeeded
    assert "Unknown columns: notes." in result.report["error"]
    assert not Patient.objects.exists()


def test_the_optional_columns_may_be_left_out(import_csv):
    result = import_csv(csv_of("张伟,男,1985-03-12", header="Name, Sex ,birth_date"))

    assert result.succeeded
    assert Patient.objects.get().name == "张伟"


@pytest.mark.parametrize("content", ["", "\n\n", HEADER + "\n"], ids=["empty", "blank", "no-rows"])
def test_an_empty_file_fails(import_csv, content):
    result = import_csv(content)

    assert not result.succeeded
    assert result.report["error"]


# --- De-duplication ---------------------------------------------------------------------------


def test_it_merges_a_row_into_the_stored_patient_with_the_same_id_number(import_csv):
    stored = stored_zhang(sex=Sex.UNKNOWN, phone="", address="")

    result = import_csv(csv_of(ROW_A.replace(ID_A, ID_A.lower())))

    assert result.succeeded
    row = result.report["rows"][0]
    assert (row["outcome"], row["mrn"]) == ("merged", stored.mrn)
    assert stored.mrn in row["reason"]
    stored.refresh_from_db()
    assert (stored.sex, stored.phone, stored.address) == (Sex.MALE, "13800138000", "北京市东城区")
    assert Patient.objects.count() == 1


def test_it_merges_by_phone_and_birth_date_when_the_row_has_no_id_number(import_csv):
    stored = stored_zhang(phone="13800138000", address="")

    result = import_csv(csv_of("张伟,男,1985-03-12,138 0013 8000,,北京市东城区,,"))

    assert result.report["rows"][0]["outcome"] == "merged"
    stored.refresh_from_db()
    assert stored.address == "北京市东城区"
    assert Patient.objects.count() == 1


def test_a_row_with_an_id_number_is_not_matched_on_phone_and_birth_date(import_csv):
    PatientFactory(name="张强", birth_date=BORN, phone="13800138000", id_number="")

    result = import_csv(csv_of(ROW_A))  # a twin, say: same phone and birthday

    assert result.report["rows"][0]["outcome"] == "created"
    assert Patient.objects.count() == 2


def test_it_rejects_a_row_that_matches_several_patients_by_phone_and_birth_date(import_csv):
    PatientFactory.create_batch(2, birth_date=BORN, phone="13800138000", id_number="")

    result = import_csv(csv_of("张伟,男,1985-03-12,13800138000,,,,"))

    assert result.report["rows"][0]["outcome"] == "rejected"
    assert result.report["rows"][0]["reason"]


def test_it_merges_duplicates_within_the_file(import_csv):
    first = f"张伟,男,1985-03-12,,{ID_A},,,"
    again = f"张伟,unknown,1985/3/12,13800138000,{ID_A},北京市东城区,,"
    by_phone = "王芳,女,1990-11-02,13912345678,,,,"
    result = import_csv(csv_of(first, again, by_phone, by_phone.replace(",,,,", ",,朝阳区,,")))

    assert result.succeeded
    assert result.report["summary"] == {"created": 2, "merged": 2, "rejected": 0}
    rows = result.report["rows"]
    assert [r["outcome"] for r in rows] == ["created", "merged", "created", "merged"]
    assert rows[0]["mrn"] == rows[1]["mrn"] and rows[2]["mrn"] == rows[3]["mrn"]
    assert "2" in rows[1]["reason"]  # points at the row it duplicates
    zhang = Patient.objects.get(id_number_index=blind_index("id_number", ID_A))
    assert (zhang.phone, zhang.address) == ("13800138000", "北京市东城区")
    assert Patient.objects.get(name_index=blind_index("name", "王芳")).address == "朝阳区"


def test_it_rejects_a_row_whose_name_conflicts_with_the_stored_patient(import_csv):
    stored = stored_zhang(name="张卫")

    result = import_csv(csv_of(ROW_A, ROW_B))

    assert not result.succeeded
    conflict = result.report["rows"][0]
    assert conflict["outcome"] == "rejected"
    assert list(conflict["errors"]) == ["name"]
    assert stored.mrn in conflict["reason"]
    stored.refresh_from_db()
    assert stored.name == "张卫"
    assert Patient.objects.count() == 1


def test_it_rejects_conflicting_duplicates_within_the_file(import_csv):
    result = import_csv(csv_of(ROW_A, ROW_A.replace("张伟", "张卫")))

    assert [r["outcome"] for r in result.report["rows"]] == ["created", "rejected"]
    assert not Patient.objects.exists()


def test_it_updates_the_contact_details_of_a_matched_patient(import_csv):
    stored = stored_zhang(phone="13700137000", address="旧地址")

    result = import_csv(csv_of(ROW_A))

    row = result.report["rows"][0]
    assert row["outcome"] == "merged"
    stored.refresh_from_db()
    assert (stored.phone, stored.address) == ("13800138000", "北京市东城区")
    event = AuditEvent.objects.get(patient=stored)
    assert set(event.details["updated"]) == {"phone", "address"}


def test_a_blank_value_in_the_file_keeps_the_stored_one(import_csv):
    stored = stored_zhang(address="旧地址")

    import_csv(csv_of(f"张伟,unknown,1985-03-12,,{ID_A},,,"))

    stored.refresh_from_db()
    assert (stored.sex, stored.address) == (Sex.MALE, "旧地址")


# --- Dry run and audit ------------------------------------------------------------------------


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(import_csv):
    stored = stored_zhang(address="")

    result = import_csv(csv_of(ROW_A, ROW_B), dry_run=True)

    assert result.succeeded
    assert result.report["summary"] == {"created": 1, "merged": 1, "rejected": 0}
    merged, created = result.report["rows"]
    assert merged["mrn"] == stored.mrn
    assert created["mrn"] is None
    assert Patient.objects.count() == 1
    stored.refresh_from_db()
    assert stored.address == ""
    assert not AuditEvent.objects.exists()


def test_it_writes_an_import_audit_row_for_each_created_or_merged_patient(import_csv, admin_user):
    stored = stored_zhang(address="")

    import_csv(csv_of(ROW_A, ROW_B), import_id=42)

    events = AuditEvent.objects.order_by("id")
    wang = Patient.objects.get(id_number_index=blind_index("id_number", ID_B))
    assert [(e.action, e.patient_id, e.user_id) for e in events] == [
        (AuditAction.IMPORT, stored.pk, admin_user.pk),
        (AuditAction.IMPORT, wang.pk, admin_user.pk),
    ]
    assert events[0].details == {
        "import": 42,
        "row": 2,
        "outcome": "merged",
        "updated": ["phone"],
        "filled": ["address", "emergency_contact_name", "emergency_contact_phone"],
    }
    assert events[1].details["outcome"] == "created"


# --- MRN assignment shared with registration --------------------------------------------------


def test_registration_and_import_assign_mrns_the_same_way(import_csv, receptionist):
    from clinic.services import patient_create

    registered = patient_create(
        actor=Actor.system(receptionist), name="李雷", sex=Sex.MALE, birth_date=BORN
    )
    import_csv(csv_of(ROW_B))

    imported = Patient.objects.get(id_number_index=blind_index("id_number", ID_B))
    assert registered.mrn == f"P{registered.pk:08d}"
    assert imported.mrn == f"P{imported.pk:08d}"


# --- Submitting and running on the worker -----------------------------------------------------


def test_submitting_queues_the_worker_task_after_commit(
    admin_user, django_capture_on_commit_callbacks
):
    with mock.patch.object(tasks.patient_import_run, "delay", autospec=True) as delay:
        with django_capture_on_commit_callbacks(execute=True):
            job = patient_import_submit(
                actor=Actor.system(admin_user),
                filename="p.csv",
                content=csv_of(ROW_A),
                dry_run=False,
            )
            delay.assert_not_called()

    delay.assert_called_once_with(import_id=job.pk, language=mock.ANY)
    assert (job.status, job.created_by) == (PatientImport.Status.QUEUED, admin_user)
    assert not Patient.objects.exists()


def test_only_an_administrator_may_submit_an_import(owner):
    with pytest.raises(PermissionDenied):
        patient_import_submit(
            actor=Actor.system(owner), filename="p.csv", content=csv_of(ROW_A), dry_run=False
        )
    assert not PatientImport.objects.exists()


def queued(user, content: str, dry_run: bool = False) -> PatientImport:
    return PatientImport.objects.create(
        created_by=user, filename="p.csv", content=content, dry_run=dry_run
    )


def test_running_an_import_imports_as_the_submitter_once(admin_user):
    job = queued(admin_user, csv_of(ROW_A, ROW_B))

    patient_import_run(import_id=job.pk)
    patient_import_run(import_id=job.pk)  # a second delivery of the same message

    job.refresh_from_db()
    assert job.status == PatientImport.Status.SUCCEEDED
    assert job.finished_at is not None
    assert job.report["summary"] == {"created": 2, "merged": 0, "rejected": 0}
    assert Patient.objects.count() == 2
    assert AuditEvent.objects.filter(user=admin_user, details__import=job.pk).count() == 2


def test_a_rejected_row_fails_the_import_with_its_report(admin_user):
    job = queued(admin_user, csv_of(ROW_A, f"王芳,女,1990-11-02,,{bad_checksum(ID_B)},,,"))

    patient_import_run(import_id=job.pk)

    job.refresh_from_db()
    assert job.status == PatientImport.Status.FAILED
    assert job.report["rows"][1]["errors"].keys() == {"id_number"}
    assert not Patient.objects.exists()


def test_an_import_left_running_is_taken_over_only_by_a_redelivered_message(admin_user):
    job = queued(admin_user, csv_of(ROW_A))
    PatientImport.objects.filter(pk=job.pk).update(status=PatientImport.Status.RUNNING)

    patient_import_run(import_id=job.pk)
    assert not Patient.objects.exists()

    patient_import_run(import_id=job.pk, redelivered=True)
    job.refresh_from_db()
    assert job.status == PatientImport.Status.SUCCEEDED
    assert Patient.objects.count() == 1


def test_a_finished_import_is_not_run_again_even_when_redelivered(admin_user):
    job = queued(admin_user, csv_of(ROW_A))
    PatientImport.objects.filter(pk=job.pk).update(
        status=PatientImport.Status.FAILED, finished_at=timezone.now()
    )

    patient_import_run(import_id=job.pk, redelivered=True)

    assert not Patient.objects.exists()


def test_an_import_by_a_since_demoted_administrator_writes_nothing(admin_user):
    job = queued(admin_user, csv_of(ROW_A))
    admin_user.role = "doctor"
    admin_user.save(update_fields=["role"])

    patient_import_run(import_id=job.pk)

    job.refresh_from_db()
    assert job.status == PatientImport.Status.FAILED
    assert job.report["error"]
    assert not Patient.objects.exists()


def test_an_unexpected_error_marks_the_import_failed(admin_user):
    job = queued(admin_user, csv_of(ROW_A))

    with mock.patch("clinic.imports.patient_insert", autospec=True, side_effect=RuntimeError):
        with pytest.raises(RuntimeError):
            patient_import_run(import_id=job.pk)

    job.refresh_from_db()
    assert job.status == PatientImport.Status.FAILED
    assert job.report["error"]
    assert not Patient.objects.exists()


# --- The web page -----------------------------------------------------------------------------


def upload(content: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("patients.csv", content.encode("utf-8-sig"), "text/csv")


def test_the_import_page_refuses_a_doctor(client_as, owner):
    client = client_as(owner)

    assert client.get(reverse("clinic:patient_import")).status_code == 403
    response = client.post(reverse("clinic:patient_import"), {"file": upload(csv_of(ROW_A))})
    assert response.status_code == 403
    assert not PatientImport.objects.exists()


def test_the_import_report_page_refuses_a_doctor(client_as, owner, admin_user):
    job = queued(admin_user, csv_of(ROW_A))

    response = client_as(owner).get(reverse("clinic:patient_import_detail", args=[job.pk]))

    assert response.status_code == 403


def test_an_administrator_uploads_a_file_and_reads_its_report(
    client_as, admin_user, django_capture_on_commit_callbacks
):
    client = client_as(admin_user)
    with mock.patch.object(tasks.patient_import_run, "delay", autospec=True) as delay:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("clinic:patient_import"), {"file": upload(csv_of(ROW_A, ROW_B))}
            )
    job = PatientImport.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("clinic:patient_import_detail", args=[job.pk])
    delay.assert_called_once_with(import_id=job.pk, language=mock.ANY)

    patient_import_run(import_id=job.pk)  # what the worker does with the message

    page = client.get(response.url).content.decode()
    for patient in Patient.objects.all():
        assert patient.mrn in page


# --- manage.py import_patients ----------------------------------------------------------------


@pytest.fixture
def csv_file(tmp_path):
    def write(content: str):
        path = tmp_path / "patients.csv"
        path.write_text(content, encoding="utf-8-sig")
        return str(path)

    return write


def run_command(*args) -> str:
    out = StringIO()
    call_command("import_patients", *args, stdout=out)
    return out.getvalue()


def test_the_command_imports_a_file_and_prints_each_row(csv_file):
    stored = stored_zhang(address="")

    output = run_command(csv_file(csv_of(ROW_A, ROW_B)))

    wang = Patient.objects.get(id_number_index=blind_index("id_number", ID_B))
    assert f"row 2: merged {stored.mrn}" in output
    assert f"row 3: created {wang.mrn}" in output
    assert "created 1, merged 1, rejected 0" in output
    events = AuditEvent.objects.filter(action=AuditAction.IMPORT)
    assert [(e.user_id, e.username) for e in events] == [(None, "manage.py import_patients")] * 2


def test_the_command_fails_and_changes_nothing_when_a_row_is_rejected(csv_file):
    out = StringIO()
    path = csv_file(csv_of(ROW_A, f"王芳,女,1990-11-02,,{bad_checksum(ID_B)},,,"))

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_patients", path, stdout=out)

    assert "row 3: rejected - id_number:" in out.getvalue()
    assert not Patient.objects.exists()
    assert not AuditEvent.objects.exists()


def test_the_command_fails_on_a_file_level_error(csv_file):
    with translation.override("en"), pytest.raises(CommandError, match="missing: sex"):
        run_command(csv_file(csv_of("张伟,1985-03-12", header="name,birth_date")))


def test_the_command_dry_run_writes_nothing(csv_file):
    output = run_command(csv_file(csv_of(ROW_A)), "--dry-run")

    assert "row 2: created (not written)" in output
    assert "dry run" in output
    assert not Patient.objects.exists()


def test_the_command_records_the_import_as_the_named_user(csv_file, admin_user):
    run_command(csv_file(csv_of(ROW_A)), "--as", admin_user.username)

    assert AuditEvent.objects.get().user == admin_user


def test_the_command_refuses_an_unknown_user(csv_file):
    with pytest.raises(CommandError, match="nobody"):
        run_command(csv_file(csv_of(ROW_A)), "--as", "nobody")
    assert not Patient.objects.exists()
