"""Decoding compressed or big-endian pixel data to native little endian, when a client asks
for Explicit VR Little Endian (PS3.18 8.7.3.5)."""

import io
import os
from typing import BinaryIO

import numpy as np
import pydicom
from pydicom.uid import UID, ExplicitVRLittleEndian

from .parse import InvalidDicom

NATIVE_LITTLE_ENDIAN = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99"}
BIG_ENDIAN = "1.2.840.10008.1.2.2"


def _decodable(ts: str) -> bool:
    from pydicom.pixels import get_decoder

    try:
        return get_decoder(UID(ts)).is_available
    except (NotImplementedError, ValueError, KeyError):
        return False


def can_transcode(source_ts: str, target_ts: str) -> bool:
    if target_ts in ("*", source_ts):
        return True
    if target_ts != ExplicitVRLittleEndian:
        return False
    if source_ts in NATIVE_LITTLE_ENDIAN or source_ts == BIG_ENDIAN:
        return True
    return UID(source_ts).is_compressed and _decodable(source_ts)


def _check(ts: str, target: str) -> None:
    if not can_transcode(ts, target):
        raise InvalidDicom(
            "unsupported",
            f"Converting {ts} to {target} is not supported "
            "(only decompression to Explicit VR Little Endian is).",
        )


def transcode_frames(
    path: str | os.PathLike | BinaryIO, target_transfer_syntax: str = ExplicitVRLittleEndian
) -> list[bytes]:
    """Every frame as native little-endian bytes."""
    ds = pydicom.dcmread(path)
    ts = str(ds.file_meta.TransferSyntaxUID)
    _check(ts, target_transfer_syntax)
    if ts in NATIVE_LITTLE_ENDIAN:
        count = int(ds.get("NumberOfFrames", 1) or 1)
        data = ds.PixelData
        size = len(data) // count
        return [data[i * size : (i + 1) * size] for i in range(count)]
    array = _little_endian(ds.pixel_array)
    count = int(ds.get("NumberOfFrames", 1) or 1)
    if count == 1:
        return [array.tobytes()]
    return [frame.tobytes() for frame in array]


def _little_endian(array: np.ndarray) -> np.ndarray:
    return array.astype(array.dtype.newbyteorder("<"), copy=False)


def transcode_instance(
    path: str | os.PathLike | BinaryIO, target_transfer_syntax: str = ExplicitVRLittleEndian
) -> bytes:
    """The whole instance re-encoded in Explicit VR Little Endian, pixel data decoded."""
    ds = pydicom.dcmread(path)
    ts = str(ds.file_meta.TransferSyntaxUID)
    _check(ts, target_transfer_syntax)
    if UID(ts).is_compressed:
        ds.decompress(generate_instance_uid=False)
    elif ts == BIG_ENDIAN and "PixelData" in ds:
        ds.PixelData = _little_endian(ds.pixel_array).tobytes()
        ds["PixelData"].VR = "OW" if int(ds.BitsAllocated) > 8 else "OB"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True, implicit_vr=False, little_endian=True)
    return buffer.getvalue()
