"""A finding's pixels, frame by frame, for the viewer's labelmap and the review dataset.

An AI segmentation finding's mask is its segment in the job's SEG (stored in the study); a
reader's correction or addition carries its own geometry. Either way the answer has the
geometry shape of ``imaging.review.geometry``: per frame the box and the runs inside it.
"""

import pydicom

from ..models import Finding, Instance, Verdict
from ..storage import dicom_storage
from .geometry import rle_encode


def _seg_frames(seg: pydicom.Dataset, segment_number: int):
    """(source SOP Instance UID, source frame, 2-D 0/1 array) for each SEG frame of the segment."""
    pixels = seg.pixel_array
    if pixels.ndim == 2:
        pixels = pixels[None]
    for index, group in enumerate(seg.PerFrameFunctionalGroupsSequence):
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        if number != segment_number:
            continue
        source = group.DerivationImageSequence[0].SourceImageSequence[0]
        frame = int(getattr(source, "ReferencedFrameNumber", 1) or 1)
        yield str(source.ReferencedSOPInstanceUID), frame, pixels[index]


def _seg_dataset(finding: Finding) -> pydicom.Dataset | None:
    if finding.job is None or not finding.job.seg_series_uid or not finding.segment_number:
        return None
    instance = Instance.objects.filter(series__series_uid=finding.job.seg_series_uid).first()
    if instance is None:
        return None
    with dicom_storage().open(instance.file, "rb") as stored:
        return pydicom.dcmread(stored)


def ai_mask_frames(finding: Finding) -> list[dict]:
    """The model's own geometry with the mask runs from its SEG; boxes alone when there is none."""
    boxes = {(i["sop_instance_uid"], i.get("frame", 1)): i["bbox"] for i in finding.instances}
    seg = _seg_dataset(finding)
    if seg is None:
        return [dict(i) for i in finding.instances]
    out = []
    for uid, frame, plane in _seg_frames(seg, finding.segment_number):
        box = boxes.get((uid, frame))
        if box is None:
            continue
        c0, r0, c1, r1 = box
        runs = rle_encode(plane[r0 : r1 + 1, c0 : c1 + 1].ravel().tolist())
        out.append({"sop_instance_uid": uid, "frame": frame, "bbox": box, "mask": runs})
    order = {key: n for n, key in enumerate(boxes)}
    out.sort(key=lambda item: order[(item["sop_instance_uid"], item["frame"])])
    return out or [dict(i) for i in finding.instances]


def finding_mask_frames(finding: Finding) -> list[dict]:
    """The finding as the reader last left it: a correction's or addition's own geometry, else
    the model's (with its SEG mask)."""
    review = finding.reviews.filter(current=True).first()
    if review is not None and review.verdict in (Verdict.EDITED, Verdict.ADDED):
        return review.geometry
    return ai_mask_frames(finding)
