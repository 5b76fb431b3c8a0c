"""Sending text messages (one-time codes) through a pluggable backend.

``SMS_BACKEND`` names the class. The default writes each message to the log (and so the
console of ``make run``) for development; a hospital points it at its SMS gateway's adapter,
a class with ``send(phone, text)``. ``LocmemSmsBackend`` keeps messages in memory for tests.
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("aimass.sms")


class ConsoleSmsBackend:
    def send(self, phone: str, text: str) -> None:
        logger.warning("SMS to %s: %s", phone, text)


class LocmemSmsBackend:
    """Keeps sent messages in ``outbox`` (a list of (phone, text)), like Django's mail.outbox."""

    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        type(self).outbox.append((phone, text))


def send_sms(phone: str, text: str) -> None:
    backend = import_string(settings.SMS_BACKEND)()
    backend.send(phone, text)
