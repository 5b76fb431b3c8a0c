"""The chest anatomy of the synthetic CT phantom, drawn in Hounsfield units.

The phantom stands in for patient data in the demo model's training, in tests and in seeding, so
it has the structures a nodule detector has to tell nodules apart from: a body outline with skin,
subcutaneous fat and muscle; ribs, sternum and spine; the mediastinum with heart, aorta, trachea
and bronchi; diaphragm domes with liver and stomach below; two lungs with a density gradient and
texture; and branching, tapering vessel trees that look like nodules on any single slice.

Everything is computed in millimetres relative to the grid centre, axes in (slice, row, column)
order = (z, y, x) in LPS (x towards the patient's left, y posterior, z superior), so the drawing
does not depend on the voxel size. Sizes are typical adult values, varied per patient by the
random generator ``rng``; nothing here reads a clock or global state, so a seed fixes the result.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

AIR, FAT, SOFT, MUSCLE, BLOOD, LIVER = -1000.0, -95.0, 35.0, 50.0, 42.0, 60.0
MARROW, CORTEX = 250.0, 800.0


@dataclass(frozen=True)
class Grid:
    """The voxel grid: ``shape`` and ``spacing`` (mm) in (slice, row, column) order."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Voxel-centre coordinates (mm from the grid centre) along z, y and x."""
        return tuple(
            ((np.arange(n) - (n - 1) / 2.0) * d).astype(np.float32)
            for n, d in zip(self.shape, self.spacing, strict=True)
        )

    @property
    def voxel_mm(self) -> float:
        """One voxel's typical width, the scale of partial-volume edges."""
        return float(np.prod(self.spacing) ** (1.0 / 3.0))


@dataclass(frozen=True)
class Habitus:
    """One patient's build: body size, wall layers, organ positions and lung density."""

    half_width: float  # body semi-axis along x (mm)
    half_depth: float  # body semi-axis along y (mm)
    fat: float  # subcutaneous fat thickness (mm)
    muscle: float  # chest wall muscle thickness (mm)
    lung_hu: float  # mean parenchyma density
    z_base: float  # lowest lung point (costophrenic recess), mm from grid centre
    dome_right: float  # height of the right diaphragm dome above z_base (mm)
    dome_left: float
    z_apex: float  # lung apex (may lie above the covered range)
    heart_z: float  # centre height of the heart

    @property
    def wall(self) -> float:
        """Depth below the skin of the inner chest wall (pleura)."""
        return self.fat + self.muscle + 9.0

    @property
    def spine_y(self) -> float:
        return self.half_depth - self.wall - 20.0


def habitus_sample(rng: np.random.Generator, grid: Grid) -> Habitus:
    z_half = (grid.shape[0] - 1) / 2.0 * grid.spacing[0]
    fov_half = min(grid.shape[1] * grid.spacing[1], grid.shape[2] * grid.spacing[2]) / 2.0
    # The body must fit the field of view with a margin for the table.
    half_width = min(rng.uniform(135.0, 165.0), fov_half - 12.0)
    half_depth = min(rng.uniform(92.0, 118.0), fov_half - 30.0, half_width * 0.8)
    z_base = -z_half + rng.uniform(0.0, 0.12) * 2 * z_half
    return Habitus(
        half_width=half_width,
        half_depth=half_depth,
        fat=rng.uniform(6.0, 22.0),
        muscle=rng.uniform(8.0, 14.0),
        lung_hu=rng.uniform(-880.0, -830.0),
        z_base=z_base,
        dome_right=rng.uniform(0.25, 0.38) * 2 * z_half,
        dome_left=rng.uniform(0.18, 0.30) * 2 * z_half,
        z_apex=z_half + rng.uniform(0.0, 0.2) * 2 * z_half,
        heart_z=z_base + rng.uniform(0.25, 0.35) * 2 * z_half,
    )


def _ellipse(x, y, cx, cy, ax, ay, power=2.0):
    return (np.abs((x - cx) / ax) ** power + np.abs((y - cy) / ay) ** power) ** (1.0 / power)


def _body(grid: Grid, h: Habitus) -> tuple[np.ndarray, np.ndarray]:
    """HU of the body wall layers and the depth (mm) below the skin of every voxel."""
    z, y, x = grid.axes()
    hu = np.full(grid.shape, AIR, dtype=np.float32)
    outline = _ellipse(x[None, :], y[:, None], 0.0, 0.0, h.half_width, h.half_depth, 2.4) < 1.0
    # The back is flatter than the front: cut the outline where the patient lies on the table.
    outline &= (y < h.half_depth * 0.93)[:, None]
    depth2d = ndimage.distance_transform_edt(outline, sampling=grid.spacing[1:]).astype(np.float32)
    depth = np.broadcast_to(depth2d, grid.shape)
    hu[:, outline] = SOFT
    hu[(depth > 2.0) & (depth <= h.fat)] = FAT
    hu[(depth > h.fat) & (depth <= h.fat + h.muscle)] = MUSCLE
    # Patient table: a foam core between two thin carbon shells under the back.
    top = h.half_depth * 0.93 + 6.0
    table = (y[:, None] > top) & (y[:, None] < top + 14.0) & (np.abs(x)[None, :] < 190.0)
    shells = table & ((y[:, None] < top + 2.0) | (y[:, None] > top + 12.0))
    hu[:, table] = -350.0
    hu[:, shells] = 250.0
    return hu, depth


