"""The fastest any server can answer the DICOMweb harness's frame requests on this machine.

The harness fetches frames with a Python client (requests, one process, N threads), which costs
CPU of its own on the same cores. To know how much of a frames/s figure is the server's, this
measures two servers that do no work at all, answering the same URLs with the same multipart
bodies prepared as files:

* a WSGI app of a few lines (``application`` below) under the same gunicorn settings as
  ``dicomweb_server.sh``: the ceiling for any Django app under gunicorn;
* nginx serving the files with sendfile: the ceiling for any server.

Usage::

    .venv/bin/python bench/frames_floor.py prepare --data-dir DATA --out /tmp/floor
    FRAMES_FLOOR_ROOT=/tmp/floor .venv/bin/gunicorn bench.frames_floor --bind 127.0.0.1:8098 \\
        --workers 3 --worker-class gthread --threads 4
    .venv/bin/python bench/frames_floor.py nginx-conf --out /tmp/floor > /tmp/floor/nginx.conf
    nginx -c /tmp/floor/nginx.conf              # listens on 127.0.0.1:8099
    # then the harness with --url http://127.0.0.1:8098/dicomweb (or 8099) --tests frames
"""

import argparse
import json
import os
import sys

BOUNDARY = "floor"
CONTENT_TYPE = f'multipart/related; type="application/octet-stream"; boundary={BOUNDARY}'


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/dicomweb/studies":  # the harness's opening QIDO probe
        start_response("200 OK", [("Content-Type", "application/dicom+json")])
        return [b"[]"]
    root = os.environ["FRAMES_FLOOR_ROOT"]
    full = os.path.normpath(os.path.join(root, path.lstrip("/")))
    if not full.startswith(root) or not os.path.isfile(full):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    with open(full, "rb") as f:
        body = f.read()
    start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
    return [body]


def prepare(data_dir: str, out: str) -> None:
    import pydicom

    manifest = json.load(open(os.path.join(data_dir, "manifest.json")))
    count = 0
    for study in manifest["studies"]:
        for item in study["files"]:
            folder = os.path.join(
                out, "dicomweb", "studies", study["study_uid"], "series", study["series_uid"],
                "instances", item["sop_uid"], "frames",
            )
            os.makedirs(folder, exist_ok=True)
            pixels = pydicom.dcmread(os.path.join(data_dir, item["path"])).PixelData
            head = (
                f"--{BOUNDARY}\r\nContent-Type: application/octet-stream; "
                "transfer-syntax=1.2.840.10008.1.2.1\r\n\r\n"
            ).encode()
            with open(os.path.join(folder, "1"), "wb") as f:
                f.write(head + pixels + f"\r\n--{BOUNDARY}--\r\n".encode())
            count += 1
    print(f"{count} frame bodies under {out}")


NGINX_CONF = """worker_processes 1;
pid {out}/nginx.pid;
error_log {out}/nginx-error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  sendfile on; tcp_nodelay on; keepalive_requests 100000;
  server {{
    listen 127.0.0.1:8099;
    location = /dicomweb/studies {{ default_type application/dicom+json; return 200 "[]"; }}
    location /dicomweb/ {{ root {out}; default_type '{content_type}'; }}
  }}
}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="write each frame's multipart body under OUT")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    n = sub.add_parser("nginx-conf", help="print an nginx configuration serving OUT")
    n.add_argument("--out", required=True)
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    if args.command == "prepare":
        prepare(args.data_dir, out)
    else:
        sys.stdout.write(NGINX_CONF.format(out=out, content_type=CONTENT_TYPE))


if __name__ == "__main__":
    main()
