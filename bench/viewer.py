"""How fast the study viewer loads a CT series in Chromium: time to the first image, time until
every frame is loaded and decoded, frames per second and bytes over the wire.

Everything runs on a throwaway set-up: a temporary var/ and media/ folder (its own SQLite
database, DICOM store, secret key and broker file), or PostgreSQL when ``DATABASE_URL`` is set
(a test database is created and dropped there). It makes a doctor with a care relation to a
patient and an authenticator (two-step sign-in), generates a synthetic chest CT (the demo
phantom, upsampled, with scanner noise; int16, 0.7 mm pixels, 1.0 mm slices) and ingests it
through ``IngestSession``, starts gunicorn (as production; ``--server runserver`` for Django's
development server) and drives Debian's Chromium with Playwright.

After one unmeasured visit (it warms the server), each run opens ``/studies/<pk>/viewer/`` in a
fresh browser context (empty HTTP cache; the sign-in cookie is reused) and reads the page's
Performance API marks ``aimass:first-image`` and ``aimass:all-frames``; ``--warm`` adds a visit
with the frames in the browser's HTTP cache. Times are from navigation start.

    .venv/bin/python bench/viewer.py                       # 300 x 512 x 512, 3 cold runs
    .venv/bin/python bench/viewer.py --runs 5 --warm --compressed jpegls
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/aimass .venv/bin/python bench/viewer.py

Needs the built viewer (``make viewer``; run here when static/viewer/viewer.js is missing) and
Chromium at /usr/bin/chromium (or CHROMIUM_PATH). Never part of the test suite.
"""

