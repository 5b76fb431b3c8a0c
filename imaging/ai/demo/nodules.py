"""Lung nodules for the phantom: sizes, densities, shapes and places a detector must cope with.

Diameters run from 4 to 30 mm, log-uniform, so small nodules (the hard, common ones) are well
represented. Densities are solid (~0-50 HU), part-solid (a ground-glass halo around a solid core)
and pure ground-glass (~-600 HU, through which vessels stay visible). Shapes are spheres,
ellipsoids at random orientations and lobulated blobs. A share of them touch the pleura or a
vessel, which is where detectors miss or merge. ``diameter_mm`` is the longest diameter, as a
radiologist measures it.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .anatomy import Grid
from .vessels import Segment

DENSITIES = {"solid": 0.55, "part-solid": 0.15, "ground-glass": 0.30}
SHAPES = {"sphere": 0.35, "ellipsoid": 0.35, "lobulated": 0.30}
ATTACHMENTS = {"none": 0.55, "vessel": 0.25, "pleura": 0.20}
DIAMETER_RANGE_MM = (4.0, 30.0)


@dataclass(frozen=True)
class Nodule:
    """One ground-truth nodule. ``label`` is its value in ``Phantom.instances``."""

    label: int
    center_index: tuple[float, float, float]  # (slice, row, column)
    center_lps: tuple[float, float, float]
    diameter_mm: float  # longest diameter
    density: str  # solid | part-solid | ground-glass
    shape: str  # sphere | ellipsoid | lobulated
    attachment: str  # none | vessel | pleura
    hu: float  # density of the solid part, or of the ground glass when there is none
    voxel_count: int


@dataclass
class _Body:
    """A nodule's geometry as a union of ellipsoids: centres (mm, offsets from the nodule centre)
    and per-lobe inverse shape matrices mapping an offset to unit-sphere coordinates."""

    radius: float  # half the longest diameter
    lobes: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def signed_distance(self, z, y, x) -> np.ndarray:
        best = None
        for offset, inverse in self.lobes:
            d = np.stack(np.broadcast_arrays(z - offset[0], y - offset[1], x - offset[2]))
            q = np.linalg.norm(np.einsum("ij,j...->i...", inverse, d), axis=0)
            # (q - 1) scaled by the lobe's mean radius approximates a distance in mm.
            scale = float(np.mean(1.0 / np.linalg.svd(inverse, compute_uv=False)))
            sd = (q - 1.0) * scale
            best = sd if best is None else np.minimum(best, sd)
        return best


def _pick(rng, table: dict[str, float]) -> str:
    names = list(table)
    return str(rng.choice(names, p=np.array([table[n] for n in names])))


def _random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def _body(rng, shape: str, diameter: float) -> _Body:
    half = diameter / 2.0
    if shape == "sphere":
        return _Body(half, [(np.zeros(3), np.eye(3) / half)])
    if shape == "ellipsoid":
        axes = np.array([1.0, rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0)]) * half
        rotation = _random_rotation(rng)
        return _Body(half, [(np.zeros(3), np.diag(1.0 / axes) @ rotation.T)])
    # Lobulated: a core sphere with 3-6 smaller spheres bulging out of its surface.
    lobes = [(np.zeros(3), 1.0)]
    for _ in range(int(rng.integers(3, 7))):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        lobes.append((direction * rng.uniform(0.5, 0.7), rng.uniform(0.4, 0.55)))
    extent = max(np.linalg.norm(c) + r for c, r in lobes)
    scale = half / extent
    return _Body(half, [(c * scale, np.eye(3) / (r * scale)) for c, r in lobes])


def _centre_candidates(rng, grid: Grid, lung_depth, attachment, radius, vessels, taken):
    """Candidate centres (mm) for one nodule, best-first, honouring its attachment."""
    spacing = np.array(grid.spacing)
    centre = (np.array(grid.shape) - 1) / 2.0
    inner = slice(2, grid.shape[0] - 2)
    if attachment == "vessel":
        usable = [s for s in vessels if 1.0 <= s.radius_start <= 4.0]
        points = []
        for segment in (usable[i] for i in rng.permutation(len(usable))[:40]):
            axis = segment.end - segment.start
            side = np.cross(axis, rng.normal(size=3))
            side /= max(np.linalg.norm(side), 1e-9)
            t = rng.uniform(0.2, 0.8)
            points.append(segment.point(t) + side * (radius * 0.8 + segment.radius(t)))
        return points
    depth = lung_depth[inner]
    if attachment == "pleura":
        ok = np.abs(depth - radius * 0.85) < spacing.max() * 0.6
    else:
        ok = depth >= radius + 3.0
    flat = np.flatnonzero(ok)
    if flat.size == 0:
        return []
    picks = flat[rng.choice(flat.size, size=min(40, flat.size), replace=False)]
    index = np.stack(np.unravel_index(picks, depth.shape), axis=1) + np.array([2, 0, 0])
    return [(i - centre) * spacing for i in index]


def _fits(point, grid: Grid, lung_depth, radius, attachment, taken) -> bool:
    spacing = np.array(grid.spacing)
    index = np.round(point / spacing + (np.array(grid.shape) - 1) / 2.0).astype(int)
    if np.any(index < [2, 0, 0]) or np.any(index >= np.array(grid.shape) - [2, 0, 0]):
        return False
    if attachment == "vessel" and lung_depth[tuple(index)] < radius + 1.0:
        return False
    return all(np.linalg.norm(point - p) > radius + r + 10.0 for p, r in taken)


def nodules_draw(hu, grid: Grid, lung, vessels: list[Segment], count: int, rng, lps_origin):
    """Place and draw ``count`` nodules into ``hu`` (in place, lung only). Returns the instance
    labelmap and the nodules actually placed (a crowded lung may take fewer)."""
    lung_depth = ndimage.distance_transform_edt(lung, sampling=grid.spacing).astype(np.float32)
    instances = np.zeros(grid.shape, dtype=np.uint8)
    spacing = np.array(grid.spacing)
    centre_index = (np.array(grid.shape) - 1) / 2.0
    taken: list[tuple[np.ndarray, float]] = []
    placed: list[Nodule] = []
    for _ in range(count):
        low, high = np.log(DIAMETER_RANGE_MM)
        diameter = float(np.exp(rng.uniform(low, high)))
        density = _pick(rng, DENSITIES)
        if density == "part-solid" and diameter < 8.0:
            density = "ground-glass"  # a solid core in a 5 mm nodule would not be resolved
        shape, attachment = _pick(rng, SHAPES), _pick(rng, ATTACHMENTS)
        body = _body(rng, shape, diameter)
        candidates = _centre_candidates(
            rng, grid, lung_depth, attachment, body.radius, vessels, taken
        )
        point = next(
            (p for p in candidates if _fits(p, grid, lung_depth, body.radius, attachment, taken)),
            None,
        )
        if point is None:
            continue
        label = len(placed) + 1
        value = _nodule_paint(hu, grid, lung, instances, body, point, density, label, rng)
        taken.append((point, body.radius))
        index = point / spacing + centre_index
        placed.append(
            Nodule(
                label=label,
                center_index=tuple(float(v) for v in index),
                center_lps=tuple(float(v) for v in lps_origin(index)),
                diameter_mm=round(diameter, 2),
                density=density,
                shape=shape,
                attachment=attachment,
                hu=round(value, 1),
                voxel_count=int((instances == label).sum()),
            )
        )
    return instances, placed


def _nodule_paint(hu, grid: Grid, lung, instances, body: _Body, point, density, label, rng):
    spacing = np.array(grid.spacing)
    centre = (np.array(grid.shape) - 1) / 2.0
    reach = body.radius + 2.0 * spacing.max()
    lo = np.clip(np.floor((point - reach) / spacing + centre).astype(int), 0, grid.shape)
    hi = np.clip(np.ceil((point + reach) / spacing + centre).astype(int) + 1, 0, grid.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    z, y, x = (
        ((np.arange(a, b) - c) * d - p).astype(np.float32)
        for a, b, c, d, p in zip(lo, hi, centre, spacing, point, strict=True)
    )
    z, y, x = z[:, None, None], y[None, :, None], x[None, None, :]
    voxel = grid.voxel_mm
    occupancy = np.clip(0.5 - body.signed_distance(z, y, x) / voxel, 0.0, 1.0)
    inside = lung[box]
    region = hu[box]
    solid_hu = float(rng.uniform(0.0, 50.0))
    glass_hu = float(rng.uniform(-680.0, -480.0))
    if density == "solid":
        painted = region + occupancy * (solid_hu - region)
    else:
        # Ground glass raises the parenchyma but leaves brighter vessels showing through.
        painted = np.maximum(region, region + occupancy * (glass_hu - region))
        if density == "part-solid":
            core = np.sqrt(z**2 + y**2 + x**2) - body.radius * rng.uniform(0.35, 0.55)
            core_occupancy = np.clip(0.5 - core / voxel, 0.0, 1.0)
            painted = painted + core_occupancy * (solid_hu - painted)
    region[inside] = painted[inside]
    member = (occupancy >= 0.5) & inside
    if not member.any():  # a nodule smaller than a voxel still marks the voxel it sits in
        nearest = tuple(np.clip(np.round(point / spacing + centre).astype(int) - lo, 0, None))
        member[nearest] = True
    instances[box][member & (instances[box] == 0)] = label
    return solid_hu if density != "ground-glass" else glass_hu
