"""The audit trail's hash chain: canonical form, key and checker.

Every ``AuditEvent`` carries ``seq`` (1, 2, 3, … with no gaps), ``prev_hash`` (the ``hash`` of
the event before it; 64 zeros for the first) and ``hash`` = HMAC-SHA256(key, canonical form).
The canonical form is compact JSON (sorted keys, UTF-8) of the row's recorded fields, ``seq``
and ``prev_hash`` — see ``canonical_bytes``. A keyed HMAC rather than a bare SHA-256, so that
someone who can write to the database but does not hold the key cannot rewrite a row and
recompute the chain after it.

The functions here do not touch the database: ``clinic.audit`` appends, and
``clinic.audit.audit_chain_verify`` feeds rows to ``chain_check`` in chunks.
"""

import functools
import hashlib
import hmac
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

GENESIS_HASH = "0" * 64
CANONICAL_VERSION = 1

# The AuditEvent columns (``.values()`` names) the hash covers, besides seq and prev_hash.
CHAIN_FIELDS = (
    "at",
    "user_id",
    "username",
    "role",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "ip",
    "user_agent",
    "reason",
    "flagged",
    "details",
)

DELETED = "deleted"
INSERTED = "inserted"
ALTERED = "altered"
REORDERED = "reordered"
BROKEN_LINK = "broken link"
HEAD_MISMATCH = "head mismatch"


