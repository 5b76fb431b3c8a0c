"""Writing the audit trail. Every read or write of patient data calls ``audit_record`` inside
the same transaction as the work it records.

Each event is a link of a hash chain (``clinic.audit_chain``): ``audit_record`` is the one
place that appends to it, ``audit_chain_verify`` walks it (``manage.py audit_verify``)."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from .audit_chain import (
    CHAIN_FIELDS,
    GENESIS_HASH,
    ChainReport,
    chain_check,
    chain_key,
    link_hash,
    normalise_details,
    without_nul,
)
from .models import AuditAction, AuditChainHead, AuditEvent, Patient


@dataclass(frozen=True)
class Actor:
    """Who does something, and from where: the request's user, IP and user agent."""

    user: object
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, user=None) -> "Actor":
        return cls(
            user=user if user is not None else request.user,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )

    @classmethod
    def anonymous(cls, request: HttpRequest) -> "Actor":
        """Before authentication: never touches ``request.user`` (DRF would re-authenticate)."""
        return cls(
            user=None,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )

    @classmethod
    def system(cls, user) -> "Actor":
        """A command-line or worker action done on behalf of ``user``."""
        return cls(user=user, ip=None, user_agent="system")


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy sets it.
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    actor: Actor,
    action: AuditAction | str,
    obj=None,
    patient: Patient | None = None,
    reason: str = "",
    flagged: bool = False,
    details: dict | None = None,
    username: str = "",
) -> AuditEvent:
    user = actor.user if getattr(actor.user, "is_authenticated", False) else None
    if patient is None and isinstance(obj, Patient):
        patient = obj
    fields = {
        "user_id": user.pk if user else None,
        "username": without_nul((user.get_username() if user else username)[:150]),
        "role": getattr(user, "role", "") if user else "",
        "action": str(action),
        "object_type": obj._meta.model_name if obj is not None else "",
        "object_id": str(obj.pk) if obj is not None else "",
        "patient_id": patient.pk if patient is not None else None,
        # As the database gives it back (an IPv6 address is written in its canonical form).
        "ip": AuditEvent._meta.get_field("ip").get_prep_value(actor.ip) or None,
        "user_agent": without_nul(actor.user_agent or ""),
        "reason": without_nul(reason),
        "flagged": flagged,
        "details": normalise_details(details),
    }
    key = chain_key()
    # A savepoint inside the caller's transaction, or a transaction of its own: the head stays
    # locked until the outermost one ends, so events are chained in the order they commit.
    with transaction.atomic():
        head = _chain_head_locked()
        fields["at"] = timezone.now()
        seq = head.seq + 1
        digest = link_hash(key, fields, seq=seq, prev_hash=head.hash)
        event = AuditEvent.objects.create(**fields, seq=seq, prev_hash=head.hash, hash=digest)
        head.seq, head.hash = seq, digest
        head.save(update_fields=["seq", "hash"])
    return event


def _chain_head_locked() -> AuditChainHead:
    """The chain head, locked for this transaction (on SQLite, BEGIN IMMEDIATE already holds
    the database's write lock). Created from the newest event if missing, e.g. after a test
    flushed the tables."""
    heads = AuditChainHead.objects.select_for_update()
    head = heads.filter(pk=1).first()
    if head is None:
        newest = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
        try:
            with transaction.atomic():
                AuditChainHead.objects.create(
                    pk=1,
                    seq=newest["seq"] if newest else 0,
                    hash=newest["hash"] if newest else GENESIS_HASH,
                )
        except IntegrityError:
            pass  # another writer created it first; its row is the head
        head = heads.get(pk=1)
    return head


def _chain_rows(chunk_size: int) -> Iterator[dict]:
    """Every event's chain columns in seq order, ``chunk_size`` rows per query (keyset)."""
    after = 0
    while True:
        chunk = list(
            AuditEvent.objects.filter(seq__gt=after)
            .order_by("seq")
            .values("id", "seq", "prev_hash", "hash", *CHAIN_FIELDS)[:chunk_size]
        )
        yield from chunk
        if len(chunk) < chunk_size:
            return
        after = chunk[-1]["seq"]


def audit_chain_verify(*, chunk_size: int = 2000) -> ChainReport:
    """Check the whole audit chain against the key; the report names the first problem."""
    head = AuditChainHead.objects.filter(pk=1).values("seq", "hash").first()
    return chain_check(
        _chain_rows(chunk_size),
        key=chain_key(),
        head_seq=head["seq"] if head else None,
        head_hash=head["hash"] if head else None,
    )
