"""Parsing at ingest: the DICOM JSON cached per instance is pydicom's, also when elements come
from the per-process cache of converted elements (imaging.dicom.parse._JSON_CACHE)."""

import os
from pathlib import Path

import pydicom
import pydicom.data
import pytest
from pydicom.data import get_testdata_file

from imaging.dicom import InvalidDicom, parse_instance
from imaging.dicom import parse as parse_module


@pytest.fixture
def empty_cache():
    parse_module._JSON_CACHE.clear()
    yield parse_module._JSON_CACHE
    parse_module._JSON_CACHE.clear()


def test_every_file_pydicom_ships_parses_the_same_from_the_cache(empty_cache):
    parsed = from_cache = 0
    # The files inside the pydicom package (get_testdata_files would also look online).
    shipped = Path(pydicom.data.__file__).parent / "test_files"
    for path in sorted(map(str, shipped.rglob("*.dcm"))):
        if os.path.getsize(path) > 4_000_000:
            continue
        empty_cache.clear()
        try:
            cold = parse_instance(path)
        except InvalidDicom:
            continue
        from_cache += bool(empty_cache)  # what the second parse will find there
        warm = parse_instance(path)
        assert warm.metadata == cold.metadata, path
        parsed += 1
    assert parsed >= 40 and from_cache >= 30


def save(ds, tmp_path, name):
    path = tmp_path / name
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_changed_value_or_character_set_is_converted_afresh(empty_cache, tmp_path):
    # Operators' Name and Institution Name: not index fields, so their raw values reach the
    # cache (index fields are converted before the metadata pass).
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.OperatorsName = "\u738b^\u4f1f"  # 王^伟, written as UTF-8
    ds.InstitutionName = "\u745e\u91d1\u533b\u9662"  # 瑞金医院
    utf8 = parse_instance(save(ds, tmp_path, "utf8.dcm")).metadata
    assert utf8["00081070"]["Value"] == [{"Alphabetic": "\u738b^\u4f1f"}]
    assert utf8["00080080"]["Value"] == ["\u745e\u91d1\u533b\u9662"]
    assert empty_cache

    ds.OperatorsName = "\u674e^\u5a1c"  # 李^娜: another value, converted afresh
    other = parse_instance(save(ds, tmp_path, "other.dcm")).metadata
    assert other["00081070"]["Value"] == [{"Alphabetic": "\u674e^\u5a1c"}]

    # The very same bytes under Latin-1 read as Latin-1, not as the UTF-8 values seen before.
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.OperatorsName = "\u738b^\u4f1f".encode().decode("latin-1")
    ds.InstitutionName = "\u745e\u91d1\u533b\u9662".encode().decode("latin-1")
    latin = parse_instance(save(ds, tmp_path, "latin.dcm")).metadata
    assert latin["00081070"]["Value"] == [{"Alphabetic": str(ds.OperatorsName)}]
    assert latin["00080080"]["Value"] == [ds.InstitutionName]
