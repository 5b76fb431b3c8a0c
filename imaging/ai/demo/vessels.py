"""Pulmonary vessel trees for the phantom: branching, tapering tubes from each hilum.

Vessels are what makes nodule detection hard: cut across, a vessel is a bright round spot on one
slice, just like a small nodule; only its continuation through neighbouring slices tells them
apart. The trees here branch dichotomously with shrinking radius and length until the tube is
thinner than a voxel can show, and stop at the pleura. Tubes are drawn with partial-volume edges,
so thin vessels fade the way they do on a real scan.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .anatomy import Grid, Habitus

MIN_RADIUS_MM = 0.5
MIN_RADIUS_VOXELS = 0.2  # and at least this fraction of a voxel (only coarse grids reach it)
MAX_GENERATIONS = 9
THIN_RADIUS_MM = 1.1  # below this, tubes are splatted rather than drawn


@dataclass(frozen=True)
class Segment:
    """A tapered tube from ``start`` to ``end`` (mm, (z, y, x) from the grid centre)."""

    start: np.ndarray
    end: np.ndarray
    radius_start: float
    radius_end: float

    def point(self, t: float) -> np.ndarray:
        return self.start + t * (self.end - self.start)

    def radius(self, t: float) -> float:
        return self.radius_start + t * (self.radius_end - self.radius_start)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.cross for two 3-vectors, without its generality's overhead (thousands of calls)."""
    return np.array(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    )


