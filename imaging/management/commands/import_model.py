import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clinic.audit import Actor
from imaging.ai.bundle import BundleError
from imaging.registry import model_version_import


class Command(BaseCommand):
    help = (
        "Register a MONAI Bundle (folder or .zip) as a new model version; "
        'prints {"name": ..., "version": ...}.'
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="bundle folder or zip")
        parser.add_argument("--activate", action="store_true", help="make it the active version")
        parser.add_argument("--name", help="registry name (default: from the bundle)")

    def handle(self, *args, **options):
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"not_found: {path} does not exist.")
        try:
            version = model_version_import(
                source=path,
                actor=Actor.system(None),
                activate=options["activate"],
                name=options["name"],
            )
        except BundleError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(json.dumps({"name": version.model.name, "version": version.version}))
