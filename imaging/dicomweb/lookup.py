"""Shared by the DICOMweb views: URLs, JSON responses, and finding what a user may see
(with the per-process caches that keep frame requests cheap)."""

import json
import time
from collections import OrderedDict

from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction

from .. import access
from ..models import Instance, Series, Study

DICOM_JSON = "application/dicom+json"
IMMUTABLE = "private, max-age=31536000, immutable"  # private: the bytes are patient data


def base_url(request) -> str:
    return request.build_absolute_uri("/dicomweb").rstrip("/")


def json_response(data, status=200) -> HttpResponse:
    return HttpResponse(
        json.dumps(data, separators=(",", ":"), ensure_ascii=False),
        status=status,
        content_type=DICOM_JSON,
    )


# --- Access, cached per process for frame-rate requests -----------------------------------------

_ALLOWED: "OrderedDict[tuple[int, int], float]" = OrderedDict()
_ALLOWED_TTL = 30.0


def study_allowed_cached(user, study_id: int) -> bool:
    """Whether this process remembers that ``user`` may see the study (no query)."""
    return _ALLOWED.get((user.pk, study_id), 0) > time.monotonic()


def study_allowed(user, study_id: int) -> bool:
    """Whether ``user`` may see the study; positive answers are remembered briefly so a viewer
    fetching hundreds of frames does not re-run the care-relation query for each."""
    key = (user.pk, study_id)
    now = time.monotonic()
    if _ALLOWED.get(key, 0) > now:
        return True
    allowed = access.studies_visible_to(user).filter(pk=study_id).exists()
    if allowed:
        _ALLOWED[key] = now + _ALLOWED_TTL
        while len(_ALLOWED) > 10_000:
            _ALLOWED.popitem(last=False)
    return allowed


# Keys of audit_retrieve this process has seen in the shared cache (which keeps them 8 hours).
_AUDITED: "OrderedDict[str, float]" = OrderedDict()
_AUDITED_TTL = 300.0


def _audit_key(user_id: int, session_key: str, study_id: int) -> str:
    return f"audit:dicomweb:{user_id}:{session_key}:{study_id}"


def api_retrieve_audited(user_id: int, study_id: int) -> bool:
    """Whether this process knows the API retrieve of the study by the user is audited (no
    query, no cache round trip)."""
    return _AUDITED.get(_audit_key(user_id, "api", study_id), 0) > time.monotonic()


def audit_retrieve(request, study: Study | int) -> None:
    """One audit row per study per user session (or per API credential), not per frame.
    ``study`` may be a primary key: the row is then loaded only when an audit row is due."""
    session = getattr(request, "session", None)
    session_key = session.session_key if session is not None and session.session_key else "api"
    study_id = study if isinstance(study, int) else study.pk
    key = _audit_key(request.user.pk, session_key, study_id)
    now = time.monotonic()
    if _AUDITED.get(key, 0) > now:
        return  # this process saw the shared key set a moment ago: no round trip to the cache
    added = cache.add(key, 1, timeout=8 * 3600)
    _AUDITED[key] = now + _AUDITED_TTL
    while len(_AUDITED) > 10_000:
        _AUDITED.popitem(last=False)
    if added:
        if isinstance(study, int):
            study = Study.objects.select_related("patient").get(pk=study)
        with transaction.atomic():
            audit_record(
                actor=Actor.from_request(request),
                action=AuditAction.VIEW,
                obj=study,
                patient=study.patient,
                details={"via": "dicomweb"},
            )


_INSTANCES: "OrderedDict[str, Instance]" = OrderedDict()
_INSTANCES_MAX = 20_000


