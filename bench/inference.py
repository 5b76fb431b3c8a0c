"""The model service's overhead and throughput, with a real worker process.

For N synthetic chest CT studies (imaging.ai.demo.phantom) stored into a fresh database, it
measures:

- the pure forward pass of the model on each volume, in this process, warm (the inferer alone:
  what the model costs);
- submit → findings stored, one study at a time, through the queue and a worker (what a doctor
  waits): read from storage, volume, pre/post-processing, components, SEG + SR built and stored;
- studies per minute with one worker, all N submitted at once.

The ratio of the two first numbers is the pipeline's overhead.

    .venv/bin/python bench/inference.py [--studies 6] [--bundle imaging/ai/demo/lung_nodule_ct]

Uses the embedded broker by default; REDIS_URL / DATABASE_URL as set. INFERENCE_DEVICE=cuda to
run on a GPU.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
MEDIA = Path(tempfile.mkdtemp(prefix="aimass-bench-media-"))
os.environ["MEDIA_ROOT"] = str(MEDIA)
os.environ["MODEL_CACHE_DIR"] = str(MEDIA / "model-cache")
os.environ["INFERENCE_ON_STABLE"] = "false"

import django  # noqa: E402

django.setup()

import pydicom  # noqa: E402
import torch  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from clinic.audit import Actor  # noqa: E402
from imaging.ai.bundle import bundle_inspect  # noqa: E402
from imaging.ai.demo.phantom import chest_ct_phantom  # noqa: E402
from imaging.ai.runner import bundle_load, run  # noqa: E402
from imaging.ai.volume import volume_from_datasets  # noqa: E402
from imaging.inference import inference_request  # noqa: E402
from imaging.models import InferenceJob, JobStatus, Study  # noqa: E402
from imaging.registry import model_version_import  # noqa: E402
from imaging.services import IngestSession  # noqa: E402

DEFAULT_BUNDLE = ROOT / "imaging" / "ai" / "demo" / "lung_nodule_ct"


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = f"{db['USER']}@" if db.get("USER") else ""
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{user}{host}/{db['NAME']}"


def _store(datasets) -> None:
    with IngestSession(actor=Actor(user=None), source="bench") as session:
        for ds in datasets:
            buffer = io.BytesIO()
            pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
            assert session.ingest(buffer.getvalue()).ok


def _wait(job_ids: list[int], timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while InferenceJob.objects.filter(
        pk__in=job_ids, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).exists():
        if time.monotonic() > deadline:
            raise SystemExit("jobs did not finish")
        time.sleep(0.05)
    failed = InferenceJob.objects.filter(pk__in=job_ids).exclude(status=JobStatus.SUCCEEDED)
    if failed.exists():
        job = failed.first()
        raise SystemExit(
            f"job {job.pk} {job.status}: {job.error_code} {job.error_message}\n{job.log}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=6)
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    args = parser.parse_args()
    device = torch.device(
        settings.INFERENCE_DEVICE or ("cuda" if torch.cuda.is_available() else "cpu")
    )

    old = setup_databases(verbosity=0, interactive=False)
    worker = None
    try:
        version = model_version_import(source=args.bundle, actor=Actor.system(None), activate=True)
        phantoms = [chest_ct_phantom(1000 + i, patient_id=f"BENCH{i}") for i in range(args.studies)]

        # Pure forward pass, warm, in this process.
        loaded = bundle_load(bundle_inspect(args.bundle), device=device)
        volumes = [volume_from_datasets(p.datasets) for p in phantoms]
        run(loaded, volumes[0])  # warm-up
        forward, in_process = [], []
        for volume in volumes:
            result = run(loaded, volume)
            forward.append(result.seconds_forward)
            in_process.append(result.seconds_total)

        env = {**os.environ, "DATABASE_URL": _database_url(), "PYTHONUNBUFFERED": "1"}
        log = open(MEDIA / "worker.log", "w")  # noqa: SIM115
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "-Q",
                "gpu",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for phantom in phantoms:
            _store(phantom.datasets)
        studies = [
            Study.objects.prefetch_related("series").get(study_uid=p.study_instance_uid)
            for p in phantoms
        ]

        # Warm the worker (imports, model load) on the first study, not counted.
        jobs = inference_request(study=studies[0], actor=Actor.system(None), model=version.model)
        _wait([j.pk for j in jobs], timeout=600)

        # One at a time: submit -> findings stored.
        latency = []
        for study in studies:
            InferenceJob.objects.filter(study=study).delete()
            started = time.perf_counter()
            jobs = inference_request(study=study, actor=Actor.system(None), model=version.model)
            _wait([j.pk for j in jobs])
            latency.append(time.perf_counter() - started)

        # All at once: throughput of one worker.
        InferenceJob.objects.all().delete()
        started = time.perf_counter()
        ids = []
        for study in studies:
            ids += [
                j.pk
                for j in inference_request(
                    study=study, actor=Actor.system(None), model=version.model
                )
            ]
        _wait(ids)
        batch_seconds = time.perf_counter() - started

        shape = volumes[0].shape
        report = {
            "bundle": f"{version.model.name} {version.version}",
            "device": str(device),
            "studies": args.studies,
            "volume": list(shape),
            "forward_s_median": round(statistics.median(forward), 3),
            "run_in_process_s_median": round(statistics.median(in_process), 3),
            "submit_to_findings_s_median": round(statistics.median(latency), 3),
            "overhead_ratio": round(statistics.median(latency) / statistics.median(forward), 2),
            "studies_per_minute_one_worker": round(60 * args.studies / batch_seconds, 2),
        }
        print(json.dumps(report, indent=2))
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
