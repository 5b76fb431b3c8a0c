"""WADO-RS (PS3.18 10.4): instances, metadata, frames, bulk data and rendered images.

Frames and bulk data are read from the byte ranges recorded at ingest and metadata comes from
the JSON cached at ingest: no request parses a whole dataset unless it asks for transcoding or
rendering."""

import time
from dataclasses import dataclass

from django.http import HttpResponse, StreamingHttpResponse

from ..dicom import InvalidDicom, can_transcode, read_frame, render, transcode_frames
from ..dicom import transcode_instance as transcode_file
from ..storage import stored_file
from .http import (
    EXPLICIT_VR_LE,
    FRAME_MEDIA_TYPES,
    DicomWebView,
    error,
    multipart_response,
    parse_accept,
)
from .lookup import (
    DICOM_JSON,
    IMMUTABLE,
    NOT_FOUND,
    base_url,
    etag,
    instance_for_user,
    instances_for_user,
    not_modified,
    series_metadata,
)
from .store import StudiesView

# --- WADO-RS: instances -------------------------------------------------------------------------


def _requested_transfer_syntax(accept: str, part_type: str) -> str | None:
    """The transfer syntax the client (sending ``accept``) wants for ``part_type`` parts ("*" =
    as stored), or None when it accepts no such part."""
    for media in parse_accept(accept):
        if media.media_type in ("*/*", "multipart/*"):
            return media.transfer_syntax or "*"
        if media.media_type == "multipart/related" and media.part_type in (part_type, "", "*/*"):
            return media.transfer_syntax or "*"
        if media.media_type == part_type:
            return media.transfer_syntax or "*"
    return None


def _stream_instances(instances, transfer_syntax: str):
    boundary = f"aimass-{time.monotonic_ns()}"

    def parts():
        for instance in instances:
            ts = instance.transfer_syntax_uid
            yield (
                f"--{boundary}\r\nContent-Type: application/dicom; transfer-syntax="
                f"{ts if transfer_syntax == '*' else transfer_syntax}\r\n\r\n"
            ).encode()
            with stored_file(instance.file) as f:
                if transfer_syntax in ("*", ts):
                    while chunk := f.read(1 << 20):
                        yield chunk
                else:
                    yield transcode_file(f, transfer_syntax)
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    return StreamingHttpResponse(
        parts(), content_type=f'multipart/related; type="application/dicom"; boundary={boundary}'
    )


class RetrieveView(DicomWebView):
    def get(self, request, study_uid, series_uid=None, sop_uid=None):
        ts = _requested_transfer_syntax(request.headers.get("Accept", ""), "application/dicom")
        if ts is None:
            return error(
                "not_acceptable",
                406,
                'Retrieve answers multipart/related; type="application/dicom".',
            )
        if sop_uid:
            instance = instance_for_user(request, study_uid, series_uid, sop_uid)
            instances = [instance] if instance else []
        else:
            _, instances = instances_for_user(request, study_uid, series_uid)
        if not instances:
            return error(*NOT_FOUND)
        if ts != "*":
            unable = [i.sop_uid for i in instances if not can_transcode(i.transfer_syntax_uid, ts)]
            if unable:
                return error(
                    "not_acceptable",
                    406,
                    f"Cannot convert {len(unable)} instance(s) to transfer syntax {ts}.",
                )
        response = _stream_instances(instances, ts)
        if sop_uid:
            response["ETag"] = etag(instances[0], f"-{ts}")
            response["Cache-Control"] = IMMUTABLE
        return response


