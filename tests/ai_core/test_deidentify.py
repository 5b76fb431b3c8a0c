"""De-identification (PS3.15 Annex E, Basic Profile with modified dates and, when asked, device
identity kept): no identifying value survives anywhere in the written bytes."""

import datetime as dt

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    SegmentationStorage,
    generate_uid,
)

from imaging.dicom.deidentify import (
    BurnedInAnnotation,
    Deidentifier,
    burned_in_annotation,
    dataset_bytes,
)

PHI = {
    "name": "Zhang^Wei",
    "mrn": "MRN-778899",
    "other_id": "OTHER-4455",
    "other_name": "Chang^Way",
    "mother": "Li^Mei",
    "address": "12 Chaoyang Road, Beijing",
    "phone": "+86-10-5555-0101",
    "birth": "19650302",
    "referring": "Dr^Referrer",
    "performing": "Dr^Performer",
    "reading": "Dr^Reader",
    "operator": "Tech^Operator",
    "requesting": "Dr^Requester",
    "nested_name": "Nested^Person",
    "institution": "Peking General Hospital",
    "institution_address": "1 Hospital Lane",
    "department": "Thoracic Radiology Dept",
    "station": "CTSTATION07",
    "serial": "SN-993311",
    "accession": "ACC-20240115-42",
    "study_id": "STUDY-8812",
    "study_description": "Chest CT for Zhang",
    "series_description": "Thin slices Zhang",
    "comments": "patient anxious, call daughter",
    "private": "PRIVATE-SECRET-VALUE",
    "requested_procedure": "REQPROC-5566",
    "admission": "ADM-3344",
}
STUDY_DATE = "20240115"
ACQUISITION_DATETIME = "20240115101530.000000"


def _person(name: str) -> Dataset:
    item = Dataset()
    item.PersonName = name
    item.PersonAddress = PHI["address"]
    return item


