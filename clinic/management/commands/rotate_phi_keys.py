"""``manage.py rotate_phi_keys``: re-encrypt every patient's direct identifiers under the first
of PHI_ENCRYPTION_KEYS and recompute their blind indexes with PHI_BLIND_INDEX_KEY.

Rotation: put the new key first in PHI_ENCRYPTION_KEYS (keep the old one after it), restart,
run this command, then drop the old key. A new PHI_BLIND_INDEX_KEY takes effect for search once
this command has rewritten the indexes."""

from django.core.management.base import BaseCommand
from django.db import transaction

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Patient


class Command(BaseCommand):
    help = "Re-encrypt patients' identifiers with the current key and rebuild the blind indexes."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=500, help="patients per transaction")

    def handle(self, *args, batch, **options):
        ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), batch):
            with transaction.atomic():
                for patient in Patient.objects.filter(pk__in=ids[start : start + batch]):
                    # Reading decrypted with any listed key; writing encrypts with the first.
                    Patient.objects.filter(pk=patient.pk).update(
                        **{field: getattr(patient, field) for field in Patient.ENCRYPTED_FIELDS},
                        **patient.blind_indexes(),
                    )
        with transaction.atomic():
            audit_record(
                actor=Actor.system(None),
                action=AuditAction.UPDATE,
                username="manage.py rotate_phi_keys",
                details={"event": "phi_keys_rotated", "patients": len(ids)},
            )
        self.stdout.write(f"re-encrypted {len(ids)} patients")
