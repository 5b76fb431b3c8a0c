"""Reading a stored instance once, at ingest: the index fields, where each frame's bytes are in
the file, and the DICOM JSON metadata with large values replaced by BulkDataURIs.

Large values are never loaded: pydicom reads with ``defer_size``, which records each big
value's file offset (``value_tell``) instead of its bytes.
"""

import datetime as dt
import io
import os
import struct
import zlib
from dataclasses import dataclass, field

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID

from .frames import FrameLocation, encapsulated_frames

BULK_PREFIX = "{bulk}/"  # the web layer replaces it with the instance URL + "/bulkdata/"
DEFER_BYTES = 1024
PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel, Float Pixel, Double Float Pixel
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
UNDEFINED_LENGTH = 0xFFFFFFFF


class InvalidDicom(Exception):
    """Input that cannot be stored; ``code`` is stable, ``message`` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class ParsedInstance:
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    patient_id: str = ""
    patient_name: str = ""
    patient_birth_date: dt.date | None = None
    patient_sex: str = ""
    study_date: dt.date | None = None
    study_time: dt.time | None = None
    accession_number: str = ""
    study_description: str = ""
    referring_physician_name: str = ""
    study_id: str = ""
    modality: str = ""
    series_number: int | None = None
    series_description: str = ""
    body_part_examined: str = ""
    instance_number: int | None = None
    number_of_frames: int = 1
    rows: int | None = None
    columns: int | None = None
    frames: list[FrameLocation] = field(default_factory=list)
    bulkdata: dict[str, tuple[int, int]] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


def parse_instance(path: str | os.PathLike) -> ParsedInstance:
    """Index fields, frame locations and metadata of the Part 10 file at ``path``."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    try:
        ds = pydicom.dcmread(path, defer_size=DEFER_BYTES)
    except InvalidDicomError as exc:
        raise InvalidDicom("not_dicom", f"Not a DICOM Part 10 file: {exc}") from exc
    except (EOFError, struct.error, OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidDicom("truncated", f"The file ends too early or is corrupt: {exc}") from exc
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not ts:
        raise InvalidDicom("not_dicom", "The file has no Transfer Syntax UID in its meta header.")
    if UID(ts).is_deflated:
        # Offsets into a deflated stream are not file offsets: frames could not be served.
        raise InvalidDicom(
            "unsupported",
            "The Deflated transfer syntax is not accepted; send "
            "the instance uncompressed or with an image compression.",
        )
    uids = {
        "study_uid": _text(ds, "StudyInstanceUID"),
        "series_uid": _text(ds, "SeriesInstanceUID"),
        "sop_uid": _text(ds, "SOPInstanceUID"),
        "sop_class_uid": _text(ds, "SOPClassUID"),
    }
    missing = [name for name, value in uids.items() if not value]
    if missing:
        raise InvalidDicom("missing_uid", f"Required UIDs are missing: {', '.join(missing)}.")
    too_long = [name for name, value in uids.items() if len(value) > 64]
    if too_long:
        raise InvalidDicom("invalid_uid", f"UIDs longer than 64 characters: {', '.join(too_long)}.")
    parsed = ParsedInstance(
        **uids,
        transfer_syntax_uid=ts,
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        patient_birth_date=_date(ds, "PatientBirthDate"),
        patient_sex=_text(ds, "PatientSex"),
        study_date=_date(ds, "StudyDate"),
        study_time=_time(ds, "StudyTime"),
        accession_number=_text(ds, "AccessionNumber"),
        study_description=_text(ds, "StudyDescription"),
        referring_physician_name=_text(ds, "ReferringPhysicianName"),
        study_id=_text(ds, "StudyID"),
        modality=_text(ds, "Modality"),
        series_number=_int(ds, "SeriesNumber"),
        series_description=_text(ds, "SeriesDescription"),
        body_part_examined=_text(ds, "BodyPartExamined"),
        instance_number=_int(ds, "InstanceNumber"),
        number_of_frames=_int(ds, "NumberOfFrames") or 1,
        rows=_int(ds, "Rows"),
        columns=_int(ds, "Columns"),
    )
    # Frames first: the metadata pass converts small raw elements and loses their offsets.
    parsed.frames, pixel_end = _frames(ds, path, size, UID(ts), parsed.number_of_frames)
    _check_complete(ds, size, pixel_end)
    parsed.metadata, parsed.bulkdata = _metadata(ds, ts, size)
    parsed.metadata["00020010"] = {"vr": "UI", "Value": [ts]}
    return parsed


def _text(ds, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception:  # noqa: BLE001 - a malformed optional attribute is treated as absent
        return ""
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        value = "\\".join(str(v) for v in value)
    return str(value).strip().strip("\x00")[:324]


def _int(ds, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _date(ds, keyword: str) -> dt.date | None:
    text = _text(ds, keyword).replace(".", "")
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()  # noqa: DTZ007 - a calendar date
    except ValueError:
        return None


def _time(ds, keyword: str) -> dt.time | None:
    text = _text(ds, keyword).replace(":", "")
    digits, _, fraction = text.partition(".")
    if len(digits) < 2 or not digits.isdigit():
        return None
    try:
        return dt.time(
            int(digits[0:2]),
            int(digits[2:4] or 0),
            int(digits[4:6] or 0),
            int((fraction + "000000")[:6]) if fraction.isdigit() else 0,
        )
    except ValueError:
        return None


def _vr_of(raw, ds) -> str:
    vr = raw.VR or dictionary_VR(raw.tag)
    if vr == "OB or OW":
        return "OW" if int(ds.get("BitsAllocated", 8) or 8) > 8 else "OB"
    if " or " in vr:
        return vr.split(" or ")[0]
    return vr


def _metadata(ds, ts: str, size: int) -> tuple[dict, dict]:
    """DICOM JSON of the dataset; deferred (large) top-level values become BulkDataURIs."""
    out: dict = {}
    bulk: dict[str, tuple[int, int]] = {}
    charset = ds.get("SpecificCharacterSet")
    charset = tuple(charset) if isinstance(charset, pydicom.multival.MultiValue) else charset
    for tag in sorted(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)
        key = f"{int(tag):08X}"
        is_deferred = getattr(raw, "value", 0) is None and getattr(raw, "value_tell", None)
        is_pixels = int(tag) in PIXEL_TAGS and getattr(raw, "value_tell", None) is not None
        if (is_deferred or is_pixels) and raw.length not in (0, UNDEFINED_LENGTH):
            if raw.value_tell + raw.length > size:
                raise InvalidDicom(
                    "truncated",
                    f"The value of ({key[:4]},{key[4:]}) runs past the end of the file.",
                )
            vr = _vr_of(raw, ds)
            if vr in BINARY_VRS or int(tag) in PIXEL_TAGS:
                out[key] = {"vr": vr, "BulkDataURI": f"{BULK_PREFIX}{key}"}
                bulk[key] = (raw.value_tell, raw.length)
                continue
        if int(tag) in PIXEL_TAGS and getattr(raw, "length", 0) == UNDEFINED_LENGTH:
            out[key] = {"vr": "OB", "BulkDataURI": f"{BULK_PREFIX}{key}"}
            continue  # encapsulated: frames are served instead of one value
        try:
            out[key] = _element_json(ds, tag, raw, charset)
        except Exception as exc:  # noqa: BLE001 - report which attribute is broken
            raise InvalidDicom(
                "truncated", f"Attribute ({key[:4]},{key[4:]}) cannot be read: {exc}"
            ) from exc
    return out, bulk


# DICOM JSON of elements by everything their conversion depends on. Most elements of a series
# repeat byte for byte from one instance to the next (patient, study, geometry, ...), and
# pydicom's conversion of a raw value is most of the cost of parsing an instance (~25 µs an
# element). The dicts are shared between instances: they must not be changed.
_JSON_CACHE: dict[tuple, dict] = {}
_JSON_CACHE_MAX = 20_000


def _element_json(ds, tag, raw, charset) -> dict:
    key = None
    if (
        isinstance(raw, RawDataElement)
        and raw.VR  # explicit: an implicit or ambiguous VR depends on the dataset around it
        and " or " not in raw.VR
        and raw.VR != "SQ"
        and raw.value is not None
    ):
        key = (int(tag), raw.VR, raw.is_little_endian, charset, raw.value)
        found = _JSON_CACHE.get(key)
        if found is not None:
            return found
    element = ds[tag].to_json_dict(bulk_data_element_handler=None, bulk_data_threshold=1 << 30)
    if key is not None:
        if len(_JSON_CACHE) >= _JSON_CACHE_MAX:
            _JSON_CACHE.clear()
        _JSON_CACHE[key] = element
    return element


def _check_complete(ds, size: int, pixel_end: int | None) -> None:
    """pydicom stops quietly where an element header is cut off: bytes left over after the
    last element it read mean the file is truncated or corrupt."""
    keys = list(ds.keys())
    if not keys:
        raise InvalidDicom("not_dicom", "The file holds no data elements.")
    last = ds.get_item(keys[-1], keep_deferred=True)
    tell, length = getattr(last, "value_tell", None), getattr(last, "length", None)
    if int(keys[-1]) in PIXEL_TAGS and pixel_end is not None:
        end = pixel_end
    elif tell is None or length is None or length == UNDEFINED_LENGTH:
        return  # a converted or undefined-length element: its end is not known here
    else:
        end = tell + length
    if end < size:
        raise InvalidDicom(
            "truncated", f"The file ends inside a data element ({size - end} bytes unread)."
        )


def _frames(ds, path: str, size: int, ts: UID, count: int):
    """(frame locations, end of encapsulated pixel data or None)."""
    for tag in PIXEL_TAGS:
        if tag in ds:
            raw = ds.get_item(tag, keep_deferred=True)
            break
    else:
        return [], None
    offset = getattr(raw, "value_tell", None)
    if offset is None:
        raise InvalidDicom("unsupported", "Pixel data is too small to locate; cannot serve frames.")
    if raw.length == UNDEFINED_LENGTH:
        return encapsulated_frames(path, offset, size, count)
    if offset + raw.length > size:
        raise InvalidDicom("truncated", "The pixel data runs past the end of the file.")
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    bits = int(ds.get("BitsAllocated", 8) or 8)
    frame_bits = rows * columns * samples * bits
    if count == 1 or frame_bits % 8:
        if count > 1:  # bit-packed frames do not start on byte boundaries
            raise InvalidDicom("unsupported", "Multi-frame 1-bit pixel data is not supported.")
        return [FrameLocation(((offset, raw.length),))], None
    frame_bytes = frame_bits // 8
    if frame_bytes * count > raw.length:
        raise InvalidDicom("truncated", f"Pixel data holds fewer than {count} frames.")
    return [FrameLocation(((offset + i * frame_bytes, frame_bytes),)) for i in range(count)], None


def ensure_part10(data: bytes, *, transfer_syntax_uid: str | None = None) -> bytes:
    """``data`` as a Part 10 file: unchanged when it is one; a bare dataset (as C-STORE delivers
    it) gets a preamble and File Meta, its bytes kept exactly."""
    if len(data) >= 132 and data[128:132] == b"DICM":
        return data
    if len(data) < 8:
        raise InvalidDicom("not_dicom", "Too short to be DICOM.")
    if transfer_syntax_uid is None:
        transfer_syntax_uid = _guess_transfer_syntax(data)
    ts = UID(transfer_syntax_uid)
    try:
        raw = zlib.decompress(data, -zlib.MAX_WBITS) if ts.is_deflated else data
        ds = pydicom.filereader.read_dataset(
            io.BytesIO(raw),
            is_implicit_VR=ts.is_implicit_VR if not ts.is_deflated else False,
            is_little_endian=ts.is_little_endian if not ts.is_deflated else True,
            stop_when=_after_sop_uids,
        )
        sop_class, sop_uid = str(ds.get("SOPClassUID", "")), str(ds.get("SOPInstanceUID", ""))
    except Exception as exc:  # noqa: BLE001 - anything unreadable is "not DICOM"
        raise InvalidDicom("not_dicom", f"Not a DICOM dataset: {exc}") from exc
    if not sop_class and not sop_uid:
        raise InvalidDicom("not_dicom", "Neither a DICOM file nor a dataset with SOP UIDs.")
    if not sop_class or not sop_uid:
        raise InvalidDicom("missing_uid", "SOP Class UID or SOP Instance UID is missing.")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    buffer = io.BytesIO()
    buffer.write(b"\x00" * 128 + b"DICM")
    pydicom.filewriter.write_file_meta_info(buffer, meta, enforce_standard=True)
    buffer.write(data)
    return buffer.getvalue()


def _after_sop_uids(tag, vr, length) -> bool:
    return tag > 0x00080018


def _guess_transfer_syntax(data: bytes) -> str:
    vr = data[4:6]
    if vr.isalpha() and vr.isupper():
        return "1.2.840.10008.1.2.1"  # explicit VR little endian
    return "1.2.840.10008.1.2"  # implicit VR little endian, the DICOM default
