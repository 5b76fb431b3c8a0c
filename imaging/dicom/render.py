"""Frames as JPEG or PNG for WADO-RS /rendered and thumbnails (PS3.18 8.3.5)."""

import io
import os
from typing import BinaryIO

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixels import apply_modality_lut

from .parse import InvalidDicom


def render(
    path: str | os.PathLike | BinaryIO,
    *,
    frame: int = 1,
    window: tuple[float, float] | None = None,
    media_type: str = "image/jpeg",
    quality: int = 90,
    viewport: tuple[int, int] | None = None,
) -> bytes:
    ds = pydicom.dcmread(path)
    count = int(ds.get("NumberOfFrames", 1) or 1)
    if not 1 <= frame <= count:
        raise InvalidDicom("unsupported", f"Frame {frame} does not exist (1-{count}).")
    try:
        array = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - no decoder, corrupt data: say so
        raise InvalidDicom("unsupported", f"The pixel data cannot be decoded: {exc}") from exc
    if count > 1:
        array = array[frame - 1]
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples == 1:
        image = Image.fromarray(_grey(ds, array, window), mode="L")
    else:
        if array.dtype != np.uint8:
            array = (array / max(float(array.max()), 1.0) * 255).astype(np.uint8)
        image = Image.fromarray(array[..., :3], mode="RGB")
    if viewport:
        image.thumbnail(viewport)
    buffer = io.BytesIO()
    if media_type == "image/png":
        image.save(buffer, format="PNG")
    else:
        image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _grey(ds, array: np.ndarray, window) -> np.ndarray:
    values = apply_modality_lut(array, ds).astype(np.float64)
    if window is None:
        center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
        if center is not None and width is not None:
            center = float(center[0] if isinstance(center, pydicom.multival.MultiValue) else center)
            width = float(width[0] if isinstance(width, pydicom.multival.MultiValue) else width)
            window = (center, width)
    if window is None:
        low, high = float(values.min()), float(values.max())
    else:
        center, width = window
        low, high = center - width / 2, center + width / 2
    scaled = np.clip((values - low) / max(high - low, 1e-6), 0, 1) * 255
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        scaled = 255 - scaled
    return scaled.astype(np.uint8)
