"""Reader-drawn geometry checked against the series it is drawn on.

A geometry is a list of frames, each ``{"sop_instance_uid", "frame", "bbox": [c0, r0, c1, r1]}``
(pixel indices, inclusive, frame from 1) with an optional ``"mask"``: the pixels inside the box,
row by row, as alternating run lengths of outside / inside starting with outside. Nothing the
browser sends is trusted: every UID must be an image of the series, every box inside the image,
every mask exactly as long as its box.
"""

from django.utils.translation import gettext as _

from ..models import Instance, Series
from .errors import ReviewError

MAX_FRAMES = 2000


def _bad(message: str) -> ReviewError:
    return ReviewError("geometry_invalid", message)


def geometry_clean(raw, *, series: Series) -> list[dict]:
    """Validate ``raw`` against ``series`` and return it normalised (ints, sorted by position)."""
    if not isinstance(raw, list) or not raw:
        raise _bad(_("The geometry must list at least one frame."))
    if len(raw) > MAX_FRAMES:
        raise _bad(_("The geometry lists too many frames."))
    uids = set()
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("sop_instance_uid"), str):
            raise _bad(_("Each frame needs a sop_instance_uid."))
        uids.add(item["sop_instance_uid"])
    images = {
        i.sop_uid: i
        for i in Instance.objects.filter(series=series, sop_uid__in=uids).only(
            "sop_uid", "rows", "columns", "number_of_frames", "instance_number"
        )
    }
    cleaned, seen = [], set()
    for item in raw:
        image = images.get(item["sop_instance_uid"])
        if image is None or not image.rows or not image.columns:
            raise _bad(_("An image in the geometry is not in this series."))
        frame = item.get("frame", 1)
        if (
            not isinstance(frame, int)
            or isinstance(frame, bool)
            or not (1 <= frame <= image.number_of_frames)
        ):
            raise _bad(_("A frame number is outside the image."))
        if (image.sop_uid, frame) in seen:
            raise _bad(_("A frame appears twice in the geometry."))
        seen.add((image.sop_uid, frame))
        box = item.get("bbox")
        if (
            not isinstance(box, list)
            or len(box) != 4
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in box)
        ):
            raise _bad(_("A box must be four whole pixel indices."))
        c0, r0, c1, r1 = box
        if not (0 <= c0 <= c1 < image.columns and 0 <= r0 <= r1 < image.rows):
            raise _bad(_("A box lies outside the image."))
        entry = {"sop_instance_uid": image.sop_uid, "frame": frame, "bbox": [c0, r0, c1, r1]}
        if item.get("mask") is not None:
            entry["mask"] = _mask_clean(item["mask"], (c1 - c0 + 1) * (r1 - r0 + 1))
        cleaned.append((image.instance_number or 0, entry))
    cleaned.sort(key=lambda pair: (pair[0], pair[1]["sop_instance_uid"], pair[1]["frame"]))
    return [entry for _, entry in cleaned]


def _mask_clean(runs, pixels: int) -> list[int]:
    if (
        not isinstance(runs, list)
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in runs)
        or sum(runs) != pixels
    ):
        raise _bad(_("A mask must be run lengths that add up to its box."))
    if not any(runs[1::2]):
        raise _bad(_("A mask must mark at least one pixel."))
    return runs


def rle_encode(bits) -> list[int]:
    """Run lengths of a flat 0/1 sequence, starting with a run of zeros (maybe empty)."""
    runs, current, length = [], 0, 0
    for bit in bits:
        bit = 1 if bit else 0
        if bit == current:
            length += 1
        else:
            runs.append(length)
            current, length = bit, 1
    runs.append(length)
    return runs


def rle_decode(runs: list[int]) -> list[int]:
    out, bit = [], 0
    for run in runs:
        out.extend([bit] * run)
        bit ^= 1
    return out
