"""The AI export writes a SEG and a TID 1500 SR that read back, through highdicom, to exactly
the labelmap and the findings they were made from."""

import random
from io import BytesIO

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from imaging.ai.export import (
    PENDING_REVIEW,
    PENDING_REVIEW_CODE,
    REVIEW_STATUS,
    AlgorithmInfo,
    measurement_report_build,
    segmentation_build,
)
from imaging.ai.findings import CLASSIFICATION, Finding, lesions_from_labelmap
from imaging.ai.volume import volume_from_datasets

SLICES, SIZE, SPACING = 8, 32, 2.5
ALGORITHM = AlgorithmInfo(name="lung-nodule-ct", version="1.0.0")


def ct_series(*, slices: int = SLICES, size: int = SIZE) -> list[pydicom.Dataset]:
    """A small axial CT series of one study, instance numbers running against position so that
    nothing can pass by relying on them."""
    study_uid, series_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    datasets = []
    for index in range(slices):
        ds = pydicom.Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.PatientName, ds.PatientID = "Test^Patient", "P-0001"
        ds.PatientBirthDate, ds.PatientSex = "19600101", "F"
        ds.StudyDate, ds.StudyTime, ds.StudyID = "20240102", "101500", "1"
        ds.AccessionNumber, ds.ReferringPhysicianName = "A-1", ""
        ds.Modality, ds.BodyPartExamined = "CT", "CHEST"
        ds.Manufacturer = "Synthetic"
        ds.SeriesNumber, ds.InstanceNumber = 2, slices - index
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-40.0, -40.0, -100.0 + SPACING * index]
        ds.PixelSpacing = [SPACING, SPACING]
        ds.SliceThickness = SPACING
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = np.full((size, size), 1000 + index, dtype=np.int16).tobytes()
        datasets.append(ds)
    return datasets


def two_nodules(shape) -> np.ndarray:
    """A sphere of radius 3 voxels and a separate 2x2x2 block, both labelled 1."""
    z, y, x = np.indices(shape)
    labelmap = ((z - 3) ** 2 + (y - 10) ** 2 + (x - 10) ** 2 <= 9).astype(np.uint8)
    labelmap[5:7, 24:26, 24:26] = 1
    return labelmap


def roundtrip(dataset: pydicom.Dataset) -> pydicom.Dataset:
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


@pytest.fixture
def series():
    datasets = ct_series()
    volume = volume_from_datasets(datasets)
    labelmap = two_nodules(volume.shape)
    findings = lesions_from_labelmap(labelmap, volume, {1: "nodule"})
    findings[0].score, findings[1].score = 0.93, 0.61
    return datasets, volume, labelmap, findings


def build_seg(datasets, volume, labelmap, labels=None):
    return segmentation_build(
        source_datasets=datasets,
        volume=volume,
        labelmap=labelmap,
        labels=labels or {1: "nodule"},
        algorithm=ALGORITHM,
        series_number=901,
    )


def seg_pixels_in_volume_order(seg_dataset, volume) -> np.ndarray:
    seg = hd.seg.Segmentation.from_dataset(roundtrip(seg_dataset))
    return seg.get_pixels_by_source_instance(
        source_sop_instance_uids=[ref.sop_instance_uid for ref in volume.slices],
        combine_segments=True,
        assert_missing_frames_are_empty=True,
    )


@pytest.mark.parametrize("shuffled", [False, True])
def test_the_seg_reads_back_to_the_labelmap_on_the_right_instances(series, shuffled):
    datasets, volume, labelmap, _ = series
    if shuffled:
        datasets = random.Random(7).sample(datasets, len(datasets))

    seg = build_seg(datasets, volume, labelmap)

    np.testing.assert_array_equal(seg_pixels_in_volume_order(seg, volume), labelmap)


