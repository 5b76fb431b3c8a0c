import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from imaging import scp


class Command(BaseCommand):
    help = "Run the DICOM C-STORE SCP (and C-ECHO) that ingests into the store."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=11112)
        parser.add_argument("--ae-title", default=settings.DICOM_AE_TITLE)
        parser.add_argument(
            "--bind",
            default="127.0.0.1",
            help="Address to listen on; 0.0.0.0 to accept modalities on the network.",
        )

    def handle(self, *args, **options):
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)
        server = scp.start(
            ae_title=options["ae_title"], port=options["port"], bind=options["bind"], block=False
        )
        self.stdout.write(
            f"DICOM SCP {options['ae_title']} listening on {options['bind']}:{options['port']}"
        )
        stopped = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.append(True))
        while not stopped:
            signal.pause()
        server.shutdown()
        self.stdout.write("DICOM SCP stopped.")
