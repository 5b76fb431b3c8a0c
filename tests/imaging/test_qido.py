"""QIDO-RS answers that clients cannot tell apart from the outside: where includefield's
attributes come from, and what they cost."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pydicom.uid import generate_uid

from clinic.audit import Actor
from imaging.services import IngestSession

from ..conftest import api_auth
from .instances import dataset, to_bytes

pytestmark = pytest.mark.django_db


def test_includefield_reads_each_result_from_its_own_study_and_only_when_needed(
    client, owner, patient, dicom_storage_dir
):
    """QIDO includefield: an attribute the index lacks comes from one instance of each study
    (or series); one the index answers costs no instance query."""
    institutions = {}
    with IngestSession(actor=Actor(user=owner), source="test") as session:
        for name in ("Ruijin", "Huashan"):
            study_uid = generate_uid()
            for number in (1, 2):
                ds = dataset(patient_id=patient.mrn, study_uid=study_uid, number=number)
                ds.InstitutionName = name
                assert session.ingest(to_bytes(ds)).status == "stored"
            institutions[study_uid] = name
    auth = {**api_auth(owner), "HTTP_ACCEPT": "application/dicom+json"}

    def found(path, **params):
        response = client.get(path, params, **auth)
        assert response.status_code == 200
        return {
            r["0020000D"]["Value"][0]: r.get("00080080", {}).get("Value", [None])[0]
            for r in response.json()
        }

    assert found("/dicomweb/studies", includefield="00080080") == institutions
    assert found("/dicomweb/series", includefield="InstitutionName") == institutions
    assert found("/dicomweb/studies", includefield="all") == institutions
    with CaptureQueriesContext(connection) as queries:
        assert found("/dicomweb/studies", includefield="00081030,00201206,00201208") == {
            uid: None for uid in institutions
        }
    assert not [q for q in queries.captured_queries if "imaging_instance" in q["sql"]]