def test_the_seg_is_a_new_ai_series_in_the_same_study(series):
    datasets, volume, labelmap, _ = series

    seg = roundtrip(build_seg(datasets, volume, labelmap))

    assert seg.file_meta.MediaStorageSOPInstanceUID == seg.SOPInstanceUID
    assert seg.StudyInstanceUID == datasets[0].StudyInstanceUID
    assert seg.PatientID == "P-0001"
    assert seg.SeriesInstanceUID != datasets[0].SeriesInstanceUID
    assert seg.SeriesNumber == 901
    assert seg.SegmentationType == "BINARY"
    assert seg.SeriesDescription == "AI SEG lung-nodule-ct 1.0.0 (AI-generated, pending review)"
    assert seg.ContentDescription == PENDING_REVIEW
    assert (seg.ManufacturerModelName, seg.SoftwareVersions) == ("lung-nodule-ct", "1.0.0")
    (segment,) = seg.SegmentSequence
    assert (segment.SegmentNumber, segment.SegmentLabel) == (1, "nodule")
    assert segment.SegmentAlgorithmType == "AUTOMATIC"
    assert segment.SegmentedPropertyTypeCodeSequence[0].CodeValue == codes.SCT.Nodule.value
    algorithm = segment.SegmentationAlgorithmIdentificationSequence[0]
    assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("lung-nodule-ct", "1.0.0")
    # Empty frames are left out: only slices with a labelled voxel have a frame.
    assert seg.NumberOfFrames == int(labelmap.any(axis=(1, 2)).sum())


def test_the_seg_numbers_segments_by_the_labels_present_and_drops_unlisted_values(series):
    datasets, volume, _, _ = series
    labelmap = np.zeros(volume.shape, dtype=np.uint8)
    labelmap[1:3, 4:8, 4:8] = 7  # a label the module has no code for
    labelmap[4:6, 20:24, 20:24] = 3
    labelmap[6, 0:2, 0:2] = 9  # not in labels: left out

    seg = build_seg(datasets, volume, labelmap, {3: "nodule", 5: "mass", 7: "ground glass"})

    assert [(s.SegmentNumber, s.SegmentLabel) for s in seg.SegmentSequence] == [
        (1, "nodule"),
        (2, "ground glass"),
    ]
    assert seg.SegmentSequence[1].SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator == (
        "99AIMASS"
    )
    assert seg.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99AIMASS"
    expected = np.select([labelmap == 3, labelmap == 7], [1, 2], 0)
    np.testing.assert_array_equal(seg_pixels_in_volume_order(seg, volume), expected)


def test_there_is_no_seg_when_nothing_is_labelled(series):
    datasets, volume, _, _ = series
    labelmap = np.zeros(volume.shape, dtype=np.uint8)
    labelmap[0, 0, 0] = 4  # a value outside the labels counts as nothing

    assert build_seg(datasets, volume, labelmap) is None


def test_the_seg_refuses_a_labelmap_of_another_shape(series):
    datasets, volume, labelmap, _ = series
    with pytest.raises(ValueError, match="does not match"):
        build_seg(datasets, volume, labelmap[:-1])


def build_report(datasets, volume, findings, segmentation=None):
    sr = measurement_report_build(
        source_datasets=datasets,
        volume=volume,
        findings=findings,
        algorithm=ALGORITHM,
        series_number=902,
        segmentation=segmentation,
    )
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, sr, enforce_file_format=True)
    buffer.seek(0)
    sr = hd.sr.srread(buffer)
    # The document's root content item is the dataset itself.
    return sr, hd.sr.MeasurementReport.from_sequence([sr])


def measurement(group, name):
    (found,) = group.get_measurements(name=name)
    return found


def test_the_report_measures_each_nodule_against_its_segment(series):
    datasets, volume, labelmap, findings = series
    seg = roundtrip(build_seg(datasets, volume, labelmap))

    sr, report = build_report(datasets, volume, findings, seg)

    frame_source = {
        number: item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        for number, item in enumerate(seg.PerFrameFunctionalGroupsSequence, start=1)
    }
    assert isinstance(sr, hd.sr.Comprehensive3DSR)
    assert sr.StudyInstanceUID == datasets[0].StudyInstanceUID
    assert sr.SeriesInstanceUID not in {datasets[0].SeriesInstanceUID, seg.SeriesInstanceUID}
    groups = report.get_volumetric_roi_measurement_groups()
    assert [g.tracking_identifier for g in groups] == ["Nodule 1", "Nodule 2"]
    assert len({g.tracking_uid for g in groups}) == 2
    for group, finding in zip(groups, findings, strict=True):
        diameter = measurement(group, codes.SCT.Diameter)
        assert diameter.value == pytest.approx(finding.diameter_mm)
        assert diameter.unit == codes.UCUM.Millimeter
        volume_mm3 = measurement(group, codes.SCT.Volume)
        assert volume_mm3.value == pytest.approx(finding.volume_mm3)
        assert volume_mm3.unit == codes.UCUM.CubicMillimeter
        certainty = measurement(group, codes.DCM.CertaintyOfFinding)
        assert certainty.value == pytest.approx(100 * finding.score)
        assert certainty.unit == codes.UCUM.Percent
        assert group.finding_type == codes.SCT.Nodule
        assert [site.value for site in group.finding_sites] == [codes.SCT.Lung]
        segment = group.referenced_segment
        assert segment.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert segment.referenced_segment_numbers == [1]
        # The reference is narrowed to the frames on the finding's own slices.
        own = {box.sop_instance_uid for box in finding.instances}
        sources = segment.source_images_for_segmentation
        assert {image.referenced_sop_instance_uid for image in sources} == own
        assert {frame_source[n] for n in segment.referenced_frame_numbers} == own


