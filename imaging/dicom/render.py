"""Frames as JPEG or PNG for WADO-RS /rendered and thumbnails (PS3.18 8.3.5, PS3.3 C.11).

Greyscale: Modality LUT (Rescale Slope/Intercept, also from the enhanced multi-frame functional
groups, or a Modality LUT Sequence), then the VOI window (the one asked for, else the frame's or
the file's first window, else a VOI LUT Sequence, else the frame's range), then MONOCHROME1 is
inverted. Colour: YCbCr and palette colour become RGB, scaled to 8 bits.
"""

import io
import os

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, pixel_array

from .errors import InvalidDicom

FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
FUNCTIONAL_GROUPS = [0x52009229, 0x52009230]  # Shared / Per-frame Functional Groups Sequence


def render(
    path: str | os.PathLike,
    *,
    frame: int = 1,
    window: tuple[float, float] | None = None,
    media_type: str = "image/jpeg",
    quality: int = 90,
    viewport: tuple[int, int] | None = None,
) -> bytes:
    """Frame ``frame`` (1-based) of the instance at ``path`` as ``media_type`` bytes, windowed
    by ``window`` (center, width) when given and scaled to fit ``viewport`` (width, height)."""
    if media_type not in FORMATS:
        raise InvalidDicom("unsupported", f"Rendering as {media_type} is not supported.")
    if frame < 1:
        raise InvalidDicom("unsupported", f"Frame {frame} does not exist.")
    ds = Dataset()
    try:
        array = pixel_array(
            os.fspath(path), ds_out=ds, index=frame - 1, specific_tags=FUNCTIONAL_GROUPS
        )
    except (IndexError, ValueError) as exc:
        raise InvalidDicom("unsupported", f"Frame {frame} cannot be rendered: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - no pixel data, no decoder, corrupt data: say so
        raise InvalidDicom("unsupported", f"The pixel data cannot be decoded: {exc}") from exc
    if array.ndim == 2 and ds.get("PhotometricInterpretation") != "PALETTE COLOR":
        image = Image.fromarray(_grey(ds, array, frame - 1, window), mode="L")
    else:
        image = Image.fromarray(_colour(ds, array), mode="RGB")
    if viewport:
        image = _fit(image, viewport)
    buffer = io.BytesIO()
    if FORMATS[media_type] == "JPEG":
        image.save(buffer, format="JPEG", quality=max(1, min(int(quality), 100)))
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def _fit(image: Image.Image, viewport: tuple[int, int]) -> Image.Image:
    width, height = (int(v) for v in viewport)
    if width < 1 or height < 1:
        raise InvalidDicom("unsupported", f"Viewport {width}x{height} is empty.")
    scale = min(width / image.width, height / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def _colour(ds: Dataset, array: np.ndarray) -> np.ndarray:
    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        array = apply_color_lut(array, ds)
        if array.dtype != np.uint8:
            array = array >> 8  # 16-bit palette entries
    elif array.dtype != np.uint8:
        top = float(2 ** int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8) - 1)
        array = np.clip(array.astype(np.float64) / top * 255, 0, 255)
    return np.ascontiguousarray(array[..., :3].astype(np.uint8))


def _grey(ds: Dataset, array: np.ndarray, index: int, window) -> np.ndarray:
    values = _modality(ds, array, index)
    voi = _frame_item(ds, index, "FrameVOILUTSequence") or ds
    function = str(voi.get("VOILUTFunction", ds.get("VOILUTFunction", "LINEAR")) or "LINEAR")
    if window is None:
        center, width = _first(voi.get("WindowCenter")), _first(voi.get("WindowWidth"))
        if center is not None and width:
            window = (center, width)
    if window is None and "VOILUTSequence" in ds:
        values = apply_voi_lut(values, ds, prefer_lut=True).astype(np.float64)
    if window is None:
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / max(high - low, 1e-9)
    else:
        scaled = _windowed(values, float(window[0]), float(window[1]), function.upper())
    scaled = np.clip(scaled, 0.0, 1.0) * 255
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        scaled = 255 - scaled
    return np.rint(scaled).astype(np.uint8)


def _windowed(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """0..1 per the VOI LUT Function (PS3.3 C.11.2.1.2 and C.11.2.1.3)."""
    if function == "SIGMOID":
        return 1 / (1 + np.exp(-4 * (values - center) / max(width, 1e-9)))
    if function == "LINEAR_EXACT":
        return (values - center) / max(width, 1e-9) + 0.5
    width = max(width, 1.0)
    if width == 1.0:
        return (values > center - 0.5).astype(np.float64)
    return (values - (center - 0.5)) / (width - 1) + 0.5


def _modality(ds: Dataset, array: np.ndarray, index: int) -> np.ndarray:
    transform = _frame_item(ds, index, "PixelValueTransformationSequence")
    if transform is not None and "RescaleSlope" in transform:
        slope = float(transform.get("RescaleSlope", 1) or 1)
        intercept = float(transform.get("RescaleIntercept", 0) or 0)
        return array.astype(np.float64) * slope + intercept
    return apply_modality_lut(array, ds).astype(np.float64)


def _frame_item(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """The first item of ``keyword`` for this frame in the enhanced multi-frame functional
    groups: the frame's own group first, then the shared one."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    shared = ds.get("SharedFunctionalGroupsSequence") or []
    groups = ([per_frame[index]] if index < len(per_frame) else []) + list(shared[:1])
    for group in groups:
        sequence = group.get(keyword)
        if sequence:
            return sequence[0]
    return None


def _first(value) -> float | None:
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if value else None
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
