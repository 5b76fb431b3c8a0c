"""How fast pynetdicom alone takes C-STOREs on this machine: an SCP whose handler stores nothing
answers storescu (dcmtk) sending every file of a folder over one association. AI Mass's C-STORE
rate can only approach this; the gap is the ingest itself.

Usage: .venv/bin/python bench/cstore_floor.py DIR [--port 11198]   (needs storescu from dcmtk)
"""

import argparse
import logging
import os
import socket
import subprocess
import time

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, AllStoragePresentationContexts, evt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--port", type=int, default=11198)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)

    ae = AE(ae_title="FLOOR")
    ae.maximum_pdu_size = 0  # as imaging/scp.py
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(
            context.abstract_syntax, [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
        )
    received = []

    def on_store(event):
        received.append(len(event.request.DataSet.getvalue()))  # as the SCP reads it
        return 0x0000

    def on_open(event):
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    server = ae.start_server(
        ("127.0.0.1", args.port),
        block=False,
        evt_handlers=[(evt.EVT_C_STORE, on_store), (evt.EVT_CONN_OPEN, on_open)],
    )
    try:
        for _ in range(args.runs):
            received.clear()
            start = time.perf_counter()
            subprocess.run(
                ["storescu", "-aec", "FLOOR", "+sd", "+r", "127.0.0.1", str(args.port),
                 args.folder],
                env={**os.environ, "TCP_NODELAY": "1"},
                check=True,
                capture_output=True,
            )
            seconds = time.perf_counter() - start
            print(
                f"{len(received)} instances in {seconds:.2f} s: {len(received) / seconds:.1f} /s, "
                f"{1000 * seconds / max(len(received), 1):.2f} ms each"
            )
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
