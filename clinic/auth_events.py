"""Authentication attempts go into the audit trail."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .audit import Actor, audit_record
from .models import AuditAction


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    if request is not None:
        audit_record(actor=Actor.from_request(request, user=user), action=AuditAction.LOGIN)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if request is not None and user is not None:
        audit_record(actor=Actor.from_request(request, user=user), action=AuditAction.LOGOUT)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    actor = Actor.anonymous(request) if request is not None else Actor(user=None)
    audit_record(
        actor=actor,
        action=AuditAction.LOGIN_FAILED,
        username=str(credentials.get("username", ""))[:150],
    )
