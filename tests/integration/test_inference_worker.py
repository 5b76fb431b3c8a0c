"""The model service end to end through a real worker: a stable study is routed, the model runs
on queue "gpu", findings land on the right pixels, a SEG and an SR are stored into the study."""

import io
import json
import math
import time

import numpy as np
import pydicom
import pytest
from django.core.management import call_command

from clinic.audit import Actor
from clinic.models import AuditEvent
from imaging.models import Finding, InferenceJob, JobStatus, RoutingRule, Series
from imaging.registry import model_version_import
from imaging.services import IngestSession
from tests.ai_core.builders import ct_series, sphere_hu, threshold_bundle
from tests.factories import PatientFactory
from tests.imaging.test_dicomweb import dicomweb  # noqa: F401, F811 (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

GEOMETRY = dict(row_cosine=(1.0, 0.0, 0.0), column_cosine=(0.0, 1.0, 0.0))
SPACING = (2.0, 1.5, 1.2)
ORIGIN = (-20.0, -30.0, -25.0)


def sphere_study(patient_id: str, *, slices: int = 24):
    centre = np.asarray(ORIGIN) + np.array([1.2 * 20.3, 1.5 * 17.6, 2.0 * min(13.2, slices / 2)])
    hu, mask = sphere_hu(
        (slices, 40, 36),
        spacing=SPACING,
        origin=ORIGIN,
        centre_lps=centre,
        radius_mm=7.0,
        **GEOMETRY,
    )
    return ct_series(hu, spacing=SPACING, origin=ORIGIN, patient_id=patient_id, **GEOMETRY), mask


def store(datasets) -> None:
    with IngestSession(actor=Actor(user=None), source="test") as session:
        for ds in datasets:
            buffer = io.BytesIO()
            pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
            assert session.ingest(buffer.getvalue()).ok


def wait_for_jobs(study_uid: str, count: int, timeout: float = 90.0) -> list[InferenceJob]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = list(InferenceJob.objects.filter(study__study_uid=study_uid).order_by("id"))
        if len(jobs) >= count and all(j.is_finished for j in jobs):
            return jobs
        time.sleep(0.3)
    raise AssertionError(f"jobs did not finish: {[(j.pk, j.status, j.log) for j in jobs]}")


@pytest.fixture
def lesion_model(tmp_path, worker_storage):
    version = model_version_import(
        source=threshold_bundle(tmp_path / "lesion-finder"), actor=Actor.system(None), activate=True
    )
    RoutingRule.objects.create(model=version.model, modality="CT", body_part="chest", min_slices=10)
    return version


def test_a_stable_study_is_routed_and_the_sphere_lands_on_its_pixels(lesion_model, settings):
    settings.STABLE_SECONDS = 1
    patient = PatientFactory()
    datasets, mask = sphere_study(patient.mrn)
    short, _ = sphere_study(patient.mrn, slices=5)
    for ds in short:  # a second, too short series of the same study
        ds.StudyInstanceUID = datasets[0].StudyInstanceUID
    store(datasets + short)
    study_uid = datasets[0].StudyInstanceUID

    jobs = wait_for_jobs(study_uid, 2)

    by_series = {j.series.series_uid: j for j in jobs}
    job = by_series[datasets[0].SeriesInstanceUID]
    assert job.status == JobStatus.SUCCEEDED, job.log
    assert (job.trigger, job.progress, job.attempts) == ("stable", 100, 1)
    skipped = by_series[short[0].SeriesInstanceUID]
    assert (skipped.status, skipped.error_code) == (JobStatus.SKIPPED, "too_few_slices")

    (finding,) = Finding.objects.filter(job=job)
    assert finding.model_version == lesion_model
    assert finding.status == "pending"
    assert abs(finding.diameter_mm - 14.0) <= max(SPACING)
    assert abs(finding.volume_mm3 - 4 / 3 * math.pi * 7.0**3) < 0.2 * 4 / 3 * math.pi * 7.0**3
    # Every frame the sphere touches, with its exact pixel box, on the right SOP instance.
    slice_of = {
        ds.SOPInstanceUID: int(round((ds.ImagePositionPatient[2] - ORIGIN[2]) / SPACING[0]))
        for ds in datasets
    }
    expected = {}
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        rows, cols = np.flatnonzero(mask[k].any(axis=1)), np.flatnonzero(mask[k].any(axis=0))
        expected[int(k)] = [int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])]
    got = {slice_of[i["sop_instance_uid"]]: i["bbox"] for i in finding.instances}
    assert got == expected

    # The SEG and the SR went back into the study as series of their own.
    exported = Series.objects.filter(study=job.study).exclude(modality="CT")
    assert sorted(s.modality for s in exported) == ["SEG", "SR"]
    assert all("AI" in s.series_description for s in exported)
    assert {job.seg_series_uid, job.sr_series_uid} == {s.series_uid for s in exported}
    # The SEG has the runs' mask on the right instances.
    assert AuditEvent.objects.filter(
        object_type="inferencejob", object_id=str(job.pk), patient=patient
    ).exists()

    # Storing the SEG and SR changed the study: it went stable again, but nothing re-ran.
    time.sleep(3)
    assert InferenceJob.objects.filter(study=job.study).count() == 2


