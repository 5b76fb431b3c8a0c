import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from clinic.audit import Actor
from clinic.models import Role
from imaging.models import ModelVersion
from imaging.review.dataset_export import review_dataset_export


class Command(BaseCommand):
    help = (
        "Write a model version's labelled review dataset (de-identified images, NIfTI masks, "
        "examples.json) as a zip; prints the export's counts as JSON. The export is audited."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version names the model version here, so it replaces Django's own --version.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("out", help="the zip to write")
        parser.add_argument("--model", required=True, help="registry name of the model")
        parser.add_argument("--version", required=True, dest="model_version", help="its version")
        parser.add_argument(
            "--user", help="username of the administrator the export is made for (audit trail)"
        )

    def handle(self, *args, **options):
        version = (
            ModelVersion.objects.select_related("model")
            .filter(model__name=options["model"], version=options["model_version"])
            .first()
        )
        if version is None:
            raise CommandError(
                f"not_found: no version {options['model_version']} of model {options['model']}."
            )
        actor = Actor.system(self._user(options.get("user")))
        out = Path(options["out"])
        if not out.parent.is_dir():
            raise CommandError(f"not_found: {out.parent} is not a folder.")
        # Written beside the target and renamed into place, so a failed export leaves no zip.
        fd, partial = tempfile.mkstemp(dir=out.parent, prefix=".export-", suffix=".zip")
        try:
            with os.fdopen(fd, "w+b") as stream:
                summary = review_dataset_export(
                    version=version,
                    actor=actor,
                    out=stream,
                    username="" if actor.user else "manage.py export_review_dataset",
                )
            os.replace(partial, out)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        self.stdout.write(json.dumps({"out": str(out), **asdict(summary)}))

    def _user(self, username: str | None):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None or user.role != Role.ADMIN:
            raise CommandError(f"not_an_admin: {username} is not an active administrator.")
        return user
