"""The audit trail as CSV for an inspector: UTF-8 with a byte-order mark (Excel), one row per
event in chain order, with the values the hash covers written as the hash covers them (time in
UTC, details as canonical JSON) beside ``seq``, ``prev_hash`` and ``hash``."""

import csv
from collections.abc import Iterable, Iterator

from .audit_chain import canonical_at, canonical_details
from .models import AuditEvent

HEADER = [
    "seq",
    "at_utc",
    "user_id",
    "username",
    "role",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "patient_mrn",
    "ip",
    "user_agent",
    "reason",
    "flagged",
    "details",
    "prev_hash",
    "hash",
]

# A cell starting with one of these is a formula to Excel; user names of failed log-ins and
# user agents are chosen by whoever sends the request (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text


class _Line:
    """A file-like sink for csv.writer that hands each written line back."""

    def write(self, line: str) -> str:
        return line


def audit_csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """CSV text, a line at a time, for a streaming response; the first starts with the BOM."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(HEADER)
    for event in events:
        yield writer.writerow(
            [
                event.seq,
                canonical_at(event.at),
                event.user_id or "",
                _cell(event.username),
                event.role,
                event.action,
                event.object_type,
                _cell(event.object_id),
                event.patient_id or "",
                event.patient.mrn if event.patient_id else "",
                event.ip or "",
                _cell(event.user_agent),
                _cell(event.reason),
                "true" if event.flagged else "false",
                canonical_details(event.details),
                event.prev_hash,
                event.hash,
            ]
        )