def test_run_inference_waits_and_prints_the_contract_summary(lesion_model, capsys):
    patient = PatientFactory()
    datasets, _ = sphere_study(patient.mrn)
    with_settings = datasets
    store(with_settings)
    study_uid = datasets[0].StudyInstanceUID
    InferenceJob.objects.filter(study__study_uid=study_uid).delete()  # only the manual run

    call_command("run_inference", "--study", study_uid, "--model", "lesion-finder", "--wait")

    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    summary = json.loads(line)
    assert summary["status"] == "succeeded" and summary["error"] is None
    (finding,) = summary["findings"]
    assert finding["kind"] == "segmentation" and finding["label"] == "lesion"
    assert finding["score"] > 0.99
    assert {"sop_instance_uid", "frame", "bbox"} <= set(finding["instances"][0])


def test_a_model_that_raises_fails_with_code_and_log_and_leaves_no_findings(
    tmp_path, worker_storage
):
    root = threshold_bundle(tmp_path / "broken-model")
    config = json.loads((root / "configs" / "inference.json").read_text())
    config["postprocessing"]["transforms"].insert(
        0, {"_target_": "Lambdad", "keys": "pred", "func": "$lambda x: x.reshape(-1, 7, 3)"}
    )
    (root / "configs" / "inference.json").write_text(json.dumps(config))
    version = model_version_import(source=root, actor=Actor.system(None), activate=True)
    patient = PatientFactory()
    datasets, _ = sphere_study(patient.mrn)
    store(datasets)
    study_uid = datasets[0].StudyInstanceUID
    InferenceJob.objects.filter(study__study_uid=study_uid).delete()

    call_command("run_inference", "--study", study_uid, "--model", version.model.name)
    (job,) = wait_for_jobs(study_uid, 1)

    assert job.status == JobStatus.FAILED
    assert job.error_code == "model_error"
    assert "reshape" in job.error_message or "shape" in job.error_message
    assert "Traceback" in job.log
    assert not Finding.objects.filter(job=job).exists()
    assert not Series.objects.filter(study=job.study, modality__in=["SEG", "SR"]).exists()


def test_a_bundle_asking_for_saliency_gets_a_heatmap_overlay_on_its_frames(
    tmp_path, worker_storage, client_as, owner, outsider, patient
):
    from PIL import Image

    version = model_version_import(
        source=threshold_bundle(
            tmp_path / "explained-finder", metadata_extra={"x_aimass": {"saliency": "gradient"}}
        ),
        actor=Actor.system(None),
        activate=True,
    )
    datasets, mask = sphere_study(patient.mrn)
    store(datasets)
    study_uid = datasets[0].StudyInstanceUID
    InferenceJob.objects.filter(study__study_uid=study_uid).delete()

    call_command("run_inference", "--study", study_uid, "--model", version.model.name)
    (job,) = wait_for_jobs(study_uid, 1)

    assert job.status == JobStatus.SUCCEEDED, job.log
    heatmap = Finding.objects.get(job=job, kind="heatmap")
    assert heatmap.overlay_file and heatmap.label == "lesion"
    centre_slice = int(np.flatnonzero(mask.any(axis=(1, 2))).mean())
    by_position = {
        int(round((ds.ImagePositionPatient[2] - ORIGIN[2]) / SPACING[0])): ds for ds in datasets
    }
    sop_uid = by_position[centre_slice].SOPInstanceUID
    url = f"/findings/{heatmap.pk}/overlay/{sop_uid}.png"

    response = client_as(owner).get(url)

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    frame = np.asarray(Image.open(io.BytesIO(response.content)))
    assert frame.shape == (40, 36)
    assert frame[mask[centre_slice]].mean() > 4 * max(frame[~mask[centre_slice]].mean(), 1)
    assert client_as(outsider).get(url).status_code == 404


def test_the_seg_and_sr_are_retrievable_with_dicomweb_client(
    lesion_model, dicomweb, owner, patient  # noqa: F811 (the imported fixture)
):
    import highdicom as hd

    datasets, mask = sphere_study(patient.mrn)
    store(datasets)
    study_uid = datasets[0].StudyInstanceUID
    InferenceJob.objects.filter(study__study_uid=study_uid).delete()
    call_command("run_inference", "--study", study_uid, "--model", lesion_model.model.name)
    (job,) = wait_for_jobs(study_uid, 1)
    assert job.status == JobStatus.SUCCEEDED, job.log
    client = dicomweb(owner)

    found = client.search_for_series(study_uid, search_filters={"Modality": "SEG"})
    assert [s["0020000E"]["Value"][0] for s in found] == [job.seg_series_uid]
    (seg,) = client.retrieve_series(study_uid, job.seg_series_uid)
    seg = hd.seg.Segmentation.from_dataset(seg)
    finding = Finding.objects.get(job=job, kind="segmentation")
    volume = seg.get_volume(segment_numbers=[finding.segment_number], combine_segments=True)
    assert int(volume.array.sum()) == int(mask.sum())
    (sr,) = client.retrieve_series(study_uid, job.sr_series_uid)
    assert sr.Modality == "SR" and "AI" in sr.SeriesDescription
    assert sr.VerificationFlag == "UNVERIFIED"
