"""Chain the audit events that exist before the chain did: in order of id, seq 1, 2, 3, …, with
the key in force when this migration runs (clinic.audit_chain.chain_key). The chain then
attests that those rows have not changed since the migration, not since they were written.

On PostgreSQL the append-only trigger (0002) refuses UPDATE, so it is disabled for the
back-fill and enabled again in the same transaction; ALTER TABLE holds an exclusive lock on
the table meanwhile, so no one else can write (or rewrite) an event in between."""

from django.db import migrations

from clinic.audit_chain import CHAIN_FIELDS, GENESIS_HASH, chain_key, link_hash

TRIGGER = "clinic_auditevent_append_only"
CHUNK = 1000


def forwards(apps, schema_editor):
    AuditEvent = apps.get_model("clinic", "AuditEvent")
    AuditChainHead = apps.get_model("clinic", "AuditChainHead")
    db = schema_editor.connection.alias
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(f"ALTER TABLE clinic_auditevent DISABLE TRIGGER {TRIGGER}")
    key = chain_key()
    seq, prev_hash, last_id = 0, GENESIS_HASH, 0
    while True:
        rows = list(
            AuditEvent.objects.using(db)
            .filter(id__gt=last_id)
            .order_by("id")
            .values("id", *CHAIN_FIELDS)[:CHUNK]
        )
        if not rows:
            break
        linked = []
        for row in rows:
            seq += 1
            digest = link_hash(key, row, seq=seq, prev_hash=prev_hash)
            linked.append(AuditEvent(id=row["id"], seq=seq, prev_hash=prev_hash, hash=digest))
            prev_hash = digest
        AuditEvent.objects.using(db).bulk_update(linked, ["seq", "prev_hash", "hash"])
        last_id = rows[-1]["id"]
    if postgresql:
        schema_editor.execute(f"ALTER TABLE clinic_auditevent ENABLE TRIGGER {TRIGGER}")
    AuditChainHead.objects.using(db).update_or_create(
        id=1, defaults={"seq": seq, "hash": prev_hash}
    )


class Migration(migrations.Migration):
    dependencies = [("clinic", "0003_audit_chain")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