def _ribs(hu, grid: Grid, h: Habitus, depth, rng) -> None:
    """Oblique ribs: each descends anteriorly, so an axial slice cuts short arcs of several."""
    z, y, x = grid.axes()
    theta = np.arctan2(x[None, :], y[:, None])  # 0 at the spine, +-pi at the sternum
    anterior = (1.0 - np.cos(theta)) / 2.0
    centre_depth = h.fat + h.muscle + 3.0
    radial = (depth - centre_depth) / 4.0
    period = rng.uniform(24.0, 30.0)
    phase = rng.uniform(0.0, period)
    level = z[:, None, None] + 55.0 * anterior[None] - phase
    along = (level - period * np.round(level / period)) / 5.5
    q = radial**2 + along**2
    # Ribs end in cartilage short of the sternum.
    cartilage = (np.abs(theta) > 2.55)[None]
    hu[(q < 1.0) & ~cartilage] = MARROW
    hu[(q < 1.0) & (q > 0.45) & ~cartilage] = CORTEX
    hu[(q < 1.0) & cartilage] = 110.0


def _spine_and_sternum(hu, grid: Grid, h: Habitus, depth) -> None:
    z, y, x = grid.axes()
    yv = h.spine_y
    back = h.half_depth * 0.93  # where the back lies on the table
    canal_y = yv + 0.45 * (back - yv)
    body = _ellipse(x[None, :], y[:, None], 0.0, yv, 19.0, 17.0)
    canal = _ellipse(x[None, :], y[:, None], 0.0, canal_y, 8.0, 7.0)
    arch = (_ellipse(x[None, :], y[:, None], 0.0, canal_y, 12.0, 11.0) < 1.0) & (canal >= 1.0)
    spinous = (np.abs(x)[None, :] < 4.0) & (y[:, None] > canal_y) & (y[:, None] < back - 12.0)
    transverse = (np.abs(np.abs(x)[None, :] - 22.0) < 10.0) & (np.abs(y[:, None] - canal_y) < 4.0)
    posterior = (arch | spinous | transverse) & (depth[0] > 6.0)
    # Vertebrae about 26 mm apart with discs between them.
    disc = (np.abs((z + 7.0) % 26.0 - 13.0) < 4.0)[:, None, None]
    vertebra = np.broadcast_to(body < 1.0, grid.shape)
    hu[vertebra & ~disc] = MARROW
    hu[np.broadcast_to((body < 1.0) & (body > 0.85), grid.shape) & ~disc] = CORTEX
    hu[vertebra & disc] = 85.0
    hu[:, canal < 1.0] = 12.0
    hu[:, posterior] = 600.0
    sternum_y = -h.half_depth + h.fat + h.muscle * 0.5
    sternum = _ellipse(x[None, :], y[:, None], 0.0, sternum_y, 15.0, 5.5) < 1.0
    hu[:, sternum] = 420.0


def _mediastinum(grid: Grid, h: Habitus) -> tuple[np.ndarray, list]:
    """Mask of the mediastinum and the (mask, HU) of its organs, drawn over mediastinal fat."""
    z, y, x = grid.axes()
    zz, yy, xx = z[:, None, None], y[None, :, None], x[None, None, :]
    yv = h.spine_y
    heart = (
        ((xx - 0.12 * h.half_width) / (0.36 * h.half_width)) ** 2
        + ((yy + 0.22 * h.half_depth) / (0.42 * h.half_depth)) ** 2
        + ((zz - h.heart_z) / 55.0) ** 2
    )
    above_heart = zz > h.heart_z + 25.0
    arch_z = h.heart_z + 85.0
    aorta_asc = (((xx + 8.0) ** 2 + (yy + 0.2 * h.half_depth) ** 2) < 14.0**2) & above_heart
    aorta_desc = (((xx - 22.0) ** 2 + (yy - yv + 18.0) ** 2) < 12.0**2) & (zz < arch_z)
    arch = (
        (np.abs(zz - arch_z) < 12.0)
        & (np.abs(xx - 7.0) < 18.0)
        & (yy > -0.2 * h.half_depth - 10.0)
        & (yy < yv - 10.0)
    )
    trunk_z = h.heart_z + 40.0
    pulmonary = (((xx - 18.0) ** 2 + (yy + 0.25 * h.half_depth) ** 2) < 13.0**2) & (
        np.abs(zz - trunk_z) < 14.0
    )
    carina_z = h.heart_z + 55.0
    trachea_outer = ((xx**2 + (yy - yv + 38.0) ** 2) < 11.0**2) & (zz > carina_z)
    trachea_air = ((xx**2 + (yy - yv + 38.0) ** 2) < 9.0**2) & (zz > carina_z)
    esophagus = ((xx - 6.0) ** 2 + (yy - yv + 20.0) ** 2) < 7.0**2
    # Narrow behind the sternum, widest around the great vessels, then the spine.
    band = ((xx - 4.0) / (26.0 + 8.0 * (zz > h.heart_z + 20.0))) ** 2 + (
        (yy - 0.05 * h.half_depth) / (0.85 * h.half_depth)
    ) ** 4 < 1.0
    band &= yy < yv
    region = band | (heart < 1.0) | aorta_desc | aorta_asc | arch | pulmonary | trachea_outer
    region = ndimage.binary_dilation(region, iterations=1)
    organs = [
        (heart < 1.0, BLOOD),
        ((heart < 1.0) & (heart > 0.86), 55.0),  # myocardium, a shade denser than blood
        (aorta_desc | aorta_asc | arch | pulmonary, BLOOD + 3.0),
        (esophagus & (yy < yv), 40.0),
        (trachea_outer, 60.0),
        (trachea_air, AIR),
    ]
    return region, organs


