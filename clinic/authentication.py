"""How scripts and other programs sign in to the API and DICOMweb, without going around the
two-step sign-in.

* Accounts the two-step sign-in applies to (``password_alone_allowed`` is False: staff in
  MFA_ROLES while MFA_REQUIRED is on, and anyone who has set up an authenticator) cannot use a
  password alone: HTTP Basic answers 401 ``api_token_required``. They get an API token from
  ``POST /api/v1/auth/token/`` with their password *and* a code from their authenticator (or a
  recovery code) and send ``Authorization: Token <key>``, as GitLab and GitHub ask of accounts
  with two-factor authentication.
* Other accounts (receptionists; staff while MFA_REQUIRED is off and no authenticator is set
  up) may still use Basic, or get a token with the password alone.
* A token ends with the sessions (``clinic.models.User._get_session_auth_hash``): a new
  password, a changed role or a disabled account deletes it.

Every attempt goes into the audit trail: wrong passwords through Django's
``user_login_failed`` (clinic.auth_events), refused passwords and issued tokens here, codes in
clinic.mfa.
"""

from django.conf import settings
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token

from .audit import Actor, audit_record
from .mfa import mfa_device_get, mfa_role
from .models import AuditAction, User


def password_alone_allowed(user) -> bool:
    """Whether ``user`` may authenticate with a password and nothing else."""
    if not mfa_role(user):
        return True
    return not settings.MFA_REQUIRED and mfa_device_get(user=user) is None


class ApiTokenRequired(exceptions.AuthenticationFailed):
    catalogue_code = "api_token_required"
    default_detail = _(
        "This account signs in with two steps, so a password alone is not enough here: send "
        "an API token (Authorization: Token …) from POST /api/v1/auth/token/ with your "
        "password and a code from your authenticator app."
    )


class PasswordBasicAuthentication(BasicAuthentication):
    """HTTP Basic, for the accounts that may use a password alone."""

    def authenticate_credentials(self, userid, password, request=None):
        user, auth = super().authenticate_credentials(userid, password, request)
        if not password_alone_allowed(user):
            audit_record(
                actor=actor_of(request, user),
                action=AuditAction.LOGIN_FAILED,
                details={"api": "basic", "reason": "password_alone_refused"},
            )
            raise ApiTokenRequired()
        return user, auth


class AuditedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication; a wrong, revoked or malformed token is audited."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            audit_record(
                actor=Actor.anonymous(request),
                action=AuditAction.LOGIN_FAILED,
                details={"api": "token", "reason": "invalid_token"},
            )
            raise


def actor_of(request, user) -> Actor:
    if request is None:
        return Actor(user=user)
    return Actor.from_request(request, user=user)


@receiver(pre_save, sender=User, dispatch_uid="clinic.authentication.tokens_end_with_sessions")
def _tokens_end_with_sessions(sender, instance: User, raw=False, **kwargs):
    """A new password, a changed role or a disabled account deletes the user's API token, as
    it ends their sessions."""
    if raw or instance.pk is None:
        return
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and not {"password", "role", "is_active"} & set(update_fields):
        return  # a last_login update, say
    before = User.objects.filter(pk=instance.pk).values("password", "role", "is_active").first()
    if before is None:
        return
    if (
        before["password"] != instance.password
        or before["role"] != instance.role
        or (before["is_active"] and not instance.is_active)
    ):
        Token.objects.filter(user_id=instance.pk).delete()


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out user name + address (AXES_LOCKOUT_CALLABLE): the
    API's error body for API and DICOMweb clients, the "too many attempts" page for people."""
    from django.http import JsonResponse
    from django.shortcuts import render

    from config.errors import error_body

    if request.path_info.startswith(("/api/", "/dicomweb/")):
        message = _("Too many failed sign-ins for this user name from this address; try later.")
        return JsonResponse(error_body("throttled", message), status=429)
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, status=429)