def _rotate(direction: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' rotation of ``direction`` about the unit ``axis``."""
    return (
        direction * np.cos(angle)
        + _cross(axis, direction) * np.sin(angle)
        + axis * float(axis @ direction) * (1.0 - np.cos(angle))
    )


def _inside(mask: np.ndarray, grid: Grid, point_mm: np.ndarray) -> bool:
    index = []
    for value, size, spacing in zip(point_mm, grid.shape, grid.spacing, strict=True):
        i = round(float(value) / spacing + (size - 1) / 2.0)
        if i < 0 or i >= size:
            return False
        index.append(i)
    return bool(mask[index[0], index[1], index[2]])


def _hilum(h: Habitus, side: float) -> np.ndarray:
    return np.array([h.heart_z + 28.0, -0.02 * h.half_depth, side * 0.3 * h.half_width])


def vessel_tree(grid: Grid, h: Habitus, lungs: np.ndarray, rng) -> list[Segment]:
    """Segments of the arterial/venous trees of both lungs, kept inside the lung mask."""
    segments: list[Segment] = []
    # On a coarse grid, tubes far thinner than a voxel leave no trace worth drawing them for.
    min_radius = max(MIN_RADIUS_MM, MIN_RADIUS_VOXELS * grid.voxel_mm)
    for side in (-1.0, 1.0):
        hilum = _hilum(h, side)
        # Main branches (z, y, x): up, down and back, outwards, forwards, backwards, and between.
        for base in (
            (1.0, -0.1, 0.5),
            (-1.0, 0.4, 0.4),
            (0.1, -0.2, 1.0),
            (0.0, -0.9, 0.5),
            (-0.5, 0.9, 0.6),
            (0.6, 0.6, 0.6),
            (-0.6, -0.5, 0.7),
            (0.7, -0.6, 0.4),
        ):
            direction = _unit(np.array([base[0], base[1], side * base[2]]) + rng.normal(0, 0.2, 3))
            start = hilum + direction * 6.0
            _branch(
                segments, grid, lungs, rng, start, direction, rng.uniform(3.5, 5.5), 0, min_radius
            )
    return segments


def _branch(segments, grid, lungs, rng, start, direction, radius, generation, min_radius):
    if radius < min_radius or generation > MAX_GENERATIONS:
        return
    length = radius * rng.uniform(5.0, 8.0)
    # A branch heading out of the lung turns away from the pleura (a few tries) or stops short.
    for attempt in range(6):
        end = start + direction * length
        if _inside(lungs, grid, end):
            break
        if attempt < 3:
            axis = _unit(_cross(direction, rng.normal(0, 1, 3)))
            direction = _rotate(direction, axis, rng.uniform(0.5, 1.2))
        else:
            length *= 0.5
    else:
        if generation > 0:
            return
    taper = radius * rng.uniform(0.88, 0.96)
    segments.append(Segment(start, end, radius, taper))
    axis = _unit(_cross(direction, rng.normal(0, 1, 3)))
    spread = rng.uniform(0.35, 0.7)
    for sign in (1.0, -1.0):
        angle = sign * spread * rng.uniform(0.6, 1.0)
        child = _unit(_rotate(direction, axis, angle) + rng.normal(0, 0.08, 3))
        _branch(
            segments,
            grid,
            lungs,
            rng,
            end,
            child,
            taper * rng.uniform(0.7, 0.88),
            generation + 1,
            min_radius,
        )


def hilar_arteries(h: Habitus) -> list[Segment]:
    """The pulmonary arteries from the trunk to each hilum, through mediastinal fat."""
    trunk = np.array([h.heart_z + 40.0, -0.25 * h.half_depth, 18.0])
    return [Segment(trunk, _hilum(h, side), 10.0, 7.0) for side in (-1.0, 1.0)]


def tube_draw(fraction: np.ndarray, grid: Grid, segment: Segment) -> None:
    """Raise ``fraction`` (voxel occupancy, 0..1) to the tube's partial-volume occupancy."""
    spacing = np.array(grid.spacing)
    centre = (np.array(grid.shape) - 1) / 2.0
    reach = max(segment.radius_start, segment.radius_end) + spacing.max()
    low = np.minimum(segment.start, segment.end) - reach
    high = np.maximum(segment.start, segment.end) + reach
    lo = np.clip(np.floor(low / spacing + centre).astype(int), 0, np.array(grid.shape))
    hi = np.clip(np.ceil(high / spacing + centre).astype(int) + 1, 0, np.array(grid.shape))
    if np.any(hi <= lo):
        return
    z, y, x = (
        ((np.arange(a, b) - c) * d).astype(np.float32)[shape]
        for a, b, c, d, shape in zip(
            lo,
            hi,
            centre,
            spacing,
            ((slice(None), None, None), (None, slice(None), None), (None, None, slice(None))),
            strict=True,
        )
    )
    a, ab = segment.start, segment.end - segment.start
    length2 = max(float(ab @ ab), 1e-9)
    t = np.clip(((z - a[0]) * ab[0] + (y - a[1]) * ab[1] + (x - a[2]) * ab[2]) / length2, 0, 1)
    distance = np.sqrt(
        (z - a[0] - t * ab[0]) ** 2 + (y - a[1] - t * ab[1]) ** 2 + (x - a[2] - t * ab[2]) ** 2
    )
    radius = segment.radius_start + t * (segment.radius_end - segment.radius_start)
    # A tube thinner than a voxel fills only part of it: scale the peak down accordingly.
    voxel = grid.voxel_mm
    occupancy = np.clip((radius - distance) / voxel + 0.5, 0, 1) * np.minimum(1, 2 * radius / voxel)
    box = tuple(slice(a_, b_) for a_, b_ in zip(lo, hi, strict=True))
    np.maximum(fraction[box], occupancy, out=fraction[box])


def _thin_tubes_draw(fraction: np.ndarray, grid: Grid, segments: list[Segment]) -> None:
    """Thin tubes in one pass: splat each tube's volume along its centreline into the voxels it
    crosses, then spread it by the blur a scanner's point spread would give. Drawing thousands
    of sub-voxel tubes one by one would cost seconds for the same picture."""
    step = 0.5  # mm between centreline samples
    points, volumes = [], []
    for segment in segments:
        length = float(np.linalg.norm(segment.end - segment.start))
        t = (np.arange(max(1, int(np.ceil(length / step)))) + 0.5) / max(1, np.ceil(length / step))
        radius = segment.radius_start + t * (segment.radius_end - segment.radius_start)
        points.append(segment.start + t[:, None] * (segment.end - segment.start))
        volumes.append(np.pi * radius**2 * (length / len(t)))
    if not points:
        return
    index = np.rint(
        np.concatenate(points) / np.array(grid.spacing) + (np.array(grid.shape) - 1) / 2.0
    ).astype(int)
    keep = np.all((index >= 0) & (index < np.array(grid.shape)), axis=1)
    flat = np.ravel_multi_index(index[keep].T, grid.shape)
    splat = np.bincount(flat, weights=np.concatenate(volumes)[keep], minlength=fraction.size)
    splat = splat.reshape(grid.shape).astype(np.float32) / float(np.prod(grid.spacing))
    splat = ndimage.gaussian_filter(splat, 0.5) * 1.3  # as bright as the exactly drawn tubes
    np.maximum(fraction, np.minimum(splat, 1.0), out=fraction)


def vessel_fraction(grid: Grid, segments: list[Segment]) -> np.ndarray:
    """Voxel occupancy (0..1) of all the tubes: thick ones drawn exactly, thin ones splatted."""
    fraction = np.zeros(grid.shape, dtype=np.float32)
    thin = [s for s in segments if max(s.radius_start, s.radius_end) < THIN_RADIUS_MM]
    for segment in segments:
        if max(segment.radius_start, segment.radius_end) >= THIN_RADIUS_MM:
            tube_draw(fraction, grid, segment)
    _thin_tubes_draw(fraction, grid, thin)
    return fraction
