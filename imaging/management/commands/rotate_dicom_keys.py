"""``manage.py rotate_dicom_keys``: rewrite every stored DICOM file under the first of
DICOM_ENCRYPTION_KEYS, or, with ``--decrypt``, back to plain DICOM.

* Switching encryption on: set DICOM_ENCRYPTION_KEYS, restart, run this command; files stored
  before were readable all along and are now encrypted.
* Rotation: put the new key first (keep the old one after it), restart, run this command, then
  drop the old key.
* Switching encryption off: run with ``--decrypt`` while the keys are still set, then unset
  them.

Each file is decrypted (which checks every segment's tag), its SHA-256 compared with the one
recorded at ingest, then written to a temporary file and renamed over the old one: an
interrupted run leaves every file whole, and running it again carries on. Files already in the
wanted form are left alone."""

import hashlib
import io

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction
from imaging.encryption import MAGIC, DecryptionError, header_key_id, is_encrypted
from imaging.models import Instance
from imaging.storage import atomic_write, dicom_storage


class Command(BaseCommand):
    help = "Encrypt (or re-encrypt, or decrypt) the stored DICOM files with the current key."

    def add_arguments(self, parser):
        parser.add_argument(
            "--decrypt", action="store_true", help="write the files back as plain DICOM"
        )

    def handle(self, *args, decrypt, **options):
        storage = dicom_storage()
        if not getattr(storage, "encrypts", False):
            raise CommandError(
                "DICOM_ENCRYPTION_KEYS is not set: there is no key to encrypt or decrypt with."
            )
        current = storage.keys.current.key_id
        counts = {"rewritten": 0, "unchanged": 0, "missing": 0, "damaged": 0}
        rows = Instance.objects.order_by("pk").values_list("file", "sha256")
        for name, sha256 in rows.iterator(chunk_size=2000):
            path = storage.path(name)
            try:
                with open(path, "rb") as raw:
                    head = raw.read(len(MAGIC) + 8)
            except FileNotFoundError:
                counts["missing"] += 1
                self.stderr.write(f"missing: {name}")
                continue
            encrypted = is_encrypted(head)
            if (decrypt and not encrypted) or (
                not decrypt and encrypted and header_key_id(head) == current
            ):
                counts["unchanged"] += 1
                continue
            try:
                with storage.open(name, "rb") as stored:
                    plain = stored.read()
            except DecryptionError as exc:
                counts["damaged"] += 1
                self.stderr.write(f"damaged: {name}: {exc}")
                continue
            if hashlib.sha256(plain).hexdigest() != sha256:
                counts["damaged"] += 1
                self.stderr.write(f"damaged: {name}: its SHA-256 differs from the one at ingest")
                continue
            if decrypt:
                atomic_write(path, lambda tmp, plain=plain: tmp.write(plain))
            else:
                storage.write_encrypted(path, io.BytesIO(plain))
            counts["rewritten"] += 1
        with transaction.atomic():
            audit_record(
                actor=Actor.system(None),
                action=AuditAction.UPDATE,
                username="manage.py rotate_dicom_keys",
                details={"event": "dicom_decrypted" if decrypt else "dicom_keys_rotated", **counts},
            )
        self.stdout.write(", ".join(f"{key} {value}" for key, value in counts.items()))
        if counts["damaged"] or counts["missing"]:
            raise CommandError("Some files are missing or damaged; they were left as they are.")

