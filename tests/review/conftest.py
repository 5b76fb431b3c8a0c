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


def nodules_hu(spheres) -> np.ndarray:
    """Air with soft-tissue spheres, each (slice, row, column, radius in mm)."""
    z, y, x = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    inside = np.zeros(SHAPE, bool)
    for k, row, column, radius in spheres:
        inside |= ((z - k) * SPACING[0]) ** 2 + (y - row) ** 2 + (x - column) ** 2 <= radius**2
    return np.where(inside, 60.0, -1000.0).astype(np.float32)


def two_nodule_hu() -> np.ndarray:
    """A big sphere (radius 6 px) and a small one (radius 3 px) on different slices."""
    return nodules_hu([(4, 14, 12, 6.0), (8, 34, 28, 3.0)])


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
        source=threshold_bundle(
            tmp_path / "bundle" / "lesion-finder",
            metadata_extra={"x_aimass": {"urgent_diameter_mm": 8}},
        ),
        actor=Actor.system(None),
        activate=True,
    )


def study_read(hu, *, patient, admin_user, model_version, monkeypatch) -> Study:
    """Ingest ``hu`` as the patient's CT and run the model on it.

    The job runs here, in-process, instead of on a worker (tests/integration covers the worker):
    the task is not sent, so no worker of another test's broker picks it up meanwhile."""
    from imaging import tasks

    monkeypatch.setattr(tasks.inference_job_run, "apply_async", lambda *args, **kwargs: None)
    datasets = ct_series(hu, spacing=SPACING, origin=(0.0, 0.0, 0.0), patient_id=patient.mrn)
    study = study_ingest(datasets, Actor(user=admin_user))
    jobs = inference_request(study=study, actor=Actor(user=admin_user), model=model_version.model)
    assert [job_run(job_id=j.pk) for j in jobs] == ["succeeded"]
    study.refresh_from_db()
    return study


@pytest.fixture
def read_study(patient, admin_user, model_version, monkeypatch):
    """The patient's (Dr Alice's) CT, run through the model: two findings, the larger urgent."""
    study = study_read(
        two_nodule_hu(),
        patient=patient,
        admin_user=admin_user,
        model_version=model_version,
        monkeypatch=monkeypatch,
    )
    assert Finding.objects.filter(study=study).count() == 2
    return study


@pytest.fixture
def three_nodule_study(patient, admin_user, model_version, monkeypatch):
    """Three findings of 12, 8 and 6 mm on slices 3, 6 and 9: one to accept, one to reject and
    one to correct."""
    study = study_read(
        nodules_hu([(3, 12, 12, 6.0), (6, 34, 12, 4.0), (9, 24, 30, 3.0)]),
        patient=patient,
        admin_user=admin_user,
        model_version=model_version,
        monkeypatch=monkeypatch,
    )
    assert Finding.objects.filter(study=study).count() == 3
    return study
