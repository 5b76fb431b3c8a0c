"""Test instances made from the files pydicom ships, with fresh UIDs."""

import io

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid


def dataset(
    name: str = "CT_small.dcm",
    *,
    patient_id: str,
    study_uid: str | None = None,
    series_uid: str | None = None,
    number: int | None = None,
) -> pydicom.Dataset:
    ds = pydicom.dcmread(get_testdata_file(name))
    ds.PatientID = patient_id
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if number is not None:
        ds.InstanceNumber = number
    return ds


def to_bytes(ds: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
