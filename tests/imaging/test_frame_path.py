"""The frame path stays cheap: once a viewer has fetched one frame of a series, the frames of
the rest of that series cost no database query (instance rows, access answers, the audit key
and the token are remembered per process), and access and audit still hold."""

import pytest
from pydicom.uid import generate_uid

from clinic.audit import Actor
from clinic.models import AuditAction, AuditEvent
from imaging.services import IngestSession

from ..conftest import api_auth
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