def _lung_mask(grid: Grid, h: Habitus, depth, mediastinum) -> np.ndarray:
    """Two lungs: the thoracic cavity above the diaphragm, less mediastinum and spine, rounded
    towards the apex."""
    z, y, x = grid.axes()
    zz, yy, xx = z[:, None, None], y[None, :, None], x[None, None, :]
    cavity = depth > h.wall
    taper_from = h.z_apex - 80.0
    shrink = np.sqrt(np.clip(1.0 - ((zz - taper_from) / (h.z_apex - taper_from)) ** 2, 0.0, 1.0))
    shrink = np.where(zz < taper_from, 1.0, shrink)
    lungs = np.zeros(grid.shape, dtype=bool)
    for side, dome in ((-1.0, h.dome_right), (1.0, h.dome_left)):
        cx, cy = side * 0.48 * h.half_width, 0.08 * h.half_depth
        ax, ay = 0.62 * h.half_width, 1.0 * h.half_depth
        blob = _ellipse(xx, yy, cx, cy, ax * shrink + 1e-3, ay * shrink + 1e-3, 2.6) < 1.0
        radial = ((xx - cx) / (0.5 * h.half_width)) ** 2 + ((yy - cy) / (0.8 * h.half_depth)) ** 2
        diaphragm = h.z_base + dome * np.clip(1.0 - radial, 0.0, 1.0)
        side_mask = (xx * side > 0) & blob & (zz > diaphragm)
        lungs |= side_mask
    spine = (np.abs(xx) < 28.0) & (yy > h.spine_y - 22.0)
    return lungs & cavity & ~mediastinum & ~spine


def _abdomen(hu, grid: Grid, h: Habitus, depth, lungs, mediastinum) -> None:
    """Below the domes: liver on the right, stomach with its air bubble on the left."""
    z, y, x = grid.axes()
    zz, yy, xx = z[:, None, None], y[None, :, None], x[None, None, :]
    cavity = depth > h.wall
    below = np.maximum.accumulate(lungs[::-1], axis=0)[::-1] & ~lungs  # under some lung
    low = zz < h.z_base + max(h.dome_right, h.dome_left) + 5.0
    abdomen = cavity & low & ~lungs & ~mediastinum & (below | (zz < h.heart_z - 20.0))
    hu[abdomen] = SOFT
    hu[abdomen & (xx < 25.0)] = LIVER
    stomach = ((xx - 0.35 * h.half_width) / 45.0) ** 2 + ((yy + 15.0) / 40.0) ** 2
    stomach_top = h.z_base + h.dome_left - 8.0
    in_stomach = abdomen & (stomach < 1.0) & (zz < stomach_top)
    hu[in_stomach] = 20.0
    hu[in_stomach & (zz > stomach_top - 15.0)] = AIR


def _lung_texture(grid: Grid, h: Habitus, rng) -> np.ndarray:
    """Parenchyma HU: denser towards the back (gravity) with a smooth mottled texture."""
    _, y, _ = grid.axes()
    gradient = 45.0 * (y[None, :, None] + h.half_depth) / (2 * h.half_depth)
    texture = ndimage.gaussian_filter(rng.standard_normal(grid.shape).astype(np.float32), 1.5)
    texture *= 18.0 / max(float(texture.std()), 1e-6)
    return (h.lung_hu - 20.0 + gradient + texture).astype(np.float32)


def chest_draw(grid: Grid, h: Habitus, rng: np.random.Generator):
    """Draw one patient's chest without vessels, nodules or noise on ``grid``. Returns the HU
    volume (float32 [z, y, x]), the lung mask and the thoracic cavity mask."""
    hu, depth = _body(grid, h)
    cavity = depth > h.wall
    hu[cavity] = SOFT
    mediastinum, organs = _mediastinum(grid, h)
    lungs = _lung_mask(grid, h, depth, mediastinum)
    hu[cavity & mediastinum] = FAT
    for mask, value in organs:
        hu[cavity & mask] = value
    _abdomen(hu, grid, h, depth, lungs, mediastinum)
    _ribs(hu, grid, h, depth, rng)
    _spine_and_sternum(hu, grid, h, depth)
    hu[lungs] = _lung_texture(grid, h, rng)[lungs]
    return hu, lungs, cavity
