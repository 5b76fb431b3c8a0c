"""STOW-RS (PS3.18 10.5): storing instances through the one ingest service."""

from clinic.audit import Actor

from .. import access
from ..services import IngestSession
from .http import (
    error,
    max_upload_bytes,
    multipart_parts,
)
from .lookup import base_url, json_response
from .search import QidoView

# --- STOW-RS ------------------------------------------------------------------------------------


class StudiesView(QidoView):
    """GET /studies is QIDO; POST /studies (and /studies/{uid}) is STOW-RS."""

    level = "study"

    def post(self, request, study_uid=None):
        if not access.can_store(user=request.user):
            return error("permission_denied", 403, "Your role may not store studies.")
        content_type = request.headers.get("Content-Type", "")
        if not content_type.lower().startswith("multipart/related"):
            return error(
                "unsupported_media_type",
                415,
                'STOW-RS takes multipart/related; type="application/dicom".',
            )
        if "application/dicom+json" in content_type or "application/dicom+xml" in content_type:
            return error(
                "unsupported_media_type",
                415,
                "Only application/dicom parts are accepted (no metadata+bulkdata).",
            )
        length = int(request.headers.get("Content-Length") or 0)
        if length > max_upload_bytes():
            return error(
                "payload_too_large", 413, f"The request is larger than {max_upload_bytes()} bytes."
            )
        body = _request_body(request._request)
        if body is None:
            return error(
                "payload_too_large", 413, f"The request is larger than {max_upload_bytes()} bytes."
            )
        try:
            parts = multipart_parts(body, content_type)
        except ValueError as exc:
            return error("parse_error", 400, f"The multipart body is malformed: {exc}")
        base = base_url(request)
        payloads, refused = [], []
        for headers, payload in parts:
            part_type = headers.get("content-type", "application/dicom").split(";")[0]
            if part_type.strip().lower() == "application/dicom":
                payloads.append(payload)
            else:
                refused.append(_failed(None, None, 0xC000, "unsupported part type"))
        with IngestSession(actor=Actor.from_request(request), source="stow") as session:
            results = session.ingest_many(payloads, study_uid=study_uid)
        stored, failed = [r for r in results if r.ok], refused
        for result in results:
            if result.status == "conflict":
                failed.append(_failed(result.sop_class_uid, result.sop_uid, 0x0111, result.message))
            elif not result.ok:
                failed.append(
                    _failed(
                        result.sop_class_uid,
                        result.sop_uid,
                        0xC000,
                        f"{result.code}: {result.message}",
                    )
                )
        body = {}
        if study_uid or stored:
            uid = study_uid or stored[0].study_uid
            body["00081190"] = {"vr": "UR", "Value": [f"{base}/studies/{uid}"]}
        if stored:
            body["00081199"] = {
                "vr": "SQ",
                "Value": [
                    {
                        "00081150": {"vr": "UI", "Value": [r.sop_class_uid]},
                        "00081155": {"vr": "UI", "Value": [r.sop_uid]},
                        "00081190": {
                            "vr": "UR",
                            "Value": [f"{base}/studies/{r.study_uid}/instances/{r.sop_uid}"],
                        },
                    }
                    for r in stored
                ],
            }
        if failed:
            body["00081198"] = {"vr": "SQ", "Value": failed}
        if not parts:
            return error("validation_error", 400, "The request holds no instances.")
        status = 200 if not failed else (202 if stored else 409)
        return json_response(body, status=status)


def _request_body(request) -> bytes | None:
    """The body, also when sent chunked (no Content-Length), as dicomweb-client does for large
    uploads; None when it exceeds the upload limit."""
    # Read the stream ourselves: request.body would refuse anything over
    # DATA_UPLOAD_MAX_MEMORY_SIZE, which is meant for forms, not studies.
    stream = request if request.META.get("CONTENT_LENGTH") else request.META["wsgi.input"]
    limit, chunks, size = max_upload_bytes(), [], 0
    while chunk := stream.read(1 << 20):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _failed(sop_class_uid, sop_uid, reason: int, comment: str) -> dict:
    item = {"00081197": {"vr": "US", "Value": [reason]}}
    if sop_class_uid:
        item["00081150"] = {"vr": "UI", "Value": [sop_class_uid]}
    if sop_uid:
        item["00081155"] = {"vr": "UI", "Value": [sop_uid]}
    item["00081196"] = {"vr": "LT", "Value": [comment[:1024]]}  # Warning/failure comment
    return item
