"""The DICOM C-STORE SCP: modalities and other PACS push instances here (DIMSE over TCP).

Every storage SOP class in the common transfer syntaxes, plus Verification (C-ECHO). Received
datasets are handed to the ingest service as received — never decoded and re-encoded — with one
ingest session (so one audit row per study) per association.
"""

import logging
import socket
import threading

from django.db import close_old_connections
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from clinic.audit import Actor

from .services import IngestSession

logger = logging.getLogger(__name__)

# Compressed syntaxes first: when a sender proposes its file's own compression beside the
# uncompressed syntaxes, accepting it stores the file as sent. Deflate is not accepted: the
# store serves frames from file offsets, which a deflated stream hides.
TRANSFER_SYNTAXES = [
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    ExplicitVRBigEndian,
]
SUCCESS = 0x0000
CANNOT_UNDERSTAND = 0xC000  # PS3.4 B.2.3: "Error: Cannot understand"
OUT_OF_RESOURCES = 0xA700


def build_ae(ae_title: str) -> AE:
    ae = AE(ae_title=ae_title)
    ae.maximum_pdu_size = 0  # no limit: fewer, larger PDUs
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    return ae


class StoreHandlers:
    """pynetdicom event handlers; one IngestSession per association (each runs in a thread)."""

    def __init__(self):
        self._sessions: dict[int, IngestSession] = {}
        self._lock = threading.Lock()

    def handlers(self) -> list:
        return [
            (evt.EVT_CONN_OPEN, self.on_open),
            (evt.EVT_C_STORE, self.on_store),
            (evt.EVT_C_ECHO, lambda event: SUCCESS),
            (evt.EVT_RELEASED, self.on_end),
            (evt.EVT_ABORTED, self.on_end),
            (evt.EVT_CONN_CLOSE, self.on_end),
        ]

    def on_open(self, event) -> None:
        # dcmtk peers leave Nagle on; without TCP_NODELAY each C-STORE response waits for a
        # delayed ACK (~40 ms on loopback).
        sock = getattr(event.assoc.dul.socket, "socket", None)
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _session(self, assoc) -> IngestSession:
        with self._lock:
            session = self._sessions.get(id(assoc))
            if session is None:
                close_old_connections()
                calling = assoc.requestor.ae_title.strip()
                address = assoc.requestor.address
                session = IngestSession(
                    actor=Actor(user=None, ip=address, user_agent=f"C-STORE {calling}"),
                    source=f"c-store:{calling}@{address}",
                )
                self._sessions[id(assoc)] = session
            return session

    def on_store(self, event):
        try:
            session = self._session(event.assoc)
            result = session.ingest(
                event.request.DataSet.getvalue(),
                transfer_syntax_uid=event.context.transfer_syntax,
            )
        except Exception:
            logger.exception("C-STORE from %s failed", event.assoc.requestor.ae_title)
            return _status(OUT_OF_RESOURCES, "The store failed; see the server log.")
        if result.ok:
            return SUCCESS
        return _status(CANNOT_UNDERSTAND, f"{result.code}: {result.message}")

    def on_end(self, event) -> None:
        with self._lock:
            session = self._sessions.pop(id(event.assoc), None)
        if session is not None:
            try:
                session.close()
            finally:
                close_old_connections()


def _status(code: int, comment: str) -> Dataset:
    status = Dataset()
    status.Status = code
    status.ErrorComment = comment[:64]
    return status


def start(*, ae_title: str, port: int, bind: str = "127.0.0.1", block: bool = True):
    """Serve until shut down; with ``block=False`` return the running server."""
    ae = build_ae(ae_title)
    return ae.start_server((bind, port), block=block, evt_handlers=StoreHandlers().handlers())
