"""The audit trail is a hash chain: each event links to the one before, ``audit_verify`` finds
any row altered, inserted, deleted or moved behind the application's back (raw SQL; on
PostgreSQL with the append-only trigger disabled inside the test's transaction), concurrent
writers never fork it, and admins export it as CSV for an inspector."""

import csv
import hashlib
import io
import json
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.urls import reverse

from clinic.audit import Actor, audit_chain_verify, audit_record
from clinic.audit_chain import (
    CHAIN_FIELDS,
    GENESIS_HASH,
    canonical_bytes,
    chain_check,
    chain_key,
    link_hash,
)
from clinic.models import AuditAction, AuditChainHead, AuditEvent

pytestmark = pytest.mark.django_db

TRIGGER = "clinic_auditevent_append_only"


def record(user, n: int = 1, **kwargs) -> list[AuditEvent]:
    actor = Actor(user=user, ip="10.0.0.5", user_agent="pytest")
    return [
        audit_record(actor=actor, action=AuditAction.VIEW, details={"i": i}, **kwargs)
        for i in range(n)
    ]


def rewrite(sql: str, params=()) -> None:
    """Raw SQL on the audit table, as someone with database access would run it; on
    PostgreSQL the append-only trigger is disabled first (and back on afterwards)."""
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgresql:
            # ALTER TABLE refuses while the test's inserts have deferred FK checks pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE clinic_auditevent DISABLE TRIGGER {TRIGGER}")
        cursor.execute(sql, params)
        if postgresql:
            cursor.execute(f"ALTER TABLE clinic_auditevent ENABLE TRIGGER {TRIGGER}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def verify_fails() -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command("audit_verify", chunk_size=2)
    return str(excinfo.value)


def chain_values() -> list[tuple[int, str, str]]:
    return list(AuditEvent.objects.order_by("seq").values_list("seq", "prev_hash", "hash"))


@pytest.fixture
def chain(owner, patient):
    """Six events (a patient view, then five more) by Dr Alice."""
    return record(owner, 1, obj=patient) + record(owner, 5)


# --- the chain ----------------------------------------------------------------------------------


def test_each_event_links_to_the_one_before(chain):
    rows = chain_values()
    assert [seq for seq, _, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0][1] == GENESIS_HASH
    for (_, _, before), (_, prev_hash, _) in zip(rows, rows[1:], strict=False):
        assert prev_hash == before
    assert len({digest for _, _, digest in rows}) == 6
    head = AuditChainHead.objects.get()
    assert (head.seq, head.hash) == rows[-1][::2]


def test_the_hash_is_an_hmac_of_the_rows_canonical_form(chain):
    event = AuditEvent.objects.get(seq=2)
    fields = AuditEvent.objects.filter(pk=event.pk).values().get()
    assert event.hash == link_hash(chain_key(), fields, seq=2, prev_hash=event.prev_hash)
    # A bare SHA-256 of the same bytes (what a forger without the key would compute) differs.
    bare = hashlib.sha256(canonical_bytes(fields, seq=2, prev_hash=event.prev_hash)).hexdigest()
    assert event.hash != bare


def test_the_chain_key_comes_from_the_setting_and_a_different_key_fails_verification(
    owner, settings
):
    settings.AUDIT_CHAIN_KEY = "inspector-key-1"
    record(owner, 3)
    call_command("audit_verify", stdout=io.StringIO())
    settings.AUDIT_CHAIN_KEY = "another-key"
    message = verify_fails()
    assert "seq 1" in message


def test_the_chain_key_is_read_from_the_environment_or_derived_from_the_secret_key(
    monkeypatch, settings, tmp_path
):
    settings.AUDIT_CHAIN_KEY = None
    monkeypatch.delenv("AUDIT_CHAIN_KEY", raising=False)
    monkeypatch.delenv("AUDIT_CHAIN_KEY_FILE", raising=False)
    derived = chain_key()
    assert derived not in (b"", settings.SECRET_KEY.encode())
    settings.SECRET_KEY = "another secret key"
    assert chain_key() != derived
    key_file = tmp_path / "audit-key"
    key_file.write_text("from-a-file\n")
    monkeypatch.setenv("AUDIT_CHAIN_KEY_FILE", str(key_file))
    assert chain_key() == b"from-a-file"
    monkeypatch.setenv("AUDIT_CHAIN_KEY", "from-the-environment")
    assert chain_key() == b"from-the-environment"


def test_details_survive_the_database_round_trip_unchanged_in_the_hash(owner):
    audit_record(
        actor=Actor(user=owner, ip="2001:DB8:0:0:0:0:0:1", user_agent="ua ✓"),
        action=AuditAction.UPDATE,
        reason="复核 — review",
        flagged=True,
        details={"float": 2.0, "big": 1e20, "small": 0.1, "tuple": (1, "二"), "nested": {"b": [1]}},
    )
    assert audit_chain_verify().ok


# --- audit_verify --------------------------------------------------------------------------------


def test_verify_passes_on_an_untouched_chain_with_a_one_line_summary(chain):
    out = io.StringIO()
    call_command("audit_verify", chunk_size=4, stdout=out)
    head = AuditChainHead.objects.get()
    assert out.getvalue().strip() == f"audit chain OK: 6 events, seq 1..6, head {head.hash}"
    assert "\n" not in out.getvalue().strip()


def test_verify_passes_on_an_empty_trail(db):
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue().startswith("audit chain OK")


def test_verify_reports_an_altered_row(chain):
    rewrite("UPDATE clinic_auditevent SET reason = %s WHERE seq = 3", ["nothing to see"])
    message = verify_fails()
    assert "seq 3 (altered)" in message
    assert "2 events before it verified" in message


def test_verify_reports_a_row_altered_and_rehashed_without_the_key(chain):
    row = AuditEvent.objects.filter(seq=4).values().get()
    row["username"] = "mallory"
    forged = hashlib.sha256(canonical_bytes(row, seq=4, prev_hash=row["prev_hash"])).hexdigest()
    rewrite(
        "UPDATE clinic_auditevent SET username = %s, hash = %s WHERE seq = 4", ["mallory", forged]
    )
    assert "seq 4 (altered)" in verify_fails()


def test_verify_reports_a_deleted_row(chain):
    rewrite("DELETE FROM clinic_auditevent WHERE seq = 2")
    message = verify_fails()
    assert "seq 2 (deleted)" in message


def test_verify_reports_deleted_rows_at_the_end(chain):
    rewrite("DELETE FROM clinic_auditevent WHERE seq >= 5")
    message = verify_fails()
    assert "seq 5 (deleted)" in message
    assert "5..6" in message


def _forge_after(seq: int, prev_hash: str) -> None:
    row = AuditEvent.objects.filter(seq=1).values().get()
    forged = hashlib.sha256(b"forged").hexdigest()
    rewrite(
        "INSERT INTO clinic_auditevent (at, username, role, action, object_type, object_id, "
        "user_agent, reason, flagged, details, seq, prev_hash, hash) "
        "VALUES (%s, 'mallory', 'admin', 'view', '', '', '', '', %s, '{}', %s, %s, %s)",
        [row["at"], False, seq, prev_hash, forged],
    )


def test_verify_reports_a_forged_row_appended_at_the_end(chain):
    _forge_after(7, chain_values()[-1][2])
    message = verify_fails()
    assert "seq 7 (inserted)" in message


def test_verify_reports_a_forged_row_inserted_in_the_middle(chain):
    # Make room at seq 3 (in two steps: the unique seq is checked row by row), then forge it.
    rewrite("UPDATE clinic_auditevent SET seq = seq + 1000 WHERE seq >= 3")
    rewrite("UPDATE clinic_auditevent SET seq = seq - 999 WHERE seq >= 1000")
    _forge_after(3, chain_values()[1][2])
    message = verify_fails()
    assert "seq 3 (inserted)" in message


def test_verify_reports_two_rows_swapped(chain):
    first, second = AuditEvent.objects.filter(seq__in=[3, 4]).order_by("seq")
    rewrite("UPDATE clinic_auditevent SET seq = 1000 WHERE id = %s", [first.pk])
    rewrite("UPDATE clinic_auditevent SET seq = 3 WHERE id = %s", [second.pk])
    rewrite("UPDATE clinic_auditevent SET seq = 4 WHERE id = %s", [first.pk])
    assert "seq 3 (reordered)" in verify_fails()


def test_verify_reports_two_rows_contents_swapped_in_place(chain):
    # Everything but id and seq changes places: each row is intact, but in the other's place.
    columns = [*CHAIN_FIELDS, "prev_hash", "hash"]
    third, fourth = (AuditEvent.objects.filter(seq=seq).values(*columns).get() for seq in (3, 4))
    for seq, row in ((3, fourth), (4, third)):
        row["details"] = json.dumps(row["details"])
        assignments = ", ".join(f"{name} = %s" for name in row)
        rewrite(f"UPDATE clinic_auditevent SET {assignments} WHERE seq = %s", [*row.values(), seq])
    assert "seq 3 (reordered)" in verify_fails()


def test_verify_reads_the_chain_in_chunks(chain, django_assert_num_queries):
    # 6 rows, 2 per query: the head, 3 full chunks and 1 empty one.
    with django_assert_num_queries(5):
        report = audit_chain_verify(chunk_size=2)
    assert (report.ok, report.count, report.last_seq) == (True, 6, 6)


def test_the_checker_reports_a_missing_head_and_a_chain_head_mismatch(chain):
    rows = list(
        AuditEvent.objects.order_by("seq").values("id", "seq", "prev_hash", "hash", *CHAIN_FIELDS)
    )
    key = chain_key()
    assert chain_check(rows, key=key, head_seq=None, head_hash=None).problem.kind == (
        "head mismatch"
    )
    bad_head = chain_check(rows, key=key, head_seq=6, head_hash="f" * 64)
    assert (bad_head.problem.seq, bad_head.problem.kind) == (6, "head mismatch")


# --- concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_leave_one_unbroken_chain(cardiology):
    from tests.factories import UserFactory

    users = [UserFactory(username=f"writer{i}", department=cardiology) for i in range(6)]
    per_thread = 8
    start = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def write(user) -> None:
        try:
            start.wait(timeout=30)
            for i in range(per_thread):
                with transaction.atomic():
                    audit_record(
                        actor=Actor(user=user, ip="10.0.0.9"),
                        action=AuditAction.VIEW,
                        details={"i": i},
                    )
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    total = len(users) * per_thread
    assert AuditEvent.objects.count() == total
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, total + 1))
    report = audit_chain_verify(chunk_size=7)
    assert report.ok, report.problem
    assert (report.count, AuditChainHead.objects.get().seq) == (total, total)


