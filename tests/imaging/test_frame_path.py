"""The frame path stays cheap: once a viewer has fetched one frame of a series, the frames of
the rest of that series cost no database query (instance rows, access answers, the audit key
and the token are remembered per process), and access and audit still hold."""

import pytest
from pydicom.uid import generate_uid

from clinic.audit import Actor
from clinic.models import AuditAction, AuditEvent
from imaging.services import IngestSession

from ..conftest import api_auth, api_authorization
from .instances import dataset, to_bytes

pytestmark = pytest.mark.django_db

ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


@pytest.fixture
def series(patient, owner):
    study_uid, series_uid = generate_uid(), generate_uid()
    uids = []
    with IngestSession(actor=Actor(user=owner), source="test") as session:
        for number in range(1, 6):
            ds = dataset(patient_id=patient.mrn, study_uid=study_uid, series_uid=series_uid,
                         number=number)
            session.ingest(to_bytes(ds))
            uids.append(ds.SOPInstanceUID)
    return study_uid, series_uid, uids


def frame_url(study_uid, series_uid, sop_uid):
    return (
        f"/dicomweb/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/frames/1"
    )


def test_the_rest_of_a_series_costs_no_query(
    client, owner, series, django_assert_num_queries
):
    study_uid, series_uid, uids = series
    auth = api_auth(owner)
    first = client.get(frame_url(study_uid, series_uid, uids[0]), HTTP_ACCEPT=ACCEPT, **auth)
    assert first.status_code == 200
    with django_assert_num_queries(0):
        for sop_uid in uids[1:]:
            response = client.get(
                frame_url(study_uid, series_uid, sop_uid), HTTP_ACCEPT=ACCEPT, **auth
            )
            assert response.status_code == 200
    viewed = AuditEvent.objects.filter(action=AuditAction.VIEW, user=owner)
    assert viewed.count() == 1  # one row for the study, not one per frame


def test_a_cached_series_is_still_refused_to_an_outsider(client, owner, outsider, series):
    study_uid, series_uid, uids = series
    ok = client.get(frame_url(study_uid, series_uid, uids[0]), HTTP_ACCEPT=ACCEPT,
                    **api_auth(owner))
    assert ok.status_code == 200
    for sop_uid in uids:
        refused = client.get(
            frame_url(study_uid, series_uid, sop_uid), HTTP_ACCEPT=ACCEPT, **api_auth(outsider)
        )
        assert refused.status_code == 404
    # A cached instance asked for under another series' UID is not found either.
    wrong = client.get(frame_url(study_uid, generate_uid(), uids[1]), HTTP_ACCEPT=ACCEPT,
                       **api_auth(owner))
    assert wrong.status_code == 404


# --- The WSGI fast path (imaging/dicomweb/fast_frames.py) ---------------------------------------


class CountingApp:
    """Stands in for Django behind the fast path and counts what reaches it."""

    def __init__(self, app):
        self.app, self.calls = app, 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.app(environ, start_response)


@pytest.fixture
def wsgi():
    """GET through the production WSGI stack: (fast path, Django counter, get(path, **headers))."""
    import io
    from wsgiref.util import setup_testing_defaults

    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    from imaging.dicomweb.fast_frames import FramesFastPath

    # As Django's test client does: the test's transaction must outlive each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    django_app = CountingApp(get_wsgi_application())
    app = FramesFastPath(django_app)

    def get(path, **headers):
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "wsgi.input": io.BytesIO(),
                   "HTTP_HOST": "testserver"}
        environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
        setup_testing_defaults(environ)
        answer = {}

        def start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

        chunks = app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return answer["status"], answer["headers"], body

    yield app, django_app, get
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def frame_bytes(body: bytes, headers: dict) -> bytes:
    boundary = headers["Content-Type"].rsplit("boundary=", 1)[1].encode()
    start = body.index(b"\r\n\r\n") + 4
    return body[start : body.rindex(b"\r\n--" + boundary + b"--")]


def test_frames_after_the_first_skip_django_with_the_same_bytes_and_headers(
    wsgi, owner, series, dicom_storage_dir, django_assert_num_queries
):
    import pydicom

    from imaging.models import Instance

    app, django_app, get = wsgi
    study_uid, series_uid, uids = series
    auth = {"Authorization": api_authorization(owner), "Accept": ACCEPT}
    status, first_headers, first = get(frame_url(study_uid, series_uid, uids[0]), **auth)
    assert status == 200 and django_app.calls == 1
    with django_assert_num_queries(0):
        answers = [get(frame_url(study_uid, series_uid, uid), **auth) for uid in uids]
    assert django_app.calls == 1  # every one of them, the first again included, skipped Django
    for uid, (status, headers, body) in zip(uids, answers, strict=True):
        assert status == 200
        stored = Instance.objects.get(sop_uid=uid).file
        assert frame_bytes(body, headers) == pydicom.dcmread(dicom_storage_dir / stored).PixelData
        assert int(headers["Content-Length"]) == len(body)
        assert headers["Content-Type"].startswith(
            'multipart/related; type="application/octet-stream"'
        )
    status, headers, body = answers[0]
    assert body.replace(
        headers["Content-Type"].rsplit("=", 1)[1].encode(), b"B"
    ) == first.replace(first_headers["Content-Type"].rsplit("=", 1)[1].encode(), b"B")
    for name in ("ETag", "Cache-Control", "Content-Security-Policy", "X-Frame-Options",
                 "X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy"):
        assert headers[name] == first_headers[name], name
    # A revalidation with the ETag is answered 304 on the fast path too.
    etag = answers[1][1]["ETag"]
    status, headers, body = get(frame_url(study_uid, series_uid, uids[1]), **auth,
                                If_None_Match=etag)
    assert (status, body, headers["ETag"], django_app.calls) == (304, b"", etag, 1)
    assert AuditEvent.objects.filter(action=AuditAction.VIEW, user=owner).count() == 1


def test_the_fast_path_refuses_what_django_would(wsgi, owner, outsider, series):
    """An outsider, an unknown token, a session cookie, a conversion or a bad frame number:
    Django answers each, as if there were no fast path."""
    app, django_app, get = wsgi
    study_uid, series_uid, uids = series
    owner_auth = {"Authorization": api_authorization(owner), "Accept": ACCEPT}
    assert get(frame_url(study_uid, series_uid, uids[0]), **owner_auth)[0] == 200
    calls = django_app.calls

    def through_django(expected_status, path, **headers):
        nonlocal calls
        status, _, _ = get(path, **headers)
        assert status == expected_status
        assert django_app.calls == calls + 1, path
        calls = django_app.calls

    url = frame_url(study_uid, series_uid, uids[1])
    through_django(404, url, Authorization=api_authorization(outsider), Accept=ACCEPT)
    through_django(401, url, Authorization="Token " + "0" * 40, Accept=ACCEPT)
    through_django(401, url, Accept=ACCEPT)
    through_django(400, url.replace("/frames/1", "/frames/7"), **owner_auth)
    through_django(404, frame_url(study_uid, generate_uid(), uids[1]), **owner_auth)
    # CT_small is stored uncompressed: asking for JPEG 2000 frames is Django's to refuse.
    through_django(
        406, url, Authorization=api_authorization(owner),
        Accept='multipart/related; type="image/jp2"',
    )
    through_django(200, url, Cookie="sessionid=abc", **owner_auth)
    # A Host that ALLOWED_HOSTS does not list: Django refuses it, as for any request.
    through_django(400, url, Host="evil.example", **owner_auth)
    assert get(url, **owner_auth)[0] == 200 and django_app.calls == calls  # fast again
