"""Pages of the two-step sign-in (clinic.mfa): the code step after the password, setting up an
authenticator, the recovery codes shown once, and the "Two-step sign-in" page.

None of them is cached (they hold a secret or codes); every POST is CSRF-protected."""

from base64 import b32encode
from urllib.parse import urlencode

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import mfa
from .audit import Actor

# Fewer than this many recovery codes left: the user is told to make new ones.
RECOVERY_CODES_LOW = 3


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autofocus": True,
                "spellcheck": "false",
                "autocapitalize": "off",
            }
        ),
    )


def _next_url(request) -> str:
    """Where to go after the code step: the ``next`` given, if it stays on this site."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("home")


def _with_next(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def _require_mfa_role(request) -> None:
    if not mfa.mfa_role(request.user):
        raise Http404


_REFUSALS = {
    mfa.Outcome.WRONG_CODE: (gettext_lazy("That code is not right. Try again."), 200),
    mfa.Outcome.THROTTLED: (
        gettext_lazy("Too many wrong codes. Wait a few minutes, then try again."),
        429,
    ),
}


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    """The code step: a code from the authenticator app, or one recovery code."""
    _require_mfa_role(request)
    next_url = _next_url(request)
    if request.user.is_verified():
        return redirect(next_url)
    if mfa.mfa_device_get(user=request.user) is None:
        return redirect(_with_next("mfa:enrol", next_url))
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        result = mfa.mfa_verify(
            actor=Actor.from_request(request), user=request.user, token=form.cleaned_data["code"]
        )
        if result.outcome is mfa.Outcome.VERIFIED:
            mfa.mfa_session_verified(request, result.device)
            left = result.recovery_codes_left
            if left is not None and left <= RECOVERY_CODES_LOW:
                messages.warning(
                    request,
                    ngettext(
                        "You have %(left)d recovery code left. Make new ones on the "
                        "Two-step sign-in page.",
                        "You have %(left)d recovery codes left. Make new ones on the "
                        "Two-step sign-in page.",
                        left,
                    )
                    % {"left": left},
                )
            return redirect(next_url)
        if result.outcome is mfa.Outcome.NO_DEVICE:
            return redirect(_with_next("mfa:enrol", next_url))
        if result.outcome is mfa.Outcome.LOCKED_OUT:
            # The session that typed the wrong codes ends: the password is asked again, and
            # the code step stays shut for this account at this address until the cool-off.
            logout(request)
            return render(request, "registration/locked_out.html", status=403)
        message, status = _REFUSALS[result.outcome]
        form.add_error("code", message)
    context = {"form": form, "next": next_url, "issuer": settings.OTP_TOTP_ISSUER}
    return render(request, "clinic/mfa/verify.html", context, status=status)


def _qr_svg(device) -> str:
    return segno.make(device.config_url, error="m").svg_inline(scale=5, border=2)


def _secret_text(device) -> str:
    """The secret as authenticator apps take it when typed in: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def enrol(request):
    """Set up an authenticator: scan the QR code (or type the secret), confirm with a code, then
    see the recovery codes once. Only while the user has no authenticator: replacing one needs an
    administrator's reset, so a stolen password cannot swap in the thief's phone."""
    _require_mfa_role(request)
    next_url = _next_url(request)
    if mfa.mfa_device_get(user=request.user) is not None:
        if request.user.is_verified():
            return redirect("mfa:manage")
        return redirect(_with_next("mfa:verify", next_url))
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        result = mfa.mfa_device_confirm(
            actor=Actor.from_request(request), user=request.user, token=form.cleaned_data["code"]
        )
        if isinstance(result, mfa.Enrolment):
            mfa.mfa_session_verified(request, result.device)
            return _recovery_codes_page(request, result.recovery_codes, next_url, first=True)
        if result.outcome is mfa.Outcome.NO_DEVICE:
            return redirect(_with_next("mfa:verify", next_url))
        message, status = _REFUSALS[result.outcome]
        form.add_error("code", message)
    device = mfa.mfa_device_start(user=request.user)
    context = {
        "form": form,
        "next": next_url,
        "qr_svg": _qr_svg(device),
        "secret": _secret_text(device),
        "issuer": settings.OTP_TOTP_ISSUER,
    }
    return render(request, "clinic/mfa/enrol.html", context, status=status)


def _recovery_codes_page(request, codes: list[str], next_url: str, *, first: bool):
    return render(
        request,
        "clinic/mfa/recovery_codes.html",
        {"codes": codes, "next": next_url, "first": first},
    )


@never_cache
@login_required
def manage(request):
    """The "Two-step sign-in" page: the authenticator in use, recovery codes left."""
    _require_mfa_role(request)
    device = mfa.mfa_device_get(user=request.user)
    context = {
        "device": device,
        "verified": request.user.is_verified(),
        "recovery_codes_left": mfa.recovery_codes_left(user=request.user) if device else 0,
        "required": settings.MFA_REQUIRED,
    }
    return render(request, "clinic/mfa/manage.html", context)


@never_cache
@login_required
@require_POST
def recovery_codes_regenerate(request):
    """New recovery codes (the old ones stop working), from a session that passed the code
    step."""
    _require_mfa_role(request)
    if not request.user.is_verified():
        return redirect(_with_next("mfa:verify", reverse("mfa:manage")))
    codes = mfa.mfa_recovery_codes_generate(actor=Actor.from_request(request), user=request.user)
    return _recovery_codes_page(request, codes, reverse("mfa:manage"), first=False)
