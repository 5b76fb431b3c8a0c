"""The doctor's review in Chromium: the viewer draws the model's nodules on their own pixels, the
doctor scrolls, accepts one, rejects one, corrects one, adds a missed one and signs; the report and
a verified SR exist and the SR comes back over DICOMweb. An outsider gets 404."""

import io

import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from PIL import Image

from imaging.models import Finding, FindingReview, Instance, StudyReport
from imaging.review.masks import finding_mask_frames

from ..conftest import api_session
from .conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VIEWER = "#viewer"


def open_viewer(page, study):
    page.goto(f"/studies/{study.pk}/viewer/")
    page.wait_for_selector(f"{VIEWER}[data-first-image=true]", state="attached", timeout=30_000)
    page.wait_for_selector(f"{VIEWER}[data-all-frames=true]", state="attached", timeout=30_000)
    page.wait_for_selector("[data-testid=finding]")


def screenshot(page) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(int)


def to_page(page, column: float, row: float) -> tuple[int, int]:
    x, y = page.evaluate(f"window.aimassViewer.imageToPage({column}, {row})")
    return round(x), round(y)


def index_of(page) -> int:
    return int(page.get_attribute(VIEWER, "data-index"))


def go_to_frame(page, finding: Finding, frame_item: dict):
    """Scroll (with the keyboard, as a reader does) to the image of ``frame_item``."""
    uids = page.evaluate("window.aimassViewer.state.images.map(i => i.sop)")
    target = uids.index(frame_item["sop_instance_uid"])
    page.click("[data-testid=viewport]")
    for _ in range(40):
        here = index_of(page)
        if here == target:
            break
        page.keyboard.press("ArrowDown" if here < target else "ArrowUp")
        page.wait_for_function(f"() => window.aimassViewer.state.index !== {here}")
    assert index_of(page) == target
    page.wait_for_timeout(300)


def mask_pixels(item: dict) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the mask's pixels, in image indices."""
    c0, r0, c1, r1 = item["bbox"]
    bits, value = [], 0
    for run in item["mask"]:
        bits.extend([value] * run)
        value ^= 1
    grid = np.array(bits).reshape(r1 - r0 + 1, c1 - c0 + 1)
    rows, columns = np.nonzero(grid)
    return rows + r0, columns + c0


def is_overlay(pixel) -> bool:
    r, g, b = pixel
    return r - g > 60 and r - b > 60  # the first label's colour is red; the image is grey


def test_the_viewer_draws_each_nodule_on_its_own_pixels_and_scrolls(
    page, owner, three_nodule_study
):
    study = three_nodule_study
    log_in(page, owner, start="/")
    open_viewer(page, study)
    largest = Finding.objects.filter(study=study).order_by("-diameter_mm").first()
    frames = finding_mask_frames(largest)
    middle = frames[len(frames) // 2]
    go_to_frame(page, largest, middle)

    rows, columns = mask_pixels(middle)
    nodule = [to_page(page, c + 0.5, r + 0.5) for r, c in zip(rows, columns, strict=True)]
    # Around the nodule, beyond its box: nothing may be coloured there.
    c0, r0, c1, r1 = middle["bbox"]
    ring = [(c0 - 3, r) for r in range(r0, r1 + 1)] + [(c1 + 4, r) for r in range(r0, r1 + 1)]
    ring += [(c, r0 - 3) for c in range(c0, c1 + 1)] + [(c, r1 + 4) for c in range(c0, c1 + 1)]
    around = [to_page(page, c + 0.5, r + 0.5) for c, r in ring]

    shot = screenshot(page)
    share = np.mean([is_overlay(shot[y, x]) for x, y in nodule])
    assert share > 0.95, share  # the overlay covers the nodule's pixels ...
    assert not any(is_overlay(shot[y, x]) for x, y in around)  # ... and is not smeared or shifted

    # With the finding hidden, the CT itself shows there: soft tissue bright, air dark.
    page.uncheck(f"[data-finding-id='{largest.pk}'] input[data-toggle]")
    page.wait_for_timeout(300)
    plain = screenshot(page)
    tissue = np.mean([plain[y, x].mean() for x, y in nodule])
    air = np.mean([plain[y, x].mean() for x, y in around])
    assert tissue > 150 and air < 40, (tissue, air)
    assert not any(is_overlay(plain[y, x]) for x, y in nodule)

    # Scrolling with the mouse wheel moves to another image, and the picture changes.
    before = index_of(page)
    box = page.locator("[data-testid=viewport]").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 400)
    page.wait_for_function(f"() => window.aimassViewer.state.index !== {before}")
    page.wait_for_timeout(300)
    assert index_of(page) != before
    assert np.abs(screenshot(page) - plain).sum() > 0

    # Window presets from the keyboard, and an ellipse ROI on the nodule with its HU statistics.
    go_to_frame(page, largest, middle)
    page.keyboard.press("1")
    page.wait_for_timeout(200)
    assert page.inner_text("[data-testid=overlay-wl]") == "W 1500  L -600"
    page.click("[data-tool=ellipse]")
    cx, cy = (c0 + c1 + 1) / 2, (r0 + r1 + 1) / 2
    page.mouse.move(*to_page(page, cx - 2, cy - 2))
    page.mouse.down()
    page.mouse.move(*to_page(page, cx + 2, cy + 2), steps=4)
    page.mouse.up()
    (measurement,) = page.evaluate("window.aimassViewer.measurements()")
    assert measurement["tool"] == "EllipticalROI"
    assert measurement["stats"][0]["mean"] == pytest.approx(60, abs=1)  # soft tissue, in HU