# --- CSV export ----------------------------------------------------------------------------------


def test_an_admin_downloads_the_filtered_trail_as_csv_and_the_export_is_audited(
    client_as, admin_user, owner, patient, chain
):
    response = client_as(admin_user).get(
        reverse("clinic:audit_export"), {"user": "alice", "patient": patient.mrn}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-trail-')
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    # Only the one event that names the patient, with its chain columns.
    first = AuditEvent.objects.get(seq=1)
    assert [(r["seq"], r["username"], r["patient_mrn"]) for r in rows] == [
        ("1", "alice", patient.mrn)
    ]
    assert (rows[0]["prev_hash"], rows[0]["hash"]) == (GENESIS_HASH, first.hash)
    export = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert export.username == "root"
    assert export.details["filters"] == {"user": "alice", "patient": patient.mrn}
    assert audit_chain_verify().ok


def test_the_csv_lists_events_in_chain_order_and_defuses_formulas(
    client_as, admin_user, owner, chain
):
    audit_record(
        actor=Actor(user=None, ip="10.0.0.7"),
        action=AuditAction.LOGIN_FAILED,
        username='=HYPERLINK("http://evil")',
    )
    body = b"".join(client_as(admin_user).get(reverse("clinic:audit_export")).streaming_content)
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    seqs = [int(r["seq"]) for r in rows]
    assert seqs == sorted(seqs) and seqs[:6] == [1, 2, 3, 4, 5, 6]
    for before, after in zip(rows, rows[1:], strict=False):
        assert after["prev_hash"] == before["hash"]
    failed = next(r for r in rows if r["action"] == "login_failed")
    assert failed["username"] == '\'=HYPERLINK("http://evil")'


def test_the_search_page_links_to_the_export_with_its_filters(client_as, admin_user, chain):
    page = client_as(admin_user).get(reverse("clinic:audit_search"), {"user": "alice"})
    assert f"{reverse('clinic:audit_export')}?user=alice".encode() in page.content


def test_an_export_with_a_bad_filter_is_refused_and_not_recorded(client_as, admin_user, chain):
    response = client_as(admin_user).get(reverse("clinic:audit_export"), {"date_from": "soon"})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


@pytest.mark.parametrize("persona", ["owner", "colleague", "receptionist", "scheduler"])
def test_everyone_but_an_admin_is_refused_the_export(client_as, request, persona, chain):
    user = request.getfixturevalue(persona)
    response = client_as(user).get(reverse("clinic:audit_export"))
    assert response.status_code == 403
    assert b"seq," not in response.content
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_an_anonymous_visitor_is_sent_to_log_in(client, chain):
    response = client.get(reverse("clinic:audit_export"))
    assert response.status_code == 302


# --- migration -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_chains_the_events_that_existed_before_it(owner):
    from django.db.migrations.executor import MigrationExecutor

    before_chain = [("clinic", "0002_audit_append_only")]
    executor = MigrationExecutor(connection)
    executor.migrate(before_chain)
    try:
        executor.loader.build_graph()
        old_event = executor.loader.project_state(before_chain).apps.get_model(
            "clinic", "AuditEvent"
        )
        ids = [
            old_event.objects.create(
                user_id=owner.pk, username="alice", action="view", details={"n": n, "x": 1.5}
            ).pk
            for n in range(5)
        ]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert list(AuditEvent.objects.order_by("seq").values_list("id", flat=True)) == ids
    assert AuditChainHead.objects.get().seq == 5
    assert audit_chain_verify(chunk_size=2).ok
    record(owner, 1)
    report = audit_chain_verify()
    assert (report.ok, report.count) == (True, 6)
    if connection.vendor == "postgresql":  # the back-fill switched the trigger back on
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM clinic_auditevent")
