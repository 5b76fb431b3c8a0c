import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clinic.audit import Actor
from imaging.inference import inference_request
from imaging.models import AIModel, InferenceJob, JobStatus, Study
from imaging.selectors import job_summary


class Command(BaseCommand):
    help = (
        "Queue inference on a study's series (every routed model, or --model). With --wait, "
        "block until the jobs end and print each job's JSON summary, one per line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--study", required=True, help="Study Instance UID")
        parser.add_argument("--model", help="model name (default: every model routed to it)")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            help="seconds to wait (default: the inference time limit)",
        )

    def handle(self, *args, **options):
        study = Study.objects.prefetch_related("series").filter(study_uid=options["study"]).first()
        if study is None:
            raise CommandError(f"not_found: no study {options['study']}.")
        model = None
        if options["model"]:
            model = AIModel.objects.filter(name=options["model"]).first()
            if model is None:
                raise CommandError(f"not_found: no model {options['model']!r}.")
            if model.active_version is None:
                raise CommandError(f"no_active_version: {model.name} has no active version.")
        jobs = inference_request(study=study, actor=Actor.system(None), model=model)
        if not jobs:
            raise CommandError("no_model: no active model is routed to this study's series.")
        if not options["wait"]:
            for job in jobs:
                self.stdout.write(json.dumps({"job": job.pk, "status": job.status}))
            return
        deadline = time.monotonic() + (options["timeout"] or settings.INFERENCE_TIME_LIMIT_SECONDS)
        ids = [job.pk for job in jobs]
        while InferenceJob.objects.filter(
            pk__in=ids, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).exists():
            if time.monotonic() > deadline:
                raise CommandError(f"timeout: jobs {ids} have not finished; is a worker running?")
            time.sleep(0.5)
        failed = False
        for job in InferenceJob.objects.filter(pk__in=ids).order_by("pk"):
            summary = job_summary(job)
            failed = failed or summary["status"] != "succeeded"
            self.stdout.write(json.dumps(summary))
        if failed:
            raise SystemExit(1)
