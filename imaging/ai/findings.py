"""From model outputs in volume space to findings in DICOM terms.

A segmentation's connected components become lesion findings with their size (volume in mm³,
longest diameter in mm), centroid, bounding box and slice range, and — for the overlay — the
frames they touch with a pixel bounding box on each. Everything is computed in the volume's real
geometry (``imaging.ai.volume.Volume``), so spacing and orientation are honoured.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import pdist

from .volume import Volume

SEGMENTATION, CLASSIFICATION, DETECTION, HEATMAP = (
    "segmentation",
    "classification",
    "detection",
    "heatmap",
)


@dataclass(frozen=True)
class FrameBox:
    """A finding's footprint on one frame: pixel indices, inclusive
    (col_min, row_min, col_max, row_max)."""

    sop_instance_uid: str
    frame: int
    bbox: tuple[int, int, int, int]


@dataclass
class Finding:
    label: str
    kind: str  # segmentation | classification | detection | heatmap
    score: float | None = None
    label_index: int | None = None  # the output channel / label value
    volume_mm3: float | None = None
    diameter_mm: float | None = None
    voxel_count: int | None = None
    centroid_lps: tuple[float, float, float] | None = None
    centroid_index: tuple[float, float, float] | None = None  # (slice, row, column)
    bbox_index: tuple[int, int, int, int, int, int] | None = (
        None  # z0, y0, x0, z1, y1, x1 inclusive
    )
    instances: list[FrameBox] = field(default_factory=list)
    # For segmentation findings: the component's own mask in volume space, kept in memory only
    # (written out as the SEG and the overlay), never in the database.
    mask: np.ndarray | None = field(default=None, repr=False)


def _longest_diameter_mm(coords_zyx: np.ndarray, volume: Volume) -> float:
    """Largest distance between two voxel centres of the component, in mm (at least one voxel)."""
    dz, dy, dx = volume.spacing
    points = coords_zyx * np.array([dz, dy, dx])
    if len(points) > 3:
        try:
            points = points[ConvexHull(points).vertices]
        except QhullError:  # flat (one slice or one line): fall back to all points
            if len(points) > 4000:
                points = points[np.random.default_rng(0).choice(len(points), 4000, replace=False)]
    longest = float(pdist(points).max()) if len(points) > 1 else 0.0
    # Centre-to-centre distance plus one voxel along that axis: a 1-voxel lesion is one voxel wide.
    return longest + float(min(volume.spacing))


def frame_boxes(mask: np.ndarray, volume: Volume) -> list[FrameBox]:
    boxes = []
    for z in np.flatnonzero(mask.any(axis=(1, 2))):
        rows = np.flatnonzero(mask[z].any(axis=1))
        cols = np.flatnonzero(mask[z].any(axis=0))
        ref = volume.slices[int(z)]
        boxes.append(
            FrameBox(
                ref.sop_instance_uid,
                ref.frame,
                (int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])),
            )
        )
    return boxes


def lesions_from_labelmap(
    labelmap: np.ndarray,
    volume: Volume,
    labels: dict[int, str],
    *,
    probabilities: np.ndarray | None = None,
    min_voxels: int = 1,
) -> list[Finding]:
    """One finding per 26-connected component of each label. ``probabilities[label]`` (same
    grid), when given, scores a component by its mean foreground probability."""
    if labelmap.shape != volume.shape:
        raise ValueError(f"labelmap {labelmap.shape} does not match the volume {volume.shape}")
    findings = []
    structure = np.ones((3, 3, 3), dtype=bool)
    for value, name in sorted(labels.items()):
        components, count = ndimage.label(labelmap == value, structure=structure)
        for index, box in enumerate(ndimage.find_objects(components), start=1):
            if box is None:
                continue
            local = components[box] == index
            voxels = int(local.sum())
            if voxels < min_voxels:
                continue
            mask = np.zeros(labelmap.shape, dtype=bool)
            mask[box] = local
            coords = np.argwhere(local) + np.array([s.start for s in box])
            centroid = coords.mean(axis=0)
            score = None
            if probabilities is not None:
                score = float(probabilities[value][mask].mean())
            findings.append(
                Finding(
                    label=name,
                    kind=SEGMENTATION,
                    score=score,
                    label_index=value,
                    volume_mm3=voxels * volume.voxel_volume_mm3,
                    diameter_mm=_longest_diameter_mm(coords, volume),
                    voxel_count=voxels,
                    centroid_lps=tuple(float(v) for v in volume.index_to_lps(centroid)),
                    centroid_index=tuple(float(v) for v in centroid),
                    bbox_index=(
                        box[0].start,
                        box[1].start,
                        box[2].start,
                        box[0].stop - 1,
                        box[1].stop - 1,
                        box[2].stop - 1,
                    ),
                    instances=frame_boxes(mask, volume),
                    mask=mask,
                )
            )
    findings.sort(key=lambda f: -(f.volume_mm3 or 0.0))
    return findings