import argparse
import atexit
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRATCH = Path(tempfile.mkdtemp(prefix="aimass-bench-viewer-"))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["AIMASS_VAR_DIR"] = str(SCRATCH / "var")  # SQLite database, secret key, broker
os.environ["MEDIA_ROOT"] = str(SCRATCH / "media")  # STORAGES["dicom"] lives under it
os.environ["INFERENCE_ON_STABLE"] = "false"
os.environ["LOG_LEVEL"] = "WARNING"
# Playwright's sync API runs an event loop in this thread; the ORM calls around it are plain
# synchronous code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
import requests  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (Debian's Chromium)

VIEWER_JS = ROOT / "static" / "viewer" / "viewer.js"
COMPRESSED = {"jpegls": "JPEGLSLossless", "jpeg2000": "JPEG2000Lossless", "rle": "RLELossless"}


# --- Set-up -------------------------------------------------------------------------------------


def viewer_built() -> None:
    if VIEWER_JS.exists():
        return
    print("static/viewer/viewer.js is missing: running `make viewer` ...", flush=True)
    if subprocess.run(["make", "viewer"], cwd=ROOT).returncode != 0 or not VIEWER_JS.exists():
        raise SystemExit("The viewer is not built; run `make viewer` (needs npm) and try again.")


def doctor_and_patient():
    """Dr Alice (cardiology, an authenticator set up) who saw the patient in clinic."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from clinic.models import Role
    from tests.factories import (
        PASSWORD,
        DepartmentFactory,
        EncounterFactory,
        PatientFactory,
        PractitionerFactory,
        UserFactory,
    )

    cardiology = DepartmentFactory(code="cardiology", name="心血管内科", name_en="Cardiology")
    doctor = UserFactory(
        username="alice", full_name="王丽", role=Role.DOCTOR, department=cardiology
    )
    PractitionerFactory(user=doctor, department=cardiology)
    patient = PatientFactory(name="张伟")
    EncounterFactory(patient=patient, practitioner=doctor, department=cardiology)
    device = TOTPDevice.objects.create(user=doctor, name="authenticator", confirmed=True)
    return doctor, PASSWORD, device, patient


def ct_volume(slices: int, size: int) -> np.ndarray:
    """HU [slice, row, column]: the demo chest phantom drawn at a quarter of the voxels (drawing
    it at full size takes about a minute), upsampled, then scanner noise added."""
    from scipy import ndimage

    from imaging.ai.demo.phantom import chest_ct_phantom

    coarse = (max(1, round(slices / 3)), max(1, size // 2), max(1, size // 2))
    spacing = (slices * 1.0 / coarse[0], size * 0.7 / coarse[1], size * 0.7 / coarse[2])
    phantom = chest_ct_phantom(7, shape=coarse, spacing=spacing, noise_hu=0, dicom=False)
    zoom = (slices / coarse[0], size / coarse[1], size / coarse[2])
    hu = ndimage.zoom(phantom.hu, zoom, order=1)[:slices, :size, :size]
    rng = np.random.default_rng(7)
    for k in range(hu.shape[0]):  # slice by slice: a float32 copy of the volume is 300 MB
        hu[k] += ndimage.gaussian_filter(rng.standard_normal(hu.shape[1:], np.float32), 0.6) * 30
    return np.clip(np.rint(hu), -1024, 3071)


def study_create(*, patient, slices: int, size: int, compressed: str | None):
    """Generate the series and store it as a modality would; returns (study, stored bytes)."""
    from clinic.audit import Actor
    from imaging.models import Study
    from imaging.services import IngestSession
    from tests.ai_core.builders import ct_series

    hu = ct_volume(slices, size)
    datasets = ct_series(
        hu,
        spacing=(1.0, 0.7, 0.7),
        origin=(-(size - 1) * 0.35, -(size - 1) * 0.35, -150.0 - (slices - 1) * 0.5),
        patient_id=patient.mrn,
        series_description=f"Chest CT {slices} x {size} (bench)",
        shuffle=False,
    )
    del hu
    stored = 0
    with IngestSession(actor=Actor.system(None), source="bench") as ingest:
        for ds in datasets:
            if compressed:
                ds.compress(getattr(pydicom.uid, COMPRESSED[compressed]))
            buffer = io.BytesIO()
            pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
            result = ingest.ingest(buffer.getvalue())
            if not result.ok:
                raise SystemExit(f"ingest failed: {result.code} {result.message}")
            stored += buffer.tell()
    return Study.objects.get(study_uid=datasets[0].StudyInstanceUID), stored


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = db.get("USER") or ""
    if credentials and db.get("PASSWORD"):
        credentials += f":{db['PASSWORD']}"
    credentials += "@" if credentials else ""
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{credentials}{host}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_start(kind: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    """The app on a real socket, in its own process, on this set-up's database and store.
    WhiteNoise serves static/viewer/ from both servers (DEBUG off)."""
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_DEBUG": "false"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE")
    if kind == "gunicorn":
        command = [
            sys.executable, "-m", "gunicorn", "config.wsgi",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--worker-class", "gthread", "--threads", str(threads), "--log-level", "warning",
        ]  # fmt: skip
    else:
        command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    log = open(SCRATCH / "server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        if server.poll() is not None:
            break
        try:
            if requests.get(f"{base}/healthz", timeout=1).ok:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the server did not start:\n{(SCRATCH / 'server.log').read_text()[-3000:]}")


# --- Browser ------------------------------------------------------------------------------------


def authenticator_code(device) -> str:
    """The code the doctor's authenticator app shows now (tests/conftest.py does the same)."""
    from django_otp.oath import TOTP

    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.t() <= device.last_t:  # a code is accepted once; the next step is allowed
        totp.time += device.step
    # Inside Playwright's greenlet Django has a connection of its own; close it here, or it
    # keeps PostgreSQL from dropping the test database at the end.
    connection.close()
    return f"{totp.token():0{device.digits}d}"


def signed_in_state(browser, base: str, doctor, password: str, device) -> dict:
    """Sign in through the pages once (password, then the TOTP code), as tests/e2e/conftest.py
    ``log_in`` does; returns the cookies for the measured contexts."""
    context = browser.new_context(base_url=base, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto("/accounts/login/")
    page.fill("#id_username", doctor.username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=mfa-verify]")
    page.fill("#id_code", authenticator_code(device))
    with page.expect_navigation():
        page.click("[data-testid=mfa-submit]")
    page.wait_for_selector("[data-testid=logout]")
    state = context.storage_state()
    context.close()
    return state


class Traffic:
    """Bytes received and frame requests, from the DevTools protocol (no buffer limit, unlike
    Resource Timing's 250 entries)."""

    def __init__(self, context, page):
        self.bytes = 0
        self.frames = 0
        self.cached = 0
        self.http_errors = []
        self.urls = {}
        cdp = context.new_cdp_session(page)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.send("Network.enable")

    def _response(self, event):
        self.urls[event["requestId"]] = event["response"]["url"]
        if event["response"]["status"] >= 400:
            self.http_errors.append(
                f"http {event['response']['status']}: {event['response']['url']}"
            )
        if event["response"].get("fromDiskCache") or event["response"].get("fromMemoryCache"):
            self.cached += 1

    def _finished(self, event):
        self.bytes += event.get("encodedDataLength", 0)
        if "/frames/" in self.urls.get(event["requestId"], ""):
            self.frames += 1


def viewer_open(context, study, timeout_s: float, problems: list) -> dict:
    """Open the viewer in a new page of ``context``; wait for the all-frames mark. Console errors
    and warnings go to ``problems``; the row counts them and the frames the viewer gave up on
    (it logs "frame failed" and still counts the frame, so all-frames comes anyway)."""
    seen = []
    page = context.new_page()
    page.on(
        "console",
        lambda m: (
            seen.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None
        ),
    )
    page.on("pageerror", lambda e: seen.append(f"pageerror: {e}"))
    traffic = Traffic(context, page)
    page.goto(f"/studies/{study.pk}/viewer/", wait_until="commit")
    try:
        page.wait_for_selector(
            "#viewer[data-all-frames=true]", state="attached", timeout=timeout_s * 1000
        )
    except Exception:  # noqa: BLE001  (a Playwright timeout: report what the page reached)
        seen.append(
            f"no all-frames mark after {timeout_s:.0f} s; status line: "
            f"{page.inner_text('[data-testid=viewer-status]')!r}"
        )
    marks = dict(
        json.loads(
            page.evaluate(
                "JSON.stringify(performance.getEntriesByType('mark')"
                ".map(m => [m.name, m.startTime]))"
            )
        )
    )
    nav = json.loads(page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])"))
    page.close()
    start = nav["startTime"]
    seen += traffic.http_errors
    problems.extend(seen)
    return {
        "ttfb": nav["responseStart"] - start,
        "dcl": nav["domContentLoadedEventEnd"] - start,
        "first": marks.get("aimass:first-image", float("nan")) - start,
        "all": marks.get("aimass:all-frames", float("nan")) - start,
        "bytes": traffic.bytes,
        "frame_requests": traffic.frames,
        "cached": traffic.cached,
        "frames_failed": sum(
            1 for text in seen if text.startswith("console.warning: frame failed")
        ),
        "errors": sum(1 for text in seen if not text.startswith("console.warning")),
    }


# --- Report -------------------------------------------------------------------------------------


def table(rows: list[tuple[str, dict]], slices: int) -> None:
    header = (
        f"{'run':<8} {'TTFB':>8} {'DOM ready':>10} {'1st image':>10} {'all frames':>11} "
        f"{'frames/s':>9} {'MB recv':>8} {'frame reqs':>10} {'from cache':>10} {'failed':>7} "
        f"{'errors':>7}"
    )
    print(header)
    print("-" * len(header))

    def line(name, r):
        fps = slices / (r["all"] / 1000) if r["all"] == r["all"] and r["all"] > 0 else float("nan")
        print(
            f"{name:<8} {r['ttfb']:>6.0f}ms {r['dcl']:>8.0f}ms {r['first']:>8.0f}ms "
            f"{r['all']:>9.0f}ms {fps:>9.1f} {r['bytes'] / 1e6:>8.1f} "
            f"{r['frame_requests']:>10.0f} {r['cached']:>10.0f} {r['frames_failed']:>7.0f} "
            f"{r['errors']:>7.0f}"
        )

    cold = [r for name, r in rows if name.startswith("cold")]
    for name, r in rows:
        line(name, r)
    if len(cold) > 1:
        print("-" * len(header))
        median = {key: statistics.median(r[key] for r in cold) for key in cold[0]}
        line("median", median)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512, help="rows = columns")
    parser.add_argument("--runs", type=int, default=3, help="cold runs (fresh browser context)")
    parser.add_argument(
        "--warm", action="store_true", help="one more run, frames in the HTTP cache (on disk)"
    )
    parser.add_argument(
        "--compressed",
        choices=sorted(COMPRESSED),
        help="store lossless-compressed; the viewer decodes these with WebAssembly, which the\n"
        "CSP must allow ('wasm-unsafe-eval' in script-src), or every frame fails",
    )
    parser.add_argument("--server", choices=("gunicorn", "runserver"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per run")
    parser.add_argument("--headed", action="store_true", help="show the browser window")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    viewer_built()

    old = setup_databases(verbosity=0, interactive=False)
    server = None
    try:
        doctor, password, device, patient = doctor_and_patient()
        began = time.perf_counter()
        study, stored = study_create(
            patient=patient, slices=args.slices, size=args.size, compressed=args.compressed
        )
        prepared = time.perf_counter() - began
        port = free_port()
        connection.close()  # SQLite: leave the file to the server
        server = server_start(args.server, port, args.workers, args.threads)
        base = f"http://127.0.0.1:{port}"
        rows, problems = measure(args, base, study, doctor, password, device)
        print()
        print(
            f"viewer: {args.slices} slices of {args.size}x{args.size} int16, "
            f"{args.compressed or 'Explicit VR Little Endian'}, {stored / 1e6:.1f} MB stored "
            f"(generated and ingested in {prepared:.0f} s)"
        )
        print(
            f"server: {args.server}"
            + (
                f" ({args.workers} workers x {args.threads} threads)"
                if args.server == "gunicorn"
                else ""
            )
            + f" on {connection.vendor}; Chromium {CHROMIUM}; {os.cpu_count()} CPUs"
        )
        print("times from navigation start; frames/s = slices / all-frames time\n")
        table(rows, args.slices)
        if any(r["frames_failed"] for _, r in rows):
            print(
                "\nWARNING: the viewer failed to load or decode some frames (column 'failed'); it "
                "counts them as loaded, so 'all frames' is not a full load for those runs."
            )
        if problems:
            counts = Counter(text[:240] for text in problems)
            print(
                f"\n{len(problems)} console error(s)/warning(s) in the page, {len(counts)} kinds:"
            )
            for text, count in counts.most_common(8):
                print(f"  {count:>5} x {text}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
        connection.close()
        teardown_databases(old, verbosity=0)


def measure(args, base, study, doctor, password, device):
    """The runs. First an unmeasured visit that warms the server (each worker's imports,
    connections and code paths) and fills an on-disk browser profile; then ``args.runs`` cold
    visits, each in a fresh incognito context (empty HTTP cache, same sign-in cookie); with
    ``--warm`` the on-disk profile once more, whose HTTP cache now holds the frames (an
    incognito context's cache lives in memory and is too small for a 150 MB series)."""
    from playwright.sync_api import sync_playwright

    rows, problems = [], []
    page_options = {"base_url": base, "locale": "zh-CN", "viewport": {"width": 1280, "height": 900}}
    with sync_playwright() as playwright:

        def profile_visit():
            context = playwright.chromium.launch_persistent_context(
                SCRATCH / "profile",
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                headless=not args.headed,
                **page_options,
            )
            context.add_cookies(state["cookies"])
            row = viewer_open(context, study, args.timeout, problems)
            context.close()
            return row

        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=not args.headed
        )
        state = signed_in_state(browser, base, doctor, password, device)
        row = profile_visit()
        print(f"warm-up: first image {row['first']:.0f} ms, all {row['all']:.0f} ms", flush=True)
        for n in range(1, args.runs + 1):
            context = browser.new_context(storage_state=state, **page_options)
            row = viewer_open(context, study, args.timeout, problems)
            context.close()
            rows.append((f"cold {n}", row))
            print(
                f"cold {n}: first image {row['first']:.0f} ms, all {row['all']:.0f} ms", flush=True
            )
        browser.close()
        if args.warm:
            rows.append(("warm", profile_visit()))
    return rows, problems


if __name__ == "__main__":
    main()
