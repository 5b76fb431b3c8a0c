"""Compressed studies in the viewer: the browser decodes JPEG 2000 and RLE frames (WebAssembly
codecs in web workers, under the site's Content-Security-Policy) into the same picture, and MPR
shows the volume in three planes."""

import io

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import JPEG2000Lossless, RLELossless

from clinic.audit import Actor
from tests.ai_core.builders import ct_series
from tests.review.conftest import SPACING, nodules_hu, study_ingest

from .conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def grey(page) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("L")).astype(int)


def at(page, shot, column, row) -> int:
    x, y = page.evaluate(f"window.aimassViewer.imageToPage({column}, {row})")
    return shot[round(y), round(x)]


@pytest.mark.parametrize("syntax", [JPEG2000Lossless, RLELossless], ids=["jpeg2000", "rle"])
def test_compressed_frames_render_the_same_picture(page, owner, patient, admin_user, syntax):
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    datasets = ct_series(
        nodules_hu([(3, 12, 12, 6.0), (9, 30, 26, 4.0)]),
        spacing=SPACING,
        origin=(0.0, 0.0, 0.0),
        patient_id=patient.mrn,
    )
    for ds in datasets:
        ds.compress(syntax)
    study = study_ingest(datasets, Actor(user=admin_user))
    log_in(page, owner, start="/")
    page.goto(f"/studies/{study.pk}/viewer/")
    page.wait_for_selector("#viewer[data-all-frames=true]", state="attached", timeout=30_000)
    uids = page.evaluate("window.aimassViewer.state.images.map(i => i.sop)")
    sphere_slice = next(ds for ds in datasets if float(ds.ImagePositionPatient[2]) == 6.0)
    page.evaluate(f"window.aimassViewer.setIndex({uids.index(sphere_slice.SOPInstanceUID)})")
    page.wait_for_timeout(500)
    shot = grey(page)
    assert at(page, shot, 12.5, 12.5) > 150  # the sphere's centre: soft tissue
    assert at(page, shot, 30.5, 40.5) < 40  # air
    assert problems == []

    # MPR: three panes; the coronal plane through the volume's centre row cuts the second sphere.
    page.click("[data-action=mpr]")
    page.wait_for_timeout(2500)
    shot = grey(page)
    panes = page.locator("[data-mpr]")
    assert panes.count() == 3
    bright = []
    for i in range(3):
        box = panes.nth(i).bounding_box()
        region = shot[
            round(box["y"]) : round(box["y"] + box["height"]),
            round(box["x"]) : round(box["x"] + box["width"]),
        ]
        bright.append(int((region > 150).sum()))
    assert bright[0] > 0 and bright[2] > 0, bright  # axial and coronal show tissue
