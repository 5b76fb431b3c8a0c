"""Frame byte ranges inside a stored file, and reading them back with nothing but seek + read."""

import os
import struct
from dataclasses import dataclass

ITEM = 0xE000FFFE  # (FFFE,E000) read as one little-endian uint32: group first, then element
SEQUENCE_DELIMITER = 0xE0DDFFFE
_FRAME_STARTS = (b"\xff\xd8", b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP")  # JPEG, J2K, JP2


@dataclass(frozen=True)
class FrameLocation:
    """The frame's bytes are these (offset, length) ranges of the file, concatenated."""

    fragments: tuple[tuple[int, int], ...]


def read_frame(source, location: FrameLocation) -> bytes:
    """The frame's bytes from ``source``: a path, or an open seekable binary file (a stored
    file that decrypts as it reads, say)."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return read_frame(f, location)
    if len(location.fragments) == 1:
        offset, length = location.fragments[0]
        source.seek(offset)
        return source.read(length)
    chunks = []
    for offset, length in location.fragments:
        source.seek(offset)
        chunks.append(source.read(length))
    return b"".join(chunks)


def encapsulated_frames(
    path: str, offset: int, size: int, count: int
) -> tuple[list[FrameLocation], int]:
    """Map the fragments of encapsulated pixel data starting at ``offset`` to ``count`` frames
    (PS3.5 A.4): by the Basic Offset Table, one fragment per frame, or frame-start markers.
    Also returns the file position just after the pixel data's sequence delimiter."""
    from .parse import InvalidDicom

    with open(path, "rb") as f:
        f.seek(offset)
        header = f.read(8)
        if len(header) < 8:
            raise InvalidDicom("truncated", "The encapsulated pixel data ends too early.")
        tag, length = struct.unpack("<II", header)
        if tag != ITEM:
            raise InvalidDicom("not_dicom", "Encapsulated pixel data lacks its offset table.")
        bot = f.read(length)
        offsets = list(struct.unpack(f"<{length // 4}I", bot)) if length else []
        first_item = offset + 8 + length
        fragments = []  # (item start relative to first fragment item, value offset, length)
        position = first_item
        while True:
            header = f.read(8)
            if len(header) < 8:
                raise InvalidDicom("truncated", "The encapsulated pixel data ends too early.")
            tag, length = struct.unpack("<II", header)
            if tag == SEQUENCE_DELIMITER:
                end = position + 8
                break
            if tag != ITEM:
                raise InvalidDicom("not_dicom", "Unexpected element inside pixel data items.")
            if position + 8 + length > size:
                raise InvalidDicom("truncated", "A pixel data fragment runs past the end.")
            fragments.append((position - first_item, position + 8, length))
            position += 8 + length
            f.seek(position)
        if not fragments:
            raise InvalidDicom("truncated", "The encapsulated pixel data holds no fragments.")
        if count == 1:
            groups = [fragments]
        elif offsets and len(offsets) == count:
            groups = [
                [fr for fr in fragments if start <= fr[0] < end]
                for start, end in zip(offsets, [*offsets[1:], 1 << 62], strict=True)
            ]
        elif len(fragments) == count:
            groups = [[fr] for fr in fragments]
        else:
            groups = _group_by_markers(f, fragments, count)
    if len(groups) != count or any(not g for g in groups):
        raise InvalidDicom("unsupported", "Cannot tell which fragments make up which frame.")
    return [FrameLocation(tuple((o, n) for _, o, n in group)) for group in groups], end


def _group_by_markers(f, fragments, count):
    groups: list[list] = []
    for fragment in fragments:
        f.seek(fragment[1])
        head = f.read(8)
        if not groups or head.startswith(_FRAME_STARTS):
            groups.append([fragment])
        else:
            groups[-1].append(fragment)
    return groups if len(groups) == count else []
