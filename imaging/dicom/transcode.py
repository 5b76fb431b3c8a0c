"""Decoding compressed or big-endian pixel data to native little endian, for clients that ask
for Explicit VR Little Endian (PS3.18 8.7.3.5). No other conversion is offered.

Decoded colour frames are what pydicom's ``pixel_array`` gives: RGB (YCbCr is converted) and
pixel-interleaved; ``transcode_instance`` updates Photometric Interpretation and Planar
Configuration to match, ``transcode_frames`` returns the bytes only.
"""

import os

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.pixels import get_decoder, pack_bits
from pydicom.uid import UID, ExplicitVRLittleEndian

from .errors import InvalidDicom
from .frames import native_frame_bits

NATIVE_LITTLE_ENDIAN = frozenset(
    {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99"}
)
BIG_ENDIAN = "1.2.840.10008.1.2.2"
FLOAT_BITS = {"FloatPixelData": 32, "DoubleFloatPixelData": 64}
SWAP_SIZE = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}  # byte order of each binary VR's words


def can_transcode(source_ts: str, target_ts: str) -> bool:
    """Whether frames stored in ``source_ts`` can be served in ``target_ts`` ("*": as stored)."""
    if target_ts in ("*", source_ts):
        return True
    if target_ts != ExplicitVRLittleEndian:
        return False
    if source_ts in NATIVE_LITTLE_ENDIAN or source_ts == BIG_ENDIAN:
        return True
    try:
        uid = UID(source_ts)
        return uid.is_transfer_syntax and uid.is_compressed and get_decoder(uid).is_available
    except (NotImplementedError, ValueError, KeyError):
        return False


def transcode_frames(
    path: str | os.PathLike, target_transfer_syntax: str = ExplicitVRLittleEndian
) -> list[bytes]:
    """Every frame of the instance at ``path`` as native little-endian bytes."""
    ds = _read(path, target_transfer_syntax)
    keyword = _pixel_keyword(ds)
    if keyword is None:
        return []
    ts = str(ds.file_meta.TransferSyntaxUID)
    count = max(int(ds.get("NumberOfFrames", 1) or 1), 1)
    bits = FLOAT_BITS.get(keyword) or int(ds.get("BitsAllocated", 8) or 8)
    if ts in NATIVE_LITTLE_ENDIAN or ts == BIG_ENDIAN:
        data = _native_little_endian(ds, keyword) if ts == BIG_ENDIAN else ds[keyword].value
        frame_bits = native_frame_bits(
            int(ds.Rows),
            int(ds.Columns),
            int(ds.get("SamplesPerPixel", 1) or 1),
            bits,
            str(ds.get("PhotometricInterpretation", "")),
        )
        if frame_bits % 8 == 0 or count == 1:
            size = -(-frame_bits // 8)
            return [data[i * size : (i + 1) * size] for i in range(count)]
    array = _decode(ds)
    frames = array if count > 1 else [array]
    if bits == 1:
        return [pack_bits(frame, pad=False) for frame in frames]
    return [_little_endian(frame).tobytes() for frame in frames]


def transcode_instance(
    path: str | os.PathLike, target_transfer_syntax: str = ExplicitVRLittleEndian
) -> bytes:
    """The whole instance as a Part 10 file in Explicit VR Little Endian, pixel data decoded."""
    ds = _read(path, target_transfer_syntax)
    ts = UID(ds.file_meta.TransferSyntaxUID)
    if ts.is_compressed and "PixelData" in ds:
        try:
            ds.decompress(generate_instance_uid=False)
        except Exception as exc:  # noqa: BLE001 - no decoder, corrupt data: say so
            raise InvalidDicom("unsupported", f"The pixel data cannot be decoded: {exc}") from exc
    if ts == BIG_ENDIAN:
        _swap_binary_values(ds)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = DicomBytesIO()
    buffer.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buffer, ds.file_meta, enforce_standard=True)
    # The encoding is set on the buffer: pydicom re-encodes numbers and text from their values.
    buffer.is_implicit_VR, buffer.is_little_endian = False, True
    write_dataset(buffer, ds)
    return buffer.getvalue()


def _read(path, target: str) -> Dataset:
    """The whole dataset, once the conversion to ``target`` is known to be possible ("*" asks
    for any transfer syntax: decoded to Explicit VR Little Endian here)."""
    ds = pydicom.dcmread(os.fspath(path))
    ts = str(ds.file_meta.get("TransferSyntaxUID", ExplicitVRLittleEndian))
    supported = target in ("*", ExplicitVRLittleEndian) and can_transcode(
        ts, ExplicitVRLittleEndian
    )
    if not supported:
        raise InvalidDicom(
            "unsupported",
            f"Converting {ts} to {target} is not supported "
            "(only decoding to Explicit VR Little Endian is).",
        )
    return ds


def _pixel_keyword(ds: Dataset) -> str | None:
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in ds:
            return keyword
    return None


def _decode(ds: Dataset) -> np.ndarray:
    try:
        return ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - no decoder, corrupt data: say so
        raise InvalidDicom("unsupported", f"The pixel data cannot be decoded: {exc}") from exc


def _little_endian(array: np.ndarray) -> np.ndarray:
    return array.astype(array.dtype.newbyteorder("<"), copy=False)


def _swapped(value: bytes, width: int) -> bytes:
    usable = len(value) - len(value) % width
    words = np.frombuffer(value, dtype=f">u{width}", count=usable // width)
    return words.byteswap().tobytes() + value[usable:]


def _native_little_endian(ds: Dataset, keyword: str = "PixelData") -> bytes:
    """Big-endian pixel data in little-endian byte order: OW words are swapped whatever
    BitsAllocated says (PS3.5 A.3); larger samples are swapped whole."""
    element = ds[keyword]
    bits = FLOAT_BITS.get(keyword) or int(ds.get("BitsAllocated", 8) or 8)
    width = max(bits // 8, 2) if element.VR == "OW" else (bits // 8 if bits > 8 else 1)
    return _swapped(element.value, width) if width > 1 else element.value


def _swap_binary_values(ds: Dataset) -> None:
    """Binary values read from a big-endian file are bytes in big-endian order; pydicom writes
    them as they are, so swap them (numbers and text are re-encoded by pydicom itself)."""
    for element in ds:
        if element.VR == "SQ":
            for item in element.value:
                _swap_binary_values(item)
        elif element.tag == 0x7FE00010:
            element.value = _native_little_endian(ds)
            element.VR = "OW" if int(ds.get("BitsAllocated", 8) or 8) > 8 else element.VR
        elif element.VR in SWAP_SIZE and isinstance(element.value, bytes):
            element.value = _swapped(element.value, SWAP_SIZE[element.VR])
