"""The pure DICOM core of the store (no Django): parse at ingest, read frames, transcode,
render. The Django layer (imaging.services, imaging.dicomweb) adapts it to models and HTTP.

Modules: ``parse`` (ParsedInstance, index fields), ``frames`` (frame byte ranges),
``metadata`` (DICOM JSON with BulkDataURIs), ``part10`` (bare dataset to Part 10 file),
``transcode`` (decoding to Explicit VR Little Endian), ``render`` (JPEG/PNG).
"""

from .errors import InvalidDicom
from .frames import FrameLocation, frame_transfer_syntax_is_native, read_frame
from .metadata import BULK_PREFIX
from .parse import ParsedInstance, parse_instance
from .part10 import ensure_part10
from .render import render
from .transcode import can_transcode, transcode_frames, transcode_instance

__all__ = [
    "BULK_PREFIX",
    "FrameLocation",
    "InvalidDicom",
    "ParsedInstance",
    "can_transcode",
    "ensure_part10",
    "frame_transfer_syntax_is_native",
    "parse_instance",
    "read_frame",
    "render",
    "transcode_frames",
    "transcode_instance",
]