def chain_key() -> bytes:
    """The HMAC key: ``settings.AUDIT_CHAIN_KEY`` or the environment's ``AUDIT_CHAIN_KEY`` (or
    the file named by ``AUDIT_CHAIN_KEY_FILE``); otherwise derived from ``SECRET_KEY``, so that
    a default installation is keyed too. Changing the key (or, without one, the secret key)
    makes every earlier row fail verification, so production sets its own and keeps it."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.crypto import salted_hmac

    configured = getattr(settings, "AUDIT_CHAIN_KEY", None) or os.environ.get("AUDIT_CHAIN_KEY")
    path = os.environ.get("AUDIT_CHAIN_KEY_FILE")
    if not configured and path:
        try:
            configured = _key_file(path)
        except OSError as exc:
            raise ImproperlyConfigured(f"AUDIT_CHAIN_KEY_FILE={path!r} cannot be read") from exc
    if configured:
        return configured.encode()
    return salted_hmac(
        "clinic.audit_chain", "key", secret=settings.SECRET_KEY, algorithm="sha256"
    ).digest()


@functools.cache
def _key_file(path: str) -> str:
    return Path(path).read_text().strip()


def normalise_details(details: Mapping | None) -> dict:
    """Details as the database will give them back (tuples become lists, keys strings). A NUL
    character, which PostgreSQL cannot store in text or jsonb, becomes U+FFFD on both databases
    (a search typed with one is still audited, not a server error)."""
    return _without_nul(json.loads(json.dumps(details or {}, allow_nan=False)))


def without_nul(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def _without_nul(value):
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, dict):
        return {without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _canonical_json_value(value):
    # Both databases give back 2.0 and 2, or 1e20 and 100000000000000000000, interchangeably
    # (PostgreSQL's jsonb keeps numbers as numeric); an integral float is written as an integer.
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("audit details cannot hold NaN or infinity")
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _canonical_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_json_value(v) for v in value]
    raise TypeError(f"audit details cannot hold {type(value).__name__}")


def canonical_at(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit event times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_details(details) -> str:
    """``details`` as compact, key-sorted JSON (also what the CSV export shows)."""
    return json.dumps(
        _canonical_json_value(details or {}),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def canonical_bytes(fields: Mapping, *, seq: int, prev_hash: str) -> bytes:
    """The bytes an event's hash covers: version, seq, prev_hash and every ``CHAIN_FIELDS``."""
    document = {
        "v": CANONICAL_VERSION,
        "seq": int(seq),
        "prev_hash": prev_hash,
        "at": canonical_at(fields["at"]),
        "user_id": fields["user_id"],
        "username": str(fields["username"]),
        "role": str(fields["role"]),
        "action": str(fields["action"]),
        "object_type": str(fields["object_type"]),
        "object_id": str(fields["object_id"]),
        "patient_id": fields["patient_id"],
        "ip": fields["ip"] or None,
        "user_agent": str(fields["user_agent"]),
        "reason": str(fields["reason"]),
        "flagged": bool(fields["flagged"]),
        "details": _canonical_json_value(fields["details"] or {}),
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def link_hash(key: bytes, fields: Mapping, *, seq: int, prev_hash: str) -> str:
    message = canonical_bytes(fields, seq=seq, prev_hash=prev_hash)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: str
    message: str


@dataclass(frozen=True)
class ChainReport:
    """What ``chain_check`` found: ``problem`` is the first one, or None for a sound chain."""

    count: int
    last_seq: int
    last_hash: str
    problem: ChainProblem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _with_next(rows: Iterable[Mapping]) -> Iterator[tuple[Mapping, Mapping | None]]:
    iterator = iter(rows)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current, following
        current = following


def _signed(key: bytes, row: Mapping, seq: int) -> bool:
    expected = link_hash(key, row, seq=seq, prev_hash=row["prev_hash"])
    return hmac.compare_digest(expected, row["hash"])


@dataclass
class _Cursor:
    """Where the walk is: the seq the next row must have, and the last good row's hash and id."""

    seq: int = 1
    hash: str = GENESIS_HASH
    id: int | None = None


def _row_problem(
    key: bytes, row: Mapping, following: Mapping | None, at: _Cursor, head_seq: int | None
) -> ChainProblem | None:
    seq = row["seq"]
    if seq < at.seq:
        return ChainProblem(seq, INSERTED, f"a second row (id {row['id']}) carries seq {seq}")
    if seq > at.seq:
        missing = str(at.seq) if seq == at.seq + 1 else f"{at.seq}..{seq - 1}"
        return ChainProblem(at.seq, DELETED, f"seq {missing} missing: rows were deleted")
    if not _signed(key, row, seq):
        return _unsigned_row_problem(key, row, following, at, head_seq)
    if _out_of_id_order(row, following, at):
        return ChainProblem(seq, REORDERED, f"row id {row['id']} is out of order at seq {seq}")
    if row["prev_hash"] != at.hash:
        return ChainProblem(
            seq, BROKEN_LINK, f"seq {seq} does not link to seq {seq - 1}: rows were replaced"
        )
    return None


def _out_of_id_order(row: Mapping, following: Mapping | None, at: _Cursor) -> bool:
    # Ids are handed out under the same lock as seq, so they rise with it.
    return (at.id is not None and row["id"] < at.id) or bool(
        following and following["id"] < row["id"]
    )


def _unsigned_row_problem(
    key: bytes, row: Mapping, following: Mapping | None, at: _Cursor, head_seq: int | None
) -> ChainProblem:
    seq = row["seq"]
    if head_seq is not None and seq > head_seq:
        return ChainProblem(
            seq, INSERTED, f"seq {seq} (id {row['id']}) was added after the chain head {head_seq}"
        )
    if any(_signed(key, row, other) for other in (seq - 1, seq + 1) if other >= 1):
        return ChainProblem(seq, REORDERED, f"seq {seq} (id {row['id']}) was moved")
    if following is not None and following["prev_hash"] == at.hash:
        return ChainProblem(
            seq, INSERTED, f"seq {seq} (id {row['id']}) is not part of the chain: a forged row"
        )
    if _out_of_id_order(row, following, at):
        return ChainProblem(seq, REORDERED, f"row id {row['id']} is out of order at seq {seq}")
    return ChainProblem(
        seq, ALTERED, f"seq {seq} (id {row['id']}) no longer matches its hash: it was changed"
    )


def chain_check(
    rows: Iterable[Mapping], *, key: bytes, head_seq: int | None, head_hash: str | None
) -> ChainReport:
    """Walk ``rows`` (``id``, ``seq``, ``prev_hash``, ``hash`` and ``CHAIN_FIELDS``, in seq
    order) and return the first problem: a deleted, inserted, altered or reordered row.

    ``head_seq``/``head_hash`` are the chain head read before the rows (None when there is no
    head row): rows up to it must all be there; rows after it are sound only if signed, as
    events appended while the check runs are."""
    at = _Cursor()
    count = 0
    for row, following in _with_next(rows):
        problem = _row_problem(key, row, following, at, head_seq)
        if problem is not None:
            return ChainReport(count, at.seq - 1, at.hash, problem)
        if row["seq"] == head_seq and row["hash"] != head_hash:
            problem = ChainProblem(
                row["seq"], HEAD_MISMATCH, f"the chain head does not match seq {row['seq']}"
            )
            return ChainReport(count, at.seq - 1, at.hash, problem)
        count += 1
        at = _Cursor(seq=at.seq + 1, hash=row["hash"], id=row["id"])
    last_seq = at.seq - 1
    if head_seq is None and count:
        problem = ChainProblem(last_seq, HEAD_MISMATCH, "the chain head row is missing")
        return ChainReport(count, last_seq, at.hash, problem)
    if head_seq is not None and head_seq > last_seq:
        missing = str(head_seq) if head_seq == at.seq else f"{at.seq}..{head_seq}"
        problem = ChainProblem(
            at.seq, DELETED, f"seq {missing} missing at the end: the head records seq {head_seq}"
        )
        return ChainReport(count, last_seq, at.hash, problem)
    return ChainReport(count, last_seq, at.hash)
