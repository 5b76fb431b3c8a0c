"""Where each frame's bytes are in a stored file, and reading them back with seek + read only.

Native pixel data is a run of equal-sized frames. Encapsulated pixel data (PS3.5 A.4) is a Basic
Offset Table item followed by fragment items; a frame is one or more consecutive fragments. The
item structure is walked with seeks, so fragment bytes are never loaded (except the first few bytes
of each fragment when frame starts must be found by their codestream markers).
"""

import os
import struct
from dataclasses import dataclass

from .errors import InvalidDicom

ITEM = 0xE000FFFE  # (FFFE,E000) read as one little-endian uint32: group first, then element
SEQUENCE_DELIMITER = 0xE0DDFFFE
# Codestream starts: JPEG / JPEG-LS (SOI), JPEG 2000 / HTJ2K (SOC + SIZ), JP2 signature box.
FRAME_MARKERS = (b"\xff\xd8", b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  ")
NATIVE_TRANSFER_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2",  # Implicit VR Little Endian
        "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian (whole dataset deflated)
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired)
    }
)


@dataclass(frozen=True)
class FrameLocation:
    """The frame's bytes are these (file offset, length) ranges, concatenated."""

    fragments: tuple[tuple[int, int], ...]


def read_frame(path: str | os.PathLike, location: FrameLocation) -> bytes:
    """The frame's bytes, read from ``path`` at the recorded ranges."""
    with open(path, "rb") as f:
        chunks = []
        for offset, length in location.fragments:
            f.seek(offset)
            chunks.append(f.read(length))
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def frame_transfer_syntax_is_native(ts: str) -> bool:
    """Whether frames stored in ``ts`` are uncompressed pixel values (served as
    application/octet-stream) rather than a compressed bitstream."""
    return str(ts) in NATIVE_TRANSFER_SYNTAXES


def native_frame_bits(
    rows: int, columns: int, samples: int, bits_allocated: int, photometric: str
) -> int:
    """Size of one native frame in bits (frames are packed with no padding between them)."""
    if photometric == "YBR_FULL_422":
        samples = 2  # two chroma samples shared by each pair of pixels (PS3.3 C.7.6.3.1.2)
    return rows * columns * samples * bits_allocated


def native_frames(offset: int, length: int, frame_bits: int, count: int) -> list[FrameLocation]:
    """Frames of native pixel data whose value is ``length`` bytes at ``offset``.

    One frame, or frames of unknown size: the whole value (less the even-length padding when the
    size is known). Multi-frame bit-packed data (BitsAllocated 1) whose frames do not end on a
    byte boundary cannot be expressed as byte ranges: no frames are returned for it, and its pixel
    data stays reachable as bulk data.
    """
    if frame_bits <= 0:
        return [FrameLocation(((offset, length),))]
    frame_bytes = -(-frame_bits // 8)
    needed = -(-frame_bits * count // 8)
    if needed > length:
        raise InvalidDicom(
            "truncated",
            f"The pixel data holds {length} bytes, fewer than the {needed} "
            f"that {count} frame(s) of this size need.",
        )
    if count > 1 and frame_bits % 8:
        return []
    return [FrameLocation(((offset + i * frame_bytes, frame_bytes),)) for i in range(count)]


@dataclass(frozen=True)
class _Fragment:
    item_start: int  # relative to the first fragment item, as offset tables count
    offset: int  # file offset of the fragment's bytes
    length: int


def encapsulated_frames(
    path: str | os.PathLike,
    offset: int,
    size: int,
    count: int,
    extended_offsets: list[int] | None = None,
) -> tuple[list[FrameLocation], int]:
    """Frames of the encapsulated pixel data whose value starts at file offset ``offset``.

    Fragments are mapped to ``count`` frames by, in turn: a valid Basic Offset Table; all
    fragments when there is one frame; one fragment per frame when the counts match; the Extended
    Offset Table (``extended_offsets``); codestream start markers. Also returns the file offset
    just past the sequence delimiter that ends the pixel data.
    """
    with open(path, "rb") as f:
        f.seek(offset)
        basic_offsets, fragments, end = _read_items(f, offset, size)
        groups = (
            _group_by_offsets(fragments, basic_offsets, count)
            or ([fragments] if count == 1 else None)
            or ([[fr] for fr in fragments] if len(fragments) == count else None)
            or _group_by_offsets(fragments, extended_offsets or [], count)
            or _group_by_markers(f, fragments, count)
        )
    if not groups:
        raise InvalidDicom(
            "unsupported",
            f"Cannot tell which of the {len(fragments)} pixel data fragments make up "
            f"which of the {count} frames.",
        )
    return [FrameLocation(tuple((fr.offset, fr.length) for fr in group)) for group in groups], end


def _read_items(f, offset: int, size: int) -> tuple[list[int], list[_Fragment], int]:
    position = offset
    basic_offsets: list[int] | None = None
    fragments: list[_Fragment] = []
    first_fragment = 0
    while True:
        header = f.read(8)
        if len(header) < 8:
            raise InvalidDicom("truncated", "The file ends inside the encapsulated pixel data.")
        tag, length = struct.unpack("<II", header)
        if tag == SEQUENCE_DELIMITER:
            break
        if tag != ITEM:
            raise InvalidDicom(
                "not_dicom", f"Unexpected tag {tag:08X} among the encapsulated pixel data items."
            )
        if position + 8 + length > size:
            raise InvalidDicom("truncated", "A pixel data fragment runs past the end of the file.")
        if basic_offsets is None:
            table = f.read(length)
            basic_offsets = list(struct.unpack(f"<{length // 4}I", table[: length // 4 * 4]))
            first_fragment = position + 8 + length
        else:
            fragments.append(_Fragment(position - first_fragment, position + 8, length))
            f.seek(position + 8 + length)
        position += 8 + length
    if basic_offsets is None or not fragments:
        raise InvalidDicom("unsupported", "The encapsulated pixel data holds no fragments.")
    return basic_offsets, fragments, position + 8


def _group_by_offsets(fragments: list[_Fragment], offsets: list[int], count: int):
    """Groups of fragments starting at ``offsets``, or None unless the table is consistent."""
    if len(offsets) != count or not offsets or offsets[0] != 0:
        return None
    index = {fr.item_start: i for i, fr in enumerate(fragments)}
    starts = [index.get(o) for o in offsets]
    if None in starts or any(a >= b for a, b in zip(starts, starts[1:], strict=False)):
        return None
    bounds = [*starts, len(fragments)]
    return [fragments[bounds[i] : bounds[i + 1]] for i in range(count)]


def _group_by_markers(f, fragments: list[_Fragment], count: int):
    groups: list[list[_Fragment]] = []
    for fragment in fragments:
        f.seek(fragment.offset)
        head = f.read(12)
        if not groups or head.startswith(FRAME_MARKERS):
            groups.append([fragment])
        else:
            groups[-1].append(fragment)
    return groups if len(groups) == count else None