def _series_cache_fill(sop_uid: str) -> Instance | None:
    """Load the instance and, in one more query, the rest of its series into the LRU: a viewer
    fetches a series frame by frame, so the next requests find their rows here. The cached DICOM
    JSON is left out (frames and bulk data do not need it; instance metadata loads it)."""
    series_id = (
        Instance.objects.filter(sop_uid=sop_uid).order_by().values_list("series_id", flat=True)
    ).first()
    if series_id is None:
        return None
    siblings = (
        Instance.objects.select_related("series__study")
        .defer("metadata")
        .filter(series_id=series_id)
        .order_by()[: _INSTANCES_MAX // 4]
    )
    found = None
    for row in siblings:
        _INSTANCES[row.sop_uid] = row
        if row.sop_uid == sop_uid:
            found = row
    while len(_INSTANCES) > _INSTANCES_MAX:
        _INSTANCES.popitem(last=False)
    if found is None:  # a very large series: the one asked for was not among those loaded
        found = Instance.objects.select_related("series__study").defer("metadata").get(
            sop_uid=sop_uid
        )
        _INSTANCES[sop_uid] = found
    return found


def cached_instance(study_uid: str, series_uid: str, sop_uid: str) -> Instance | None:
    """The instance if this process has its row and the UIDs above it match (no query)."""
    instance = _INSTANCES.get(sop_uid)
    if instance is None:
        return None
    series = instance.series
    if series.series_uid != series_uid or series.study.study_uid != study_uid:
        return None
    return instance


def instance_for_user(request, study_uid, series_uid, sop_uid) -> Instance | None:
    """The instance, if the user may see it. Stored instances never change, so their index rows
    are kept in a per-process LRU: a viewer's frame requests then cost no query at all."""
    instance = _INSTANCES.get(sop_uid)
    if instance is None:
        instance = _series_cache_fill(sop_uid)
        if instance is None:
            return None
    else:
        try:
            _INSTANCES.move_to_end(sop_uid)
        except KeyError:  # evicted by another thread meanwhile: harmless
            pass
    series = instance.series
    if series.series_uid != series_uid or series.study.study_uid != study_uid:
        return None
    if not study_allowed(request.user, series.study_id):
        return None
    audit_retrieve(request, series.study)
    return instance


def instances_for_user(request, study_uid, series_uid=None):
    study = access.studies_visible_to(request.user).filter(study_uid=study_uid).first()
    if study is None:
        return None, []
    instances = Instance.objects.filter(series__study=study).select_related("series")
    if series_uid is not None:
        instances = instances.filter(series__series_uid=series_uid)
    instances = list(
        instances.order_by("series__series_number", "series_id", "instance_number", "id")
    )
    if not instances:
        return None, []
    audit_retrieve(request, study)
    return study, instances


def etag(instance: Instance, suffix: str = "") -> str:
    return f'"{instance.sha256[:32]}{suffix}"'


def not_modified(request, etag: str) -> bool:
    return request.headers.get("If-None-Match") == etag


NOT_FOUND = ("not_found", 404, "No such study, series or instance, or you may not see it.")


_METADATA: "OrderedDict[tuple, bytes]" = OrderedDict()
_METADATA_BUDGET = 64 * 1024 * 1024  # bytes of cached series metadata per process


def series_metadata(request, study_uid: str, series_uid: str) -> bytes | None:
    """The series' metadata JSON, cached per process until the series changes (the key holds
    its instance count, which every ingest into it bumps in the same transaction)."""
    row = (
        Series.objects.filter(series_uid=series_uid, study__study_uid=study_uid)
        .values("pk", "study_id", "number_of_instances")
        .first()
    )
    if row is None or not study_allowed(request.user, row["study_id"]):
        return None
    base = base_url(request)
    key = (row["pk"], row["number_of_instances"], base)
    body = _METADATA.get(key)
    if body is None:
        prefix = f"{base}/studies/{study_uid}/series/{series_uid}/instances/"
        parts = [
            metadata.replace("{bulk}/", f"{prefix}{sop_uid}/bulkdata/")
            for sop_uid, metadata in Instance.objects.filter(series_id=row["pk"])
            .order_by("instance_number", "id")
            .values_list("sop_uid", "metadata")
        ]
        if not parts:
            return None
        body = ("[" + ",".join(parts) + "]").encode()
        _METADATA[key] = body
        while sum(len(b) for b in _METADATA.values()) > _METADATA_BUDGET and len(_METADATA) > 1:
            _METADATA.popitem(last=False)
    audit_retrieve(request, row["study_id"])
    return body


def clear_caches() -> None:
    """Forget cached instances, access answers, audit keys and credentials (tests reset the database
    under a running process; production never needs this)."""
    from .http import CachedBasicAuthentication, CachedTokenAuthentication

    _INSTANCES.clear()
    _METADATA.clear()
    _ALLOWED.clear()
    _AUDITED.clear()
    CachedBasicAuthentication._cache.clear()
    CachedTokenAuthentication._cache.clear()