class MetadataView(DicomWebView):
    def get(self, request, study_uid, series_uid=None, sop_uid=None):
        base = base_url(request)
        if series_uid and not sop_uid:
            body = series_metadata(request, study_uid, series_uid)
            if body is None:
                return error(*NOT_FOUND)
            return HttpResponse(body, content_type=DICOM_JSON)
        if sop_uid:
            instance = instance_for_user(request, study_uid, series_uid, sop_uid)
            instances = [instance] if instance else []
        else:
            _, instances = instances_for_user(request, study_uid, series_uid)
        if not instances:
            return error(*NOT_FOUND)
        body = (
            "["
            + ",".join(
                i.metadata.replace(
                    "{bulk}/",
                    f"{base}/studies/{study_uid}/series/{i.series.series_uid}/instances/"
                    f"{i.sop_uid}/bulkdata/",
                )
                for i in instances
            )
            + "]"
        )
        response = HttpResponse(body, content_type=DICOM_JSON)
        if sop_uid:
            response["ETag"] = etag(instances[0], "-metadata")
            response["Cache-Control"] = IMMUTABLE
        return response


# --- WADO-RS: frames, bulk data, rendered -------------------------------------------------------


def _frame_numbers(text: str, count: int) -> list[int] | None:
    try:
        numbers = [int(n) for n in text.replace("%2C", ",").split(",") if n.strip()]
    except ValueError:
        return None
    if not numbers or any(n < 1 or n > count for n in numbers):
        return None
    return numbers


@dataclass(frozen=True)
class FramePlan:
    """What a frames request asks for, once negotiated."""

    numbers: list[int]
    part_type: str  # application/octet-stream, or the stored image type (image/jls, ...)
    transfer_syntax: str  # "*" (as stored), the stored syntax, or one to convert to
    etag: str

    def as_stored(self, instance) -> bool:
        return self.transfer_syntax in ("*", instance.transfer_syntax_uid)


def plan_frames(instance, frames: str, accept: str) -> FramePlan | tuple[str, int, str]:
    """The frames of ``instance`` that the request asks for and how to send them, or the error
    (code, status, message) to answer with."""
    if not instance.frames:
        return ("not_found", 404, "This instance has no pixel data.")
    numbers = _frame_numbers(frames, len(instance.frames))
    if numbers is None:
        return (
            "validation_error",
            400,
            f"Frame numbers must be 1 to {len(instance.frames)}, comma-separated.",
        )
    image_type = FRAME_MEDIA_TYPES.get(instance.transfer_syntax_uid)
    part_type, ts = "application/octet-stream", None
    if image_type:
        ts = _requested_transfer_syntax(accept, image_type)
        if ts is not None:
            part_type = image_type
    if ts is None:
        ts = _requested_transfer_syntax(accept, "application/octet-stream")
    if ts is None:
        return (
            "not_acceptable",
            406,
            'Frames are multipart/related; type="application/octet-stream" '
            "(or the stored image type).",
        )
    return FramePlan(numbers, part_type, ts, etag(instance, f"-f{frames}-{ts}"))


def read_frames(instance, numbers: list[int]) -> list[bytes]:
    """The stored bytes of frames ``numbers``, read at their recorded offsets."""
    with stored_file(instance.file) as f:
        return [read_frame(f, _location(instance.frames[n - 1])) for n in numbers]


class FramesView(DicomWebView):
    def get(self, request, study_uid, series_uid, sop_uid, frames):
        instance = instance_for_user(request, study_uid, series_uid, sop_uid)
        if instance is None:
            return error(*NOT_FOUND)
        plan = plan_frames(instance, frames, request.headers.get("Accept", ""))
        if not isinstance(plan, FramePlan):
            return error(*plan)
        if not_modified(request, plan.etag):
            return HttpResponse(status=304, headers={"ETag": plan.etag})
        stored_ts, part_type = instance.transfer_syntax_uid, plan.part_type
        if plan.as_stored(instance):
            out_ts = stored_ts
            bodies = read_frames(instance, plan.numbers)
        elif plan.transfer_syntax == EXPLICIT_VR_LE and can_transcode(stored_ts, EXPLICIT_VR_LE):
            out_ts = EXPLICIT_VR_LE
            part_type = "application/octet-stream"
            with stored_file(instance.file) as f:
                decoded = transcode_frames(f, out_ts)
            bodies = [decoded[n - 1] for n in plan.numbers]
        else:
            return error(
                "not_acceptable",
                406,
                f"Frames stored as {stored_ts} cannot be converted to {plan.transfer_syntax}.",
            )
        return multipart_response(
            [(f"{part_type}; transfer-syntax={out_ts}", body) for body in bodies],
            part_type=part_type,
            headers={"ETag": plan.etag, "Cache-Control": IMMUTABLE},
        )