def test_a_doctor_accepts_rejects_corrects_adds_and_signs(
    page, live_server, owner, three_nodule_study
):
    study = three_nodule_study
    big, middle, small = Finding.objects.filter(study=study).order_by("-diameter_mm")
    # From the worklist on the home page (in Chinese), where the study is flagged urgent.
    log_in(page, owner, start="/")
    row = page.locator(f"[data-testid=worklist] tr[data-study='{study.pk}']")
    assert f"{big.diameter_mm:.1f} mm" in row.inner_text()
    assert row.locator(".tag-urgent").count() == 1
    with page.expect_navigation():
        row.locator(f"a[href='/studies/{study.pk}/viewer/']").click()
    page.wait_for_selector(f"{VIEWER}[data-all-frames=true]", state="attached", timeout=30_000)
    page.wait_for_selector("[data-testid=finding]")
    assert page.inner_text("[data-testid=sign]") == "签发检查"

    # Accept the largest.
    page.click(f"[data-finding-id='{big.pk}'] [data-verdict=accepted]")
    page.wait_for_selector(f"[data-finding-id='{big.pk}'][data-status=accepted]")
    # Reject the middle one, with a reason from the list and a comment.
    page.click(f"[data-finding-id='{middle.pk}'] [data-verdict=rejected]")
    page.select_option("[data-testid=reject-form] select", "normal_anatomy")
    page.fill("[data-testid=reject-form] textarea", "血管断面 <b>vessel</b>")
    page.click("[data-testid=confirm-reject]")
    page.wait_for_selector(f"[data-finding-id='{middle.pk}'][data-status=rejected]")

    # Correct the smallest: move it 4 pixels right on its middle image, brush a pixel beside it.
    frames = finding_mask_frames(small)
    item = frames[len(frames) // 2]
    page.click(f"[data-finding-id='{small.pk}'] [data-verdict=edit]")
    page.wait_for_selector("[data-testid=edit-bar]:not([hidden])")
    go_to_frame(page, small, item)
    c0, r0, c1, r1 = item["bbox"]
    centre = ((c0 + c1 + 1) / 2, (r0 + r1 + 1) / 2)
    start = to_page(page, *centre)
    end = to_page(page, centre[0] + 4, centre[1])
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=5)
    page.mouse.up()
    page.click("[data-testid=edit-bar] [data-mode=brush]")
    page.fill("[data-testid=edit-bar] input[name=radius]", "1")
    brush_at = (c0 + 4 - 3, r0 + (r1 - r0) // 2)  # left of the moved box
    page.mouse.click(*to_page(page, brush_at[0] + 0.5, brush_at[1] + 0.5))
    page.click("[data-testid=save-edit]")
    page.wait_for_selector(f"[data-finding-id='{small.pk}'][data-status=edited]")

    review = FindingReview.objects.get(finding=small, current=True)
    assert review.verdict == "edited"
    assert review.original_geometry == small.instances  # the model's own is kept
    moved = next(g for g in review.geometry if g["sop_instance_uid"] == item["sop_instance_uid"])
    assert moved["bbox"][2] == c1 + 4
    assert moved["bbox"][0] <= brush_at[0]  # the brushed pixel widened the box
    rows, columns = mask_pixels(moved)
    assert (brush_at[1], brush_at[0]) in set(zip(rows.tolist(), columns.tolist(), strict=True))
    assert FindingReview.objects.get(finding=middle, current=True).reason == "normal_anatomy"

    # Add a finding the model missed: drag a box on an empty area of this image.
    page.click("[data-testid=add-finding]")
    page.fill("[data-testid=add-label]", "磨玻璃影 ground-glass")
    page.mouse.move(*to_page(page, 30.5, 5.5))
    page.mouse.down()
    page.mouse.move(*to_page(page, 36.5, 9.5), steps=4)
    page.mouse.up()
    page.click("[data-testid=save-edit]")
    page.wait_for_selector("[data-testid=finding][data-status=added]")
    added = Finding.objects.get(study=study, source="reader")
    assert added.label == "磨玻璃影 ground-glass"
    assert added.instances[0]["bbox"] == [30, 5, 36, 9]
    assert added.reviews.get().model_version == big.model_version  # charged as a miss

    # Sign: the report page opens, the report and the SR exist.
    page.fill(
        "[data-testid=impression]", "右肺上叶结节，建议3个月后复查。Follow-up CT in 3 months."
    )
    with page.expect_navigation():
        page.click("[data-testid=sign]")
    page.wait_for_selector("[data-testid=report]")
    assert "Follow-up CT in 3 months." in page.inner_text("[data-testid=report-impression]")
    rows = page.locator("[data-testid=report-findings] tbody tr")
    assert rows.count() == 4
    report = StudyReport.objects.get(study=study)
    assert report.status == "signed" and report.signed_by == owner

    client = DICOMwebClient(
        url=f"{live_server.url}/dicomweb",
        session=api_session(owner),
    )
    sr = client.retrieve_instance(study.study_uid, report.sr_series_uid, report.sr_sop_instance_uid)
    assert sr.Modality == "SR" and sr.VerificationFlag == "VERIFIED"
    assert sr.CompletionFlag == "COMPLETE"
    texts = [item.get("TextValue") for item in sr.ContentSequence]
    assert "右肺上叶结节，建议3个月后复查。Follow-up CT in 3 months." in texts

    # Back in the viewer the findings read "reviewed by" the doctor, and nothing can change.
    open_viewer(page, study)
    status = page.inner_text(f"[data-finding-id='{big.pk}'] [data-testid=finding-status]")
    assert owner.display_name in status
    assert page.locator("[data-testid=sign-form]").count() == 0
    assert page.locator("[data-verdict]").count() == 0
    page.goto("/worklist/")
    review = page.inner_text(f"tr[data-study='{study.pk}'] [data-review-label]")
    assert review == "已签发"


def test_an_outsider_doctor_gets_404_and_no_patient_data(page, outsider, three_nodule_study):
    log_in(page, outsider, start="/")
    response = page.goto(f"/studies/{three_nodule_study.pk}/viewer/")
    assert response.status == 404
    assert three_nodule_study.patient.name not in page.content()
    response = page.goto(f"/studies/{three_nodule_study.pk}/viewer/data.json")
    assert response.status == 404


def test_a_saliency_heatmap_is_coloured_where_the_model_looked(page, owner, three_nodule_study):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    study = three_nodule_study
    big = Finding.objects.filter(study=study).order_by("-diameter_mm").first()
    item = finding_mask_frames(big)[0]
    image = Instance.objects.get(sop_uid=item["sop_instance_uid"])
    heat = np.zeros((1, image.rows, image.columns), np.uint8)
    heat[0, 30:40, 24:36] = 255  # away from the nodules on this slice
    buffer = io.BytesIO()
    np.savez(buffer, heat=heat, sop_instance_uids=np.array([image.sop_uid]))
    name = default_storage.save("heatmaps/test.npz", ContentFile(buffer.getvalue()))
    Finding.objects.create(
        job=big.job,
        model_version=big.model_version,
        study=study,
        series=big.series,
        label="attention",
        kind="heatmap",
        overlay_file=name,
        instances=[{"sop_instance_uid": image.sop_uid, "frame": 1, "bbox": [24, 30, 35, 39]}],
    )
    log_in(page, owner, start="/")
    open_viewer(page, study)
    go_to_frame(page, big, item)
    page.wait_for_timeout(500)
    shot = screenshot(page)

    def redness(column, row):
        r, g, b = shot[tuple(reversed(to_page(page, column + 0.5, row + 0.5)))]
        return r - max(g, b)

    hot = [redness(c, r) for r in range(31, 39) for c in range(25, 35)]
    cold = [redness(c, r) for r in range(31, 39) for c in (19, 20, 39)]
    assert min(hot) > 25, min(hot)  # the jet colour map's top is red
    assert max(cold) < 10, max(cold)


def test_markup_in_names_and_labels_shows_as_text_in_the_viewer(page, owner, three_nodule_study):
    hostile = "张伟<img src=x onerror=\"document.title='pwned'\">"
    patient = three_nodule_study.patient
    patient.name = hostile
    patient.save(update_fields=["name"])
    Finding.objects.filter(study=three_nodule_study).update(label="<b>结节</b><script>x()</script>")
    log_in(page, owner, start="/")
    open_viewer(page, three_nodule_study)
    assert hostile in page.inner_text("[data-testid=overlay-patient]")
    assert "<b>结节</b>" in page.inner_text("[data-testid=findings-list]")
    assert page.locator("#viewer img[src=x], #viewer b, #viewer script").count() == 0
    assert page.title() != "pwned"
