"""Writing the audit trail. Every read or write of patient data calls ``audit_record`` inside
the same transaction as the work it records."""

from dataclasses import dataclass

from django.http import HttpRequest

from .models import AuditAction, AuditEvent, Patient


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
    return AuditEvent.objects.create(
        user=user,
        username=(user.get_username() if user else username)[:150],
        role=getattr(user, "role", "") if user else "",
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        patient=patient,
        ip=actor.ip,
        user_agent=actor.user_agent,
        reason=reason,
        flagged=flagged,
        details=details or {},
    )
