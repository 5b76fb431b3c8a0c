"""A study read end to end by a real model: a CT series with two soft-tissue spheres, ingested
into the store and run through the threshold bundle in-process, so the findings, the SEG and the
SR are the ones production makes."""

import io

import numpy as np
import pydicom
import pytest

from clinic.audit import Actor
from imaging.inference import inference_request, job_run
from imaging.models import Finding, Study
from imaging.registry import model_version_import
from imaging.services import IngestSession
from tests.ai_core.builders import ct_series, threshold_bundle

SHAPE = (12, 48, 40)  # slices, rows, columns
SPACING = (2.0, 1.0, 1.0)


def two_nodule_hu() -> np.ndarray:
    """Air with a big sphere (radius 6 px) and a small one (radius 3 px) on different slices."""
    z, y, x = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    big = ((z - 4) * SPACING[0]) ** 2 + (y - 14) ** 2 + (x - 12) ** 2 <= 6.0**2
    small = ((z - 8) * SPACING[0]) ** 2 + (y - 34) ** 2 + (x - 28) ** 2 <= 3.0**2
    return np.where(big | small, 60.0, -1000.0).astype(np.float32)


def study_ingest(datasets, actor) -> Study:
    with IngestSession(actor=actor, source="test") as ingest:
        for ds in datasets:
            buffer = io.BytesIO()
            pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
            assert ingest.ingest(buffer.getvalue()).ok
    return Study.objects.get(study_uid=datasets[0].StudyInstanceUID)


@pytest.fixture
def model_version(tmp_path):
    return model_version_import(
        source=threshold_bundle(tmp_path / "bundle" / "lesion-finder", metadata_extra={
            "x_aimass": {"urgent_diameter_mm": 8}
        }),
        actor=Actor.system(None),
        activate=True,
    )


@pytest.fixture
def read_study(patient, admin_user, model_version, monkeypatch):
    """The patient's (Dr Alice's) CT, run through the model: two findings, largest first.

    The job runs here, in-process, instead of on a worker (tests/integration covers the worker):
    the task is not sent, so no worker of another test's broker picks it up meanwhile."""
    from imaging import tasks

    monkeypatch.setattr(tasks.inference_job_run, "apply_async", lambda *args, **kwargs: None)
    datasets = ct_series(
        two_nodule_hu(), spacing=SPACING, origin=(0.0, 0.0, 0.0), patient_id=patient.mrn
    )
    study = study_ingest(datasets, Actor(user=admin_user))
    jobs = inference_request(study=study, actor=Actor(user=admin_user), model=model_version.model)
    assert [job_run(job_id=j.pk) for j in jobs] == ["succeeded"]
    findings = list(Finding.objects.filter(study=study).order_by("-diameter_mm"))
    assert len(findings) == 2, findings
    study.refresh_from_db()
    return study
