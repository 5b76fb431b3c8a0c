import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from config.errors import error_body

from . import mfa


class SessionInactivityMiddleware:
    """Log a session user out after SESSION_IDLE_TIMEOUT seconds without a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            last = request.session.get("last_activity")
            if last and now - last > settings.SESSION_IDLE_TIMEOUT:
                logout(request)
                messages.info(request, _("You were logged out after a period of inactivity."))
            else:
                request.session["last_activity"] = now
        return self.get_response(request)


class TwoStepSignInMiddleware:
    """Until a staff session has passed the code step (clinic.mfa), it reaches only that step,
    the authenticator set-up, logging out, the language switch, static files and the health
    checks. Any other page answers a GET with a redirect to the code step (or to the set-up when
    the user has no authenticator yet), carrying ``?next=``; anything else, and every API or
    DICOMweb call made with that session, is refused with 403.

    Requests authenticated by an API token or HTTP Basic carry no session user here and pass:
    DRF checks their password or token itself (README, "Two-step sign-in")."""

    API_PREFIXES = ("/api/", "/dicomweb/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.mfa_pending = hasattr(request, "session") and mfa.mfa_session_pending(request)
        if not request.mfa_pending or self._open(request.path_info):
            return self.get_response(request)
        if self._wants_json(request):
            return JsonResponse(error_body("mfa_required"), status=403)
        target = "mfa:verify" if mfa.mfa_device_get(user=request.user) else "mfa:enrol"
        if request.method in ("GET", "HEAD"):
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse(target)}?{query}")
        return render(request, "clinic/mfa/required.html", {"target": target}, status=403)

    def _open(self, path: str) -> bool:
        static = "/" + settings.STATIC_URL.lstrip("/")
        if path.startswith(static):
            return True
        names = ("mfa:verify", "mfa:enrol", "logout", "set_language", "healthz", "readyz")
        return path in {reverse(name) for name in names}

    def _wants_json(self, request) -> bool:
        if request.path_info.startswith(self.API_PREFIXES):
            return True
        accept = request.headers.get("Accept", "")
        content_type = request.headers.get("Content-Type", "")
        return ("json" in accept and "text/html" not in accept) or "json" in content_type