def _location(ranges):
    from ..dicom import FrameLocation

    return FrameLocation(tuple(tuple(r) for r in ranges))


class BulkdataView(DicomWebView):
    def get(self, request, study_uid, series_uid, sop_uid, tag):
        instance = instance_for_user(request, study_uid, series_uid, sop_uid)
        if instance is None or tag.upper() not in instance.bulkdata:
            return error(*NOT_FOUND)
        offset, length = instance.bulkdata[tag.upper()]
        start, end = 0, length - 1
        range_header = request.headers.get("Range", "")
        status = 200
        if range_header.startswith("bytes="):
            try:
                first, _, last = range_header[6:].split(",")[0].partition("-")
                if first:
                    start, end = int(first), min(int(last) if last else length - 1, length - 1)
                else:
                    start, end = max(length - int(last), 0), length - 1
            except ValueError:
                return error("validation_error", 400, "Malformed Range header.")
            if start > end or start >= length:
                return HttpResponse(status=416, headers={"Content-Range": f"bytes */{length}"})
            status = 206
        with stored_file(instance.file) as f:
            f.seek(offset + start)
            body = f.read(end - start + 1)
        response = HttpResponse(body, status=status, content_type="application/octet-stream")
        response["Accept-Ranges"] = "bytes"
        response["ETag"] = etag(instance, f"-{tag}")
        response["Cache-Control"] = IMMUTABLE
        if status == 206:
            response["Content-Range"] = f"bytes {start}-{end}/{length}"
        return response


def _render_params(request):
    accept = request.query_params.get("accept") or request.headers.get("Accept", "")
    media_type = "image/png" if "image/png" in accept else "image/jpeg"
    window = None
    if request.query_params.get("window"):
        try:
            center, width, *_ = request.query_params["window"].split(",")
            window = (float(center), float(width))
        except ValueError:
            return None
    try:
        quality = int(request.query_params.get("quality", "90"))
    except ValueError:
        return None
    viewport = None
    if request.query_params.get("viewport"):
        try:
            w, h = (int(v) for v in request.query_params["viewport"].split(",")[:2])
            viewport = (w, h)
        except ValueError:
            return None
    return media_type, window, max(1, min(quality, 100)), viewport


class RenderedView(DicomWebView):
    thumbnail = False

    def get(self, request, study_uid, series_uid=None, sop_uid=None, frames="1"):
        params = _render_params(request)
        if params is None:
            return error(
                "validation_error", 400, "window=center,width; quality=1-100; viewport=width,height"
            )
        media_type, window, quality, viewport = params
        if self.thumbnail:
            viewport = viewport or (128, 128)
        if sop_uid:
            instance = instance_for_user(request, study_uid, series_uid, sop_uid)
        else:
            _, instances = instances_for_user(request, study_uid, series_uid)
            with_pixels = [i for i in instances if i.frames]
            instance = with_pixels[len(with_pixels) // 2] if with_pixels else None
        if instance is None or not instance.frames:
            return error(*NOT_FOUND)
        numbers = _frame_numbers(frames, len(instance.frames))
        if numbers is None:
            return error("validation_error", 400, "No such frame.")
        try:
            with stored_file(instance.file) as f:
                body = render(
                    f,
                    frame=numbers[0],
                    window=window,
                    media_type=media_type,
                    quality=quality,
                    viewport=viewport,
                )
        except InvalidDicom as exc:
            return error("not_acceptable", 406, exc.message)
        response = HttpResponse(body, content_type=media_type)
        response["Cache-Control"] = IMMUTABLE if sop_uid else "private, max-age=60"
        return response


class StudyView(RetrieveView):
    """GET /studies/{uid} retrieves the study; POST stores instances into it."""

    post = StudiesView.post
