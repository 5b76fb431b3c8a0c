"""Direct identifiers encrypted at rest, and found again by exact match through a blind index.

- ``EncryptedTextField`` stores ``phi1:`` + a Fernet token (AES-128-CBC + HMAC-SHA256, a fresh
  IV per value) made with the first of ``PHI_ENCRYPTION_KEYS``; every key in the list decrypts,
  so keys rotate without downtime (add a new first key, run ``manage.py rotate_phi_keys``, then
  drop the old one). A value without the prefix is legacy plaintext and reads as is, so the
  migration that encrypts existing rows can read them.
- ``blind_index(kind, value)`` is a keyed HMAC-SHA256 of the normalised value
  (``PHI_BLIND_INDEX_KEY``): equal values give equal digests, so ``name_index=...`` finds a
  patient by the exact name, phone or ID-card number without decrypting every row, and the
  digest alone reveals nothing without the key.

Searching inside an encrypted value (contains, starts with, ordering) is not possible; lookups
other than ``isnull`` on these fields raise at once instead of silently matching nothing.
"""

import base64
import hashlib
import hmac
import unicodedata
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.utils import NotSupportedError

PREFIX = "phi1:"


def _derived(label: bytes) -> bytes:
    """A key derived from SECRET_KEY: the embedded default (check --deploy asks for real ones)."""
    return hashlib.sha256(b"aimass-phi:" + label + settings.SECRET_KEY.encode()).digest()


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "PHI_ENCRYPTION_KEYS must be Fernet keys (32 bytes, url-safe base64), comma-separated"
        ) from exc


def encryption_keys() -> tuple[str, ...]:
    keys = tuple(settings.PHI_ENCRYPTION_KEYS)
    if keys:
        return keys
    return (base64.urlsafe_b64encode(_derived(b"encryption")).decode(),)


def index_key() -> bytes:
    key = settings.PHI_BLIND_INDEX_KEY
    return key.encode() if key else _derived(b"blind-index")


def encrypt(value: str) -> str:
    return PREFIX + _fernet(encryption_keys()).encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # written before encryption was turned on
    try:
        return _fernet(encryption_keys()).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored identifier cannot be decrypted with PHI_ENCRYPTION_KEYS: the key that "
            "encrypted it is missing from the list"
        ) from exc


def reencrypt(stored: str) -> str:
    """``stored`` under the current (first) key; plaintext gets encrypted."""
    if not stored:
        return stored
    if not stored.startswith(PREFIX):
        return encrypt(stored)
    token = _fernet(encryption_keys()).rotate(stored[len(PREFIX) :].encode())
    return PREFIX + token.decode()


def normalise(kind: str, value: str) -> str:
    value = unicodedata.normalize("NFKC", value or "").strip()
    if kind == "name":
        return " ".join(value.split()).casefold()
    if kind == "phone":
        digits = "".join(c for c in value if c.isdigit())
        return digits[-11:] if len(digits) > 11 and digits.startswith("86") else digits
    if kind == "id_number":
        return value.replace(" ", "").upper()
    raise ValueError(f"no blind index for {kind!r}")


def blind_index(kind: str, value: str) -> str:
    """The keyed digest of ``value`` for exact-match search; empty for an empty value."""
    value = normalise(kind, value)
    if not value:
        return ""
    message = f"{kind}:{value}".encode()
    return hmac.new(index_key(), message, hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """Text kept encrypted in the database and plain in Python (see the module docstring)."""

    description = "Text encrypted at rest"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.max_length is not None:  # checked on the plaintext; the ciphertext is longer
            self.validators.append(MaxLengthValidator(self.max_length))

    def formfield(self, **kwargs):
        # A one-line input as the CharField it replaces, not TextField's textarea.
        return models.Field.formfield(self, **{"max_length": self.max_length, **kwargs})

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "" or str(value).startswith(PREFIX):
            return value
        return encrypt(str(value))

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            raise NotSupportedError(
                f"{self.model.__name__}.{self.name} is encrypted: search it through its blind "
                f"index (exact match), not with __{lookup_name}"
            )
        return super().get_lookup(lookup_name)


def deploy_check(app_configs=None, **kwargs):
    """``check --deploy``: real keys, not the ones derived from SECRET_KEY."""
    from django.core.checks import Warning

    problems = []
    if not settings.PHI_ENCRYPTION_KEYS:
        problems.append(
            Warning(
                "PHI_ENCRYPTION_KEYS is not set: patients' identifiers are encrypted with a key "
                "derived from DJANGO_SECRET_KEY.",
                hint="Set PHI_ENCRYPTION_KEYS (or PHI_ENCRYPTION_KEYS_FILE) to a Fernet key: "
                "python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="clinic.W001",
            )
        )
    else:
        _fernet(encryption_keys())  # a malformed key fails loudly here
    if not settings.PHI_BLIND_INDEX_KEY:
        problems.append(
            Warning(
                "PHI_BLIND_INDEX_KEY is not set: the search index of identifiers is keyed with "
                "a key derived from DJANGO_SECRET_KEY.",
                hint="Set PHI_BLIND_INDEX_KEY (or PHI_BLIND_INDEX_KEY_FILE) to a long random "
                "secret, different from the encryption keys.",
                id="clinic.W002",
            )
        )
    return problems
