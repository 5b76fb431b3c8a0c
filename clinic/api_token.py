"""``POST /api/v1/auth/token/``: an API token for a script, in exchange for the password and,
for accounts with two-step sign-in, a code (clinic.authentication explains who needs which).
``DELETE`` with the token (or a session) gives it up."""

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from config.api import DomainError

from .audit import audit_record
from .authentication import actor_of, password_alone_allowed
from .mfa import Outcome, mfa_device_get, mfa_verify
from .models import AuditAction


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    code = serializers.CharField(max_length=32, required=False, allow_blank=True)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class ObtainTokenView(APIView):
    """Exchange a password (and, for accounts with two-step sign-in, a code) for an API token.

    A wrong password and an unknown user get the same answer; django-axes locks a username +
    address out after AXES_FAILURE_LIMIT wrong passwords, and wrong codes count towards the
    code lockout of the browser sign-in (clinic.mfa)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    serializer_class = TokenRequestSerializer

    def initialize_request(self, request, *args, **kwargs):
        # DELETE (give one's token up) is signed in like any API call; POST signs in itself.
        self._signed_in = request.method == "DELETE"
        return super().initialize_request(request, *args, **kwargs)

    def get_authenticators(self):
        if getattr(self, "_signed_in", False):
            return [cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
        return []

    def get_permissions(self):
        if getattr(self, "_signed_in", False):
            return [IsAuthenticated()]
        return super().get_permissions()

    def get_authenticate_header(self, request):
        return 'Token realm="api"'  # a wrong password is a 401, as on every other API view

    def delete(self, request):
        """Revoke the caller's own token (a leaked laptop, a retired script): 204 either way."""
        with transaction.atomic():
            deleted, _ = Token.objects.filter(user=request.user).delete()
            if deleted:
                audit_record(
                    actor=actor_of(request._request, request.user),
                    action=AuditAction.LOGOUT,
                    details={"api": "token", "token": "revoked"},
                )
        return Response(status=204)

    def post(self, request):
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        user = authenticate(
            request._request, username=data["username"], password=data["password"]
        )
        if user is None:
            raise exceptions.AuthenticationFailed()
        actor = actor_of(request._request, user)
        if not password_alone_allowed(user):
            if mfa_device_get(user=user) is None:
                raise DomainError(
                    "mfa_required",
                    _("Set up two-step sign-in in the browser first, then ask for a token."),
                )
            if not data.get("code"):
                raise DomainError(
                    "mfa_code_required",
                    _("Enter the code from your authenticator app (or a recovery code)."),
                )
            # Committed before any error is raised: the failure stays in the audit trail and
            # counts towards the lockout (so does axes' record of a wrong password, above).
            with transaction.atomic():
                result = mfa_verify(actor=actor, user=user, token=data["code"])
            if result.outcome in (Outcome.THROTTLED, Outcome.LOCKED_OUT):
                raise DomainError("throttled", _("Too many wrong codes; try again later."))
            if result.outcome is not Outcome.VERIFIED:
                raise DomainError("mfa_code_wrong")
        with transaction.atomic():
            token, created = Token.objects.get_or_create(user=user)
            audit_record(
                actor=actor,
                action=AuditAction.LOGIN,
                details={"api": "token", "token": "issued" if created else "reused"},
            )
        return Response(TokenResponseSerializer({"token": token.key}).data)
