"""Frames answered at the WSGI layer, before Django's middleware and view machinery, when this
process already holds everything the answer depends on.

A viewer fetches a series one frame per request, hundreds of requests a second. The first
request of a series goes through Django as always (``retrieve.FramesView``); it authenticates
the credential, checks the care relation, writes the audit row and loads the series' index rows,
and each of those answers is remembered in this process for a short while (``lookup``,
``http.Cached*Authentication``). The requests after it need nothing else: here they are answered
from those same memories, with the same bytes and headers, for a few tenths of a millisecond
instead of a few milliseconds. Whenever any memory is missing or has expired, or the request is
anything but a plain GET of frames as stored by an API credential, it goes to Django.

The security headers the middleware adds (Content-Security-Policy, X-Frame-Options, ...) are
copied from Django's own answer to a frames request, so the two paths cannot drift apart; and
only a Host that Django has accepted (ALLOWED_HOSTS) for a frames request is answered here.
"""

import base64
import binascii
import re
import uuid

from django.conf import settings

from .http import CachedBasicAuthentication, CachedTokenAuthentication, multipart_chunks
from .lookup import IMMUTABLE, api_retrieve_audited, cached_instance, study_allowed_cached
from .retrieve import FramePlan, plan_frames, read_frames

_UID = r"[0-9.]{1,64}"
FRAMES_PATH = re.compile(
    rf"^/dicomweb/studies/(?P<study_uid>{_UID})/series/(?P<series_uid>{_UID})"
    rf"/instances/(?P<sop_uid>{_UID})/frames/(?P<frames>[0-9,]+)$"
)
# Headers of Django's frames response that every response carries whatever the request.
SECURITY_HEADERS = {
    "content-security-policy",
    "cross-origin-opener-policy",
    "permissions-policy",
    "referrer-policy",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
}


class FramesFastPath:
    """WSGI middleware around Django's application (``config.wsgi``)."""

    MAX_HOSTS = 64

    def __init__(self, app):
        self.app = app
        self.security_headers: list[tuple[str, str]] | None = None
        self.hosts: set[str] = set()  # Host headers Django answered a frames request for

    def __call__(self, environ, start_response):
        match = None
        if environ.get("REQUEST_METHOD") == "GET":
            match = FRAMES_PATH.match(environ.get("PATH_INFO", ""))
        if match is None:
            return self.app(environ, start_response)
        if self.security_headers is not None and environ.get("HTTP_HOST") in self.hosts:
            answer = frames_answer(environ, **match.groupdict())
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers + self.security_headers)
                return body
        return self.app(environ, self._learning(environ, start_response))

    def _learning(self, environ, start_response):
        def learn(status, headers, exc_info=None):
            if status.startswith("200 "):
                if self.security_headers is None:
                    self.security_headers = [
                        (name, value)
                        for name, value in headers
                        if name.lower() in SECURITY_HEADERS
                    ]
                host = environ.get("HTTP_HOST")
                if host and len(self.hosts) < self.MAX_HOSTS:
                    self.hosts.add(host)
            return start_response(status, headers, exc_info)

        return learn


def api_user(environ):
    """The user of the request's Token or Basic credential if this process accepted it a moment
    ago; None otherwise (also for a browser's session cookie, whose checks Django makes)."""
    if f"{settings.SESSION_COOKIE_NAME}=" in environ.get("HTTP_COOKIE", ""):
        return None
    keyword, _, credential = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    keyword, credential = keyword.lower(), credential.strip()
    if keyword == "token" and credential:
        return CachedTokenAuthentication.cached_user(credential)
    if keyword == "basic" and credential:
        try:
            decoded = base64.b64decode(credential, validate=True)
        except (binascii.Error, ValueError):
            return None
        try:
            text = decoded.decode("utf-8")
        except UnicodeDecodeError:
            text = decoded.decode("latin-1")
        userid, sep, password = text.partition(":")
        return CachedBasicAuthentication.cached_user(userid, password) if sep else None
    return None


def frames_answer(environ, *, study_uid, series_uid, sop_uid, frames):
    """(status, headers, body chunks) from this process's memories alone, or None."""
    user = api_user(environ)
    if user is None:
        return None
    instance = cached_instance(study_uid, series_uid, sop_uid)
    if instance is None:
        return None
    study_id = instance.series.study_id
    if not study_allowed_cached(user, study_id) or not api_retrieve_audited(user.pk, study_id):
        return None
    plan = plan_frames(instance, frames, environ.get("HTTP_ACCEPT", ""))
    if not isinstance(plan, FramePlan) or not plan.as_stored(instance):
        return None  # an error to explain, or a conversion: Django answers those
    headers = [("ETag", plan.etag), ("Cache-Control", IMMUTABLE), ("Vary", "Accept, Cookie")]
    if environ.get("HTTP_IF_NONE_MATCH") == plan.etag:
        return "304 Not Modified", headers, []
    content_type = f"{plan.part_type}; transfer-syntax={instance.transfer_syntax_uid}"
    boundary = uuid.uuid4().hex
    # One chunk: the server then writes the response in one go, not part by part.
    body = b"".join(
        multipart_chunks(
            [(content_type, frame) for frame in read_frames(instance, plan.numbers)], boundary
        )
    )
    headers += [
        ("Content-Type", f'multipart/related; type="{plan.part_type}"; boundary={boundary}'),
        ("Content-Length", str(len(body))),
    ]
    return "200 OK", headers, [body]
