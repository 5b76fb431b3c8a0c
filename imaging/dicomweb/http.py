"""HTTP plumbing for DICOMweb: Accept negotiation, multipart bodies, authentication, errors."""

import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from clinic.authentication import AuditedTokenAuthentication, PasswordBasicAuthentication
from config.errors import error_body

EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"

# Media types of single frames stored in these transfer syntaxes (PS3.18 Table 8.7.3-2).
FRAME_MEDIA_TYPES = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.5": "image/x-dicom-rle",
}


@dataclass(frozen=True)
class MediaRange:
    media_type: str  # e.g. multipart/related, application/dicom+json, */*
    part_type: str  # the type="..." parameter of multipart/related, or ""
    transfer_syntax: str  # the transfer-syntax parameter, or ""
    q: float


_PARAM = re.compile(r';\s*([^=;\s]+)\s*=\s*("([^"]*)"|[^;,\s]*)')


def parse_accept(header: str) -> list[MediaRange]:
    """Media ranges of an Accept header, best first (quoted parameters may hold commas)."""
    ranges = []
    for raw in re.findall(r'(?:[^,"]|"[^"]*")+', header or ""):
        raw = raw.strip()
        if not raw:
            continue
        media_type = raw.split(";", 1)[0].strip().lower()
        params = {
            m.group(1).lower(): (m.group(3) if m.group(3) is not None else m.group(2))
            for m in _PARAM.finditer(raw)
        }
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 1.0
        ranges.append(
            MediaRange(
                media_type, params.get("type", "").lower(), params.get("transfer-syntax", ""), q
            )
        )
    ranges.sort(key=lambda r: -r.q)
    return ranges or [MediaRange("*/*", "", "", 1.0)]


def error(code: str, status: int, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


class NotAcceptable(Exception):
    def __init__(self, message: str):
        self.message = message


def multipart_chunks(parts, boundary: str) -> list[bytes]:
    """The body of a multipart/related message of (content_type, bytes) parts, as chunks (the
    parts' bytes are not copied)."""
    chunks = []
    for content_type, body in parts:
        chunks.append(f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode())
        chunks.append(body)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return chunks


def multipart_response(parts, *, part_type: str, status: int = 200, headers=None):
    """A multipart/related response from (content_type, bytes) pairs, built in memory."""
    boundary = uuid.uuid4().hex
    response = HttpResponse(
        b"".join(multipart_chunks(parts, boundary)),
        status=status,
        content_type=f'multipart/related; type="{part_type}"; boundary={boundary}',
    )
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def multipart_parts(body: bytes, content_type: str) -> list[tuple[dict, bytes]]:
    """Split a multipart body into (headers, payload) pairs; raises ValueError."""
    match = re.search(r'boundary="?([^";]+)"?', content_type, re.I)
    if not match:
        raise ValueError("the Content-Type has no boundary")
    delimiter = b"--" + match.group(1).encode()
    parts = []
    for segment in body.split(delimiter)[1:]:
        if segment.startswith(b"--"):
            break
        segment = segment[2:] if segment.startswith(b"\r\n") else segment
        head, sep, payload = segment.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("a part has no header/body separator")
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        parts.append((headers, payload))
    return parts


class CachedBasicAuthentication(PasswordBasicAuthentication):
    """HTTP Basic whose successful checks are remembered for a few minutes in this process.

    Accounts with two-step sign-in are refused (clinic.authentication) and send a token instead.
    Password hashing (PBKDF2, ~1M iterations) costs hundreds of milliseconds; a viewer or a
    script fetching thousands of frames with Basic credentials must not pay it per request.
    The cache key is an HMAC of the credentials with a per-process secret, so the cache never
    holds a password, and a changed or disabled account is refused within the TTL.
    """

    TTL = 30  # seconds: a changed password or a disabled account is refused within this
    MAX = 1024
    _secret = secrets.token_bytes(32)
    _cache: "OrderedDict[bytes, tuple[object, float]]" = OrderedDict()

    @classmethod
    def cached_user(cls, userid: str, password: str):
        """The user these credentials signed in a moment ago in this process, or None."""
        key = hmac.new(cls._secret, f"{userid}\0{password}".encode(), hashlib.sha256).digest()
        hit = cls._cache.get(key)
        return hit[0] if hit and hit[1] > time.monotonic() else None

    def authenticate_credentials(self, userid, password, request=None):
        key = hmac.new(self._secret, f"{userid}\0{password}".encode(), hashlib.sha256).digest()
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit and hit[1] > now:
            return (hit[0], None)
        user, auth = super().authenticate_credentials(userid, password, request)
        self._cache[key] = (user, now + self.TTL)
        while len(self._cache) > self.MAX:
            self._cache.popitem(last=False)
        return (user, auth)

    def authenticate_header(self, request):
        return 'Basic realm="dicomweb"'


class CachedTokenAuthentication(AuditedTokenAuthentication):
    """Token authentication whose answers are remembered for a few seconds in this process,
    so a viewer's frame requests cost no token query each. A deleted token (a new password, a
    changed role, a disabled account) is refused within the TTL."""

    TTL = 30
    MAX = 1024
    _secret = secrets.token_bytes(32)
    _cache: "OrderedDict[bytes, tuple[object, float]]" = OrderedDict()

    @classmethod
    def cached_user(cls, key: str):
        """The user of a token accepted a moment ago in this process, or None."""
        hit = cls._cache.get(hmac.new(cls._secret, key.encode(), hashlib.sha256).digest())
        return hit[0][0] if hit and hit[1] > time.monotonic() else None

    def authenticate_credentials(self, key):
        digest = hmac.new(self._secret, key.encode(), hashlib.sha256).digest()
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit and hit[1] > now:
            return hit[0]
        result = super().authenticate_credentials(key)
        self._cache[digest] = (result, now + self.TTL)
        while len(self._cache) > self.MAX:
            self._cache.popitem(last=False)
        return result


class DicomWebView(APIView):
    """Token, Basic or session authentication, like the API; errors as the API's error body.
    DICOMweb is specified by DICOM PS3.18, not by the app's OpenAPI schema, so it is left out
    of that."""

    schema = None

    authentication_classes = [
        CachedBasicAuthentication,
        CachedTokenAuthentication,
        SessionAuthentication,
    ]
    permission_classes = [IsAuthenticated]

    def perform_content_negotiation(self, request, force=False):
        # DICOMweb negotiates its own media types (multipart/related with parameters).
        renderer = self.get_renderers()[0]
        return (renderer, renderer.media_type)


def max_upload_bytes() -> int:
    return settings.DICOMWEB_MAX_UPLOAD_BYTES
