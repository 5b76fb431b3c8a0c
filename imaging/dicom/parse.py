"""Reading a stored instance once, at ingest: the index fields, where each frame's bytes are in
the file, and the DICOM JSON metadata with large values replaced by BulkDataURIs.

Large values are never loaded: pydicom reads with ``defer_size``, which records each big
value's file offset (``value_tell``) and seeks past it, also across encapsulated pixel data items.
"""

import datetime as dt
import os
import struct
from dataclasses import dataclass, field

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from .errors import InvalidDicom
from .frames import FrameLocation, encapsulated_frames, native_frame_bits, native_frames
from .metadata import BULK_THRESHOLD, UNDEFINED_LENGTH, dataset_json

PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel, Float Pixel, Double Float Pixel Data
PIXEL_BITS = {0x7FE00008: 32, 0x7FE00009: 64}  # float pixel data has a fixed sample size
EXTENDED_OFFSET_TABLE = 0x7FE00001
UID_FIELDS = {
    "study_uid": "StudyInstanceUID",
    "series_uid": "SeriesInstanceUID",
    "sop_uid": "SOPInstanceUID",
    "sop_class_uid": "SOPClassUID",
}


@dataclass
class ParsedInstance:
    """What the store indexes and serves for one instance; offsets are into the parsed file."""

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
    """Index fields, frame locations, bulk data ranges and metadata of the Part 10 file at
    ``path``. Raises :class:`InvalidDicom` for files that cannot be stored and served."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    ds = _read(path)
    ts = _transfer_syntax(ds)
    _check_lengths(ds, size)
    uids = {name: _text(ds, keyword) for name, keyword in UID_FIELDS.items()}
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
        number_of_frames=max(_int(ds, "NumberOfFrames") or 1, 1),
        rows=_int(ds, "Rows"),
        columns=_int(ds, "Columns"),
    )
    pixel_tag, pixel_range, parsed.frames, pixel_end = _pixels(ds, path, size, ts, parsed)
    _check_complete(ds, path, size, pixel_tag, pixel_end)
    _check_uids(uids)  # after the checks for truncation, which can also make UIDs go missing
    pixel_ranges = {pixel_tag: pixel_range} if pixel_tag else {}
    parsed.metadata, parsed.bulkdata = dataset_json(ds, size=size, pixel_ranges=pixel_ranges)
    parsed.metadata["00020010"] = {"vr": "UI", "Value": [ts]}
    return parsed


def _check_uids(uids: dict[str, str]) -> None:
    missing = [UID_FIELDS[name] for name, value in uids.items() if not value]
    if missing:
        raise InvalidDicom("missing_uid", f"Required UIDs are missing: {', '.join(missing)}.")
    too_long = [UID_FIELDS[name] for name, value in uids.items() if len(value) > 64]
    if too_long:
        raise InvalidDicom("invalid_uid", f"UIDs longer than 64 characters: {', '.join(too_long)}.")


def _read(path: str) -> pydicom.FileDataset:
    try:
        return pydicom.dcmread(path, defer_size=BULK_THRESHOLD)
    except InvalidDicomError as exc:
        raise InvalidDicom("not_dicom", f"Not a DICOM Part 10 file: {exc}") from exc
    except (EOFError, struct.error, OSError) as exc:
        raise InvalidDicom("truncated", f"The file ends too early: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds on corrupt input
        raise InvalidDicom("not_dicom", f"The file is corrupt: {exc}") from exc


def _transfer_syntax(ds) -> str:
    ts = str(ds.file_meta.get("TransferSyntaxUID", "") or "").strip()
    if not ts:
        # pydicom read the dataset by guessing its encoding; for native pixel data (or none)
        # that guess is the whole transfer syntax, so record it.
        pixels = _pixel_element(ds)[1]
        if pixels is not None and pixels.length == UNDEFINED_LENGTH:
            raise InvalidDicom(
                "unsupported", "Compressed pixel data without a Transfer Syntax UID."
            )
        implicit, little = ds.original_encoding
        ts = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
        ts = ts if little is not False else "1.2.840.10008.1.2.2"
    uid = UID(ts)
    if not uid.is_transfer_syntax:
        raise InvalidDicom("unsupported", f"Unknown transfer syntax {ts}.")
    if uid.is_deflated:
        # Offsets into a deflated stream are not file offsets: frames could not be served.
        raise InvalidDicom(
            "unsupported",
            "The Deflated transfer syntax is not accepted; send "
            "the instance uncompressed or with an image compression.",
        )
    return ts


def _check_lengths(ds, size: int) -> None:
    """pydicom seeks past deferred values and reads short ones without checking the file is
    long enough: a value that runs past the end means the file was cut off."""
    for tag in ds.keys():
        raw = ds.get_item(tag, keep_deferred=True)
        if (
            isinstance(raw, RawDataElement)
            and raw.length != UNDEFINED_LENGTH
            and raw.value_tell + raw.length > size
        ):
            key = f"{int(tag):08X}"
            raise InvalidDicom(
                "truncated", f"The value of ({key[:4]},{key[4:]}) runs past the end of the file."
            )


def _check_complete(ds, path: str, size: int, pixel_tag: int | None, pixel_end: int | None) -> None:
    """pydicom stops quietly where an element header is cut off: bytes left over after the
    last element mean the file is truncated or corrupt."""
    keys = list(ds.keys())
    if not keys:
        raise InvalidDicom("not_dicom", "The file holds no data elements.")
    last = ds.get_item(keys[-1], keep_deferred=True)
    if int(keys[-1]) == pixel_tag and pixel_end is not None:
        end = pixel_end
    elif isinstance(last, RawDataElement) and last.length != UNDEFINED_LENGTH:
        end = last.value_tell + last.length
    else:
        return  # an undefined-length sequence or value: its end is not recorded
    if end < size:
        with open(path, "rb") as f:
            f.seek(end)
            rest = f.read(8)
        if len(rest) == 8 or rest.strip(b"\x00"):
            raise InvalidDicom(
                "truncated", f"The file ends inside a data element ({size - end} bytes unread)."
            )


def _pixel_element(ds) -> tuple[int | None, RawDataElement | None]:
    for tag in PIXEL_TAGS:
        if tag in ds:
            return tag, ds.get_item(tag, keep_deferred=True)
    return None, None


def _pixels(ds, path: str, size: int, ts: str, parsed: ParsedInstance):
    """(pixel tag, its value's (offset, length), frame locations, end of encapsulated data)."""
    tag, raw = _pixel_element(ds)
    if tag is None:
        return None, None, [], None
    offset = getattr(raw, "value_tell", None) or getattr(raw, "file_tell", None)
    if offset is None:
        raise InvalidDicom("unsupported", "The pixel data cannot be located in the file.")
    count = parsed.number_of_frames
    if raw.length == UNDEFINED_LENGTH:
        if tag != 0x7FE00010 or not UID(ts).is_encapsulated:
            raise InvalidDicom(
                "unsupported", f"Encapsulated pixel data in the native transfer syntax {ts}."
            )
        frames, end = encapsulated_frames(path, offset, size, count, _extended_offsets(ds))
        return tag, (offset, end - 8 - offset), frames, end
    if UID(ts).is_encapsulated:
        raise InvalidDicom("unsupported", f"Native pixel data in the compressed syntax {ts}.")
    frame_bits = native_frame_bits(
        parsed.rows or 0,
        parsed.columns or 0,
        _int(ds, "SamplesPerPixel") or 1,
        PIXEL_BITS.get(tag) or _int(ds, "BitsAllocated") or 8,
        _text(ds, "PhotometricInterpretation"),
    )
    return tag, (offset, raw.length), native_frames(offset, raw.length, frame_bits, count), None


def _extended_offsets(ds) -> list[int] | None:
    if EXTENDED_OFFSET_TABLE not in ds:
        return None
    try:
        value = ds[EXTENDED_OFFSET_TABLE].value  # reads it from the file when deferred
    except Exception:  # noqa: BLE001 - a broken optional table is ignored
        return None
    if not isinstance(value, bytes) or len(value) % 8:
        return None
    return list(struct.unpack(f"<{len(value) // 8}Q", value))


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
    except (TypeError, ValueError, OverflowError):
        return None


def _date(ds, keyword: str) -> dt.date | None:
    text = _text(ds, keyword).replace(".", "")  # ACR-NEMA dates: YYYY.MM.DD
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()  # noqa: DTZ007 - a calendar date
    except ValueError:
        return None


def _time(ds, keyword: str) -> dt.time | None:
    text = _text(ds, keyword).replace(":", "")  # ACR-NEMA times: HH:MM:SS
    digits, _, fraction = text.partition(".")
    if len(digits) < 2 or len(digits) % 2 or not digits.isdigit():
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
