"""The pure DICOM core of the store (no Django): parse at ingest, read frames, transcode,
render. The Django layer (imaging.services, imaging.dicomweb) adapts it to models and HTTP."""

from .frames import FrameLocation, read_frame
from .parse import BULK_PREFIX, InvalidDicom, ParsedInstance, ensure_part10, parse_instance
from .render import render
from .transcode import can_transcode, transcode_frames, transcode_instance

__all__ = [
    "BULK_PREFIX",
    "FrameLocation",
    "InvalidDicom",
    "ParsedInstance",
    "can_transcode",
    "ensure_part10",
    "parse_instance",
    "read_frame",
    "render",
    "transcode_frames",
    "transcode_instance",
]