def test_each_finding_points_at_the_segment_of_its_own_label(series):
    datasets, volume, _, _ = series
    labelmap = np.zeros(volume.shape, dtype=np.uint8)
    labelmap[1:3, 4:8, 4:8] = 3
    labelmap[4:6, 20:24, 20:24] = 7
    labels = {3: "nodule", 7: "ground glass"}
    seg = roundtrip(build_seg(datasets, volume, labelmap, labels))
    findings = lesions_from_labelmap(labelmap, volume, labels)

    _, report = build_report(datasets, volume, findings, seg)

    numbers = {
        group.tracking_identifier: group.referenced_segment.referenced_segment_numbers
        for group in report.get_volumetric_roi_measurement_groups()
    }
    assert numbers == {"Nodule 1": [1], "Ground glass 1": [2]}


def test_the_report_is_observed_by_the_model_as_a_device_and_awaits_review(series):
    datasets, volume, labelmap, findings = series

    sr, report = build_report(datasets, volume, findings)

    (observer,) = report.get_observer_contexts(observer_type=codes.DCM.Device)
    device = observer.observer_identifying_attributes
    assert device.name == "lung-nodule-ct 1.0.0"
    assert device.model_name == "lung-nodule-ct"
    assert device.uid == ALGORITHM.device_uid
    assert (sr.VerificationFlag, sr.PreliminaryFlag) == ("UNVERIFIED", "PRELIMINARY")
    assert sr.SeriesDescription == "AI SR lung-nodule-ct 1.0.0 (AI-generated, pending review)"
    (status,) = [
        g for g in report.get_image_measurement_groups() if g.tracking_identifier == "Review status"
    ]
    for group in [status, *report.get_volumetric_roi_measurement_groups()]:
        (evaluation,) = group.get_qualitative_evaluations(name=REVIEW_STATUS)
        assert evaluation.value == PENDING_REVIEW_CODE
        assert evaluation.value.meaning == PENDING_REVIEW
    assert sr.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99AIMASS"


def test_without_a_seg_the_report_outlines_each_nodule_on_its_frames(series):
    datasets, volume, _, findings = series

    _, report = build_report(datasets, volume, findings)

    groups = report.get_volumetric_roi_measurement_groups()
    assert len(groups) == 2
    for group, finding in zip(groups, findings, strict=True):
        assert group.referenced_segment is None
        regions = group.roi
        selected_from = [r.ContentSequence[0].ReferencedSOPSequence[0] for r in regions]
        assert [image.ReferencedSOPInstanceUID for image in selected_from] == [
            box.sop_instance_uid for box in finding.instances
        ]
        assert measurement(group, codes.SCT.Diameter).value == pytest.approx(finding.diameter_mm)


def test_a_classification_is_reported_at_report_level_with_its_certainty(series):
    datasets, volume, _, _ = series
    finding = Finding(label="nodule", kind=CLASSIFICATION, score=0.8)

    _, report = build_report(datasets, volume, [finding])

    assert report.get_volumetric_roi_measurement_groups() == []
    groups = report.get_image_measurement_groups()
    (group,) = [g for g in groups if g.tracking_identifier == "Nodule 1"]
    assert group.finding_type == codes.SCT.Nodule
    assert measurement(group, codes.DCM.CertaintyOfFinding).value == pytest.approx(80.0)


def test_a_report_of_no_findings_is_still_a_valid_report(series):
    datasets, volume, _, _ = series

    sr, report = build_report(datasets, volume, [])

    assert report.get_volumetric_roi_measurement_groups() == []
    assert [g.tracking_identifier for g in report.get_image_measurement_groups()] == [
        "Review status"
    ]
    assert sr.StudyInstanceUID == datasets[0].StudyInstanceUID