def phi_dataset(
    *, sop_class=CTImageStorage, study_uid=None, referenced_uid=None, burned_in="NO"
) -> Dataset:
    """A CT (or other) instance with identifying values in every place they occur."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = "PEKINGCT"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.PatientName = PHI["name"]
    ds.PatientID = PHI["mrn"]
    ds.PatientBirthDate = PHI["birth"]
    ds.PatientSex = "M"
    ds.PatientAge = "058Y"
    ds.PatientAddress = PHI["address"]
    ds.PatientTelephoneNumbers = PHI["phone"]
    ds.PatientMotherBirthName = PHI["mother"]
    ds.OtherPatientIDs = PHI["other_id"]
    ds.OtherPatientNames = PHI["other_name"]
    other = Dataset()
    other.PatientID = PHI["other_id"]
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = [other]
    ds.ReferringPhysicianName = PHI["referring"]
    ds.PerformingPhysicianName = PHI["performing"]
    ds.NameOfPhysiciansReadingStudy = PHI["reading"]
    ds.OperatorsName = PHI["operator"]
    ds.InstitutionName = PHI["institution"]
    ds.InstitutionAddress = PHI["institution_address"]
    ds.InstitutionalDepartmentName = PHI["department"]
    ds.StationName = PHI["station"]
    ds.DeviceSerialNumber = PHI["serial"]
    ds.Manufacturer = "ACME"
    ds.ManufacturerModelName = "Scanner 9000"
    ds.AccessionNumber = PHI["accession"]
    ds.StudyID = PHI["study_id"]
    ds.StudyDescription = PHI["study_description"]
    ds.SeriesDescription = PHI["series_description"]
    ds.ImageComments = PHI["comments"]
    ds.PatientComments = PHI["comments"]
    ds.StudyDate = STUDY_DATE
    ds.SeriesDate = STUDY_DATE
    ds.ContentDate = STUDY_DATE
    ds.StudyTime = "101500"
    ds.AcquisitionDateTime = ACQUISITION_DATETIME
    ds.Modality = "CT"
    ds.BurnedInAnnotation = burned_in
    request = Dataset()
    request.RequestedProcedureID = PHI["requested_procedure"]
    request.RequestingPhysician = PHI["requesting"]
    ds.RequestAttributesSequence = [request]
    referenced_patient = Dataset()
    referenced_patient.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.1.4"
    referenced_patient.ReferencedSOPInstanceUID = generate_uid()
    ds.ReferencedPatientSequence = [referenced_patient]
    # A sequence the profile keeps, with a name nested in it: the name must still go.
    code = Dataset()
    code.CodeValue = "T-D3000"
    code.CodingSchemeDesignator = "SRT"
    code.CodeMeaning = "Chest"
    code.ContentCreatorName = PHI["nested_name"]
    code.PersonIdentificationCodeSequence = [_person(PHI["nested_name"])]
    ds.AnatomicRegionSequence = [code]
    ds.AdmissionID = PHI["admission"]
    group = Dataset()  # a sequence the table does not name, holding identity inside
    group.PatientID = PHI["mrn"]
    group.IssuerOfPatientID = "PEKING GENERAL"
    ds.SourcePatientGroupIdentificationSequence = [group]
    if referenced_uid:
        source = Dataset()
        source.ReferencedSOPClassUID = CTImageStorage
        source.ReferencedSOPInstanceUID = referenced_uid
        ds.SourceImageSequence = [source]
    block = ds.private_block(0x0009, "ACME PRIVATE", create=True)
    block.add_new(0x01, "LO", PHI["private"])
    ds.add_new(0x00191001, "LO", PHI["private"])  # a private element with no creator
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = np.arange(16, dtype=np.uint16).tobytes()
    return ds


def _days(original: str, shifted: str) -> int:
    day = dt.datetime.strptime
    return (day(shifted[:8], "%Y%m%d") - day(original[:8], "%Y%m%d")).days


def test_no_identifying_value_survives_anywhere_in_the_bytes():
    original = phi_dataset()
    out = Deidentifier().deidentify(original, pseudonym="ANON-0001")
    written = dataset_bytes(out)
    originals = [
        *PHI.values(),
        original.StudyInstanceUID,
        original.SeriesInstanceUID,
        original.SOPInstanceUID,
        original.FrameOfReferenceUID,
        original.ReferencedPatientSequence[0].ReferencedSOPInstanceUID,
        STUDY_DATE,
        "PEKINGCT",
        "PEKING GENERAL",
    ]
    for value in originals:
        assert value.encode() not in written, value
    assert "Zhang" not in written.decode("latin-1")
    again = pydicom.dcmread(pydicom.filebase.DicomBytesIO(written))
    assert str(again.PatientName) == again.PatientID == "ANON-0001"
    assert again.PatientIdentityRemoved == "YES"
    assert again.PatientBirthDate == ""
    assert "OtherPatientIDsSequence" not in again and "RequestAttributesSequence" not in again
    assert "ReferencedPatientSequence" not in again
    assert not any(element.tag.is_private for element in again.iterall())
    assert again.AnatomicRegionSequence[0].CodeMeaning == "Chest"  # kept, cleaned inside
    assert again.SourcePatientGroupIdentificationSequence[0].PatientID == "ANON-0001"
    assert again.file_meta.MediaStorageSOPInstanceUID == again.SOPInstanceUID
    assert again.Manufacturer == "ACME"  # not identifying: kept
    assert np.array_equal(again.pixel_array, original.pixel_array)


def test_it_says_how_it_was_de_identified():
    out = Deidentifier(retain_device_identity=True).deidentify(phi_dataset(), pseudonym="P")
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113107", "113109"]
    assert {item.CodingSchemeDesignator for item in out.DeidentificationMethodCodeSequence} == {
        "DCM"
    }
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    assert "Basic Application Confidentiality Profile" in out.DeidentificationMethod[0]


def test_dates_move_by_one_offset_per_patient_across_instances():
    deidentifier = Deidentifier()
    first = deidentifier.deidentify(phi_dataset(), pseudonym="P1", patient_key="patient-1")
    second = deidentifier.deidentify(phi_dataset(), pseudonym="P1", patient_key="patient-1")
    offset = _days(STUDY_DATE, first.StudyDate)
    assert offset != 0
    for ds in (first, second):
        assert _days(STUDY_DATE, ds.StudyDate) == offset
        assert _days(STUDY_DATE, ds.SeriesDate) == offset
        assert _days(STUDY_DATE, ds.ContentDate) == offset
        assert _days(ACQUISITION_DATETIME, ds.AcquisitionDateTime) == offset
        assert ds.AcquisitionDateTime[8:] == ACQUISITION_DATETIME[8:]  # time of day kept
        assert ds.StudyTime == "101500"
    other = deidentifier.deidentify(phi_dataset(), pseudonym="P2", patient_key="patient-2")
    assert deidentifier.date_offset_days("patient-2") == _days(STUDY_DATE, other.StudyDate)


def test_without_the_longitudinal_option_dates_are_removed():
    out = Deidentifier(retain_longitudinal_modified_dates=False).deidentify(
        phi_dataset(), pseudonym="P"
    )
    assert "StudyDate" in out and not out.StudyDate and not out.StudyTime  # Type 2: emptied
    assert "SeriesDate" not in out and "AcquisitionDateTime" not in out
    assert out.ContentDate != STUDY_DATE
    assert out.LongitudinalTemporalInformationModified == "REMOVED"


def test_uid_references_stay_consistent_within_one_deidentifier_and_differ_across_two():
    image = phi_dataset()
    seg = phi_dataset(
        sop_class=SegmentationStorage,
        study_uid=image.StudyInstanceUID,
        referenced_uid=image.SOPInstanceUID,
    )
    one = Deidentifier()
    image_out = one.deidentify(image, pseudonym="P")
    seg_out = one.deidentify(seg, pseudonym="P")
    reference = seg_out.SourceImageSequence[0].ReferencedSOPInstanceUID
    assert reference == image_out.SOPInstanceUID != image.SOPInstanceUID
    assert seg_out.StudyInstanceUID == image_out.StudyInstanceUID
    assert one.uid(image.SOPInstanceUID) == image_out.SOPInstanceUID
    assert seg_out.SourceImageSequence[0].ReferencedSOPClassUID == CTImageStorage  # class kept
    assert pydicom.uid.UID(image_out.SOPInstanceUID).is_valid

    other = Deidentifier().deidentify(image, pseudonym="P")
    assert other.SOPInstanceUID != image_out.SOPInstanceUID
    assert other.StudyInstanceUID != image_out.StudyInstanceUID


def test_an_instance_with_burned_in_text_is_refused():
    deidentifier = Deidentifier()
    with pytest.raises(BurnedInAnnotation):
        deidentifier.deidentify(phi_dataset(burned_in="YES"), pseudonym="P")
    unknown = phi_dataset(sop_class=SecondaryCaptureImageStorage)
    del unknown.BurnedInAnnotation
    assert burned_in_annotation(unknown)
    with pytest.raises(BurnedInAnnotation):
        deidentifier.deidentify(unknown, pseudonym="P")
    said_no = phi_dataset(sop_class=SecondaryCaptureImageStorage, burned_in="NO")
    assert not burned_in_annotation(said_no)
    unknown_ct = phi_dataset()
    del unknown_ct.BurnedInAnnotation
    assert not burned_in_annotation(unknown_ct)


def test_device_identity_is_kept_only_with_its_option():
    kept = Deidentifier(retain_device_identity=True).deidentify(phi_dataset(), pseudonym="P")
    assert kept.StationName == PHI["station"] and kept.DeviceSerialNumber == PHI["serial"]
    removed = Deidentifier().deidentify(phi_dataset(), pseudonym="P")
    assert "StationName" not in removed and "DeviceSerialNumber" not in removed
    assert "113109" not in [i.CodeValue for i in removed.DeidentificationMethodCodeSequence]
    written = dataset_bytes(removed)
    assert PHI["station"].encode() not in written and PHI["serial"].encode() not in written


def test_the_original_dataset_is_left_as_it_was():
    original = phi_dataset()
    Deidentifier().deidentify(original, pseudonym="P")
    assert str(original.PatientName) == PHI["name"] and original.StudyDate == STUDY_DATE
