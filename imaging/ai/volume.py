"""A CT/MR series as one volume with its real geometry, and the way back to DICOM pixels.

Slices are sorted by their position along the slice normal (the cross product of the two
direction cosines of ImageOrientationPatient), not by InstanceNumber, which modalities number
freely. Pixel values are rescaled (RescaleSlope/Intercept) to real units (HU for CT).

Array convention: ``pixels[slice, row, column]``, slice 0 the lowest position along the normal.
MONAI works in (x, y, z) = (column, row, slice) order with an affine in RAS; ``affine_ras`` gives
that affine for ``pixels.transpose(2, 1, 0)``, as MONAI's own DICOM readers would.
"""

from dataclasses import dataclass

import numpy as np
import pydicom

# Spacing between neighbouring slices may differ by this fraction before the series is refused.
SPACING_TOLERANCE = 0.05


class VolumeError(Exception):
    """A series that cannot be made into a volume; ``code`` is stable, ``message`` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SliceRef:
    """Where one slice of the volume lives in DICOM: the instance and its frame (from 1)."""

    sop_instance_uid: str
    frame: int = 1


@dataclass
class Volume:
    pixels: np.ndarray  # float32 [slice, row, column], rescaled
    spacing: tuple[float, float, float]  # mm between (slices, rows, columns)
    origin: np.ndarray  # LPS position (mm) of the centre of voxel [0, 0, 0]
    row_cosine: np.ndarray  # direction of increasing column index (IOP[0:3])
    column_cosine: np.ndarray  # direction of increasing row index (IOP[3:6])
    normal: np.ndarray  # direction of increasing slice index
    slices: list[SliceRef]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.pixels.shape)

    def affine_lps(self) -> np.ndarray:
        """4x4 from (column, row, slice) indices to LPS millimetres."""
        dz, dy, dx = self.spacing
        affine = np.eye(4)
        affine[:3, 0] = self.row_cosine * dx
        affine[:3, 1] = self.column_cosine * dy
        affine[:3, 2] = self.normal * dz
        affine[:3, 3] = self.origin
        return affine

    def affine_ras(self) -> np.ndarray:
        """4x4 from (column, row, slice) indices to RAS millimetres (MONAI's default space)."""
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ self.affine_lps()

    def index_to_lps(self, index_zyx) -> np.ndarray:
        """LPS millimetres of a (slice, row, column) index, fractional indices allowed."""
        z, y, x = (float(v) for v in index_zyx)
        return (self.affine_lps() @ np.array([x, y, z, 1.0]))[:3]

    @property
    def voxel_volume_mm3(self) -> float:
        dz, dy, dx = self.spacing
        return float(dz * dy * dx)


def _floats(value, count: int, name: str, sop_uid: str) -> np.ndarray:
    try:
        numbers = np.array([float(v) for v in value], dtype=float)
    except (TypeError, ValueError):
        numbers = np.array([])
    if numbers.shape != (count,):
        raise VolumeError("bad_geometry", f"{name} of instance {sop_uid} is missing or malformed.")
    return numbers


def volume_from_datasets(datasets: list[pydicom.Dataset]) -> Volume:
    """Build a volume from the single-frame instances of one series (any order)."""
    if not datasets:
        raise VolumeError("empty_series", "The series has no instances.")
    first = datasets[0]
    sop = str(getattr(first, "SOPInstanceUID", "?"))
    orientation = _floats(
        getattr(first, "ImageOrientationPatient", None), 6, "ImageOrientationPatient", sop
    )
    row_cosine, column_cosine = orientation[:3], orientation[3:]
    normal = np.cross(row_cosine, column_cosine)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-3):
        raise VolumeError("bad_geometry", "ImageOrientationPatient is not two orthonormal vectors.")
    pixel_spacing = _floats(getattr(first, "PixelSpacing", None), 2, "PixelSpacing", sop)
    rows, columns = int(first.Rows), int(first.Columns)

    placed = []
    for ds in datasets:
        uid = str(ds.SOPInstanceUID)
        if int(getattr(ds, "NumberOfFrames", 1) or 1) != 1:
            raise VolumeError(
                "multiframe_unsupported",
                f"Instance {uid} has several frames; only single-frame series are read.",
            )
        if (int(ds.Rows), int(ds.Columns)) != (rows, columns):
            raise VolumeError("inconsistent_size", "The series' slices differ in size.")
        if not np.allclose(
            _floats(
                getattr(ds, "ImageOrientationPatient", None), 6, "ImageOrientationPatient", uid
            ),
            orientation,
            atol=1e-4,
        ):
            raise VolumeError(
                "inconsistent_orientation", "The series' slices differ in orientation."
            )
        position = _floats(
            getattr(ds, "ImagePositionPatient", None), 3, "ImagePositionPatient", uid
        )
        placed.append((float(position @ normal), position, ds))
    placed.sort(key=lambda item: item[0])

    distances = np.diff([p[0] for p in placed])
    if len(placed) > 1:
        if np.any(distances < 1e-3):
            raise VolumeError("duplicate_position", "Two slices of the series share a position.")
        step = float(np.median(distances))
        if np.any(np.abs(distances - step) > SPACING_TOLERANCE * step):
            raise VolumeError(
                "inconsistent_spacing",
                f"Slice spacing varies from {distances.min():.2f} to {distances.max():.2f} mm.",
            )
    else:
        step = float(getattr(first, "SliceThickness", 0) or 1.0)

    pixels = np.empty((len(placed), rows, columns), dtype=np.float32)
    for index, (_, _, ds) in enumerate(placed):
        slope = float(getattr(ds, "RescaleSlope", 1) or 1)
        intercept = float(getattr(ds, "RescaleIntercept", 0) or 0)
        pixels[index] = ds.pixel_array.astype(np.float32) * slope + intercept

    return Volume(
        pixels=pixels,
        spacing=(step, float(pixel_spacing[0]), float(pixel_spacing[1])),
        origin=placed[0][1],
        row_cosine=row_cosine,
        column_cosine=column_cosine,
        normal=normal,
        slices=[SliceRef(str(ds.SOPInstanceUID), 1) for _, _, ds in placed],
    )
