"""The demo hospital's AI: seed_demo registers the demo lung nodule model, stores synthetic chest
CT studies of respiratory patients and queues the model; a real worker then finds the phantoms'
nodules, so findings exist out of the box."""

import time

import numpy as np
import pytest

from imaging.ai.demo.phantom import chest_ct_phantom
from imaging.demo import DEMO_MODEL, DEMO_SEEDS, seed_imaging
from imaging.models import AIModel, Finding, InferenceJob, JobStatus, Study

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_demo_model_finds_the_phantoms_nodules_through_the_worker(
    settings, worker_storage, patient, owner
):
    settings.DEMO_CHEST_CT_STUDIES = 1

    created = seed_imaging()

    assert created == {"models": 1, "routing_rules": 1, "studies": 1, "inference_jobs": 1}
    model = AIModel.objects.get(name=DEMO_MODEL)
    version = model.active_version
    assert version.not_for_clinical_use and version.kind == "segmentation"
    # The half-precision variant is a second version of the same model, not active.
    assert sorted(model.versions.values_list("version", flat=True)) == ["1.0.0", "1.0.0-fp16"]
    assert version.metadata["eval_metrics"]  # the card carries measured figures
    study = Study.objects.get()
    assert study.patient == patient
    assert seed_imaging() == {"models": 0, "routing_rules": 0, "studies": 0, "inference_jobs": 0}

    deadline = time.monotonic() + 180
    while InferenceJob.objects.filter(status__in=["queued", "running"]).exists():
        assert time.monotonic() < deadline, "the demo job did not finish"
        time.sleep(0.5)
    (job,) = InferenceJob.objects.all()
    assert job.status == JobStatus.SUCCEEDED, job.log

    # The same phantom, drawn again from its seed, gives the truth to compare with.
    truth = chest_ct_phantom(DEMO_SEEDS[0])
    found = Finding.objects.filter(job=job, kind="segmentation")
    large = [n for n in truth.nodules if n.diameter_mm >= 10]
    assert large, "the demo phantom has nodules of 10 mm and more"
    for nodule in large:
        distances = [
            np.linalg.norm(np.asarray(f.centroid_lps) - np.asarray(nodule.center_lps))
            for f in found
        ]
        assert distances and min(distances) < nodule.diameter_mm / 2, nodule
    assert all(f.status == "pending" for f in found)
    assert any(f.urgent for f in found)  # a nodule over 8 mm is urgent

    # The patient's doctor finds the study at the top of the worklist, done and urgent.
    from imaging.review.worklist import worklist_studies

    (row,) = worklist_studies(user=owner)
    assert (row.pk, row.ai_status, row.ai_urgent) == (study.pk, "done", True)
