"""AI results as DICOM objects a PACS and a viewer understand: a SEG and a TID 1500 SR.

Both are built with highdicom, which copies the patient and study attributes from the source
series, so the AI output lands in the same study as a new series. Every object says what made it
(the algorithm's name and version) and that it is "AI-generated, pending review" until a doctor
signs it off: in the series description, in the SEG's content description, and in the SR both as
its flags (VerificationFlag UNVERIFIED, PreliminaryFlag PRELIMINARY) and as coded content.

Codes are standard where the standard has a concept that says what we mean (SNOMED CT for the
finding, its site and its measurements, DCM "Certainty of Finding" for the model's score) and
private (scheme ``99AIMASS``, declared in the objects) only where it has none: the review status,
and labels this module does not know.
"""

import re
from dataclasses import dataclass

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from .findings import SEGMENTATION, Finding
from .volume import Volume

PENDING_REVIEW = "AI-generated, pending review"
PRIVATE_SCHEME = "99AIMASS"

# What a label means, and where, when we know it. The service's only nodule model reads chest
# CT, hence the lung; a nodule model for another organ would bring its own label.
_LABEL_CODES = {
    "nodule": (codes.SCT.Nodule, codes.SCT.Lung),
    "lung nodule": (codes.SCT.Nodule, codes.SCT.Lung),
    "mass": (codes.SCT.Mass, None),
    "lesion": (codes.SCT.Lesion, None),
    "tumor": (codes.SCT.Neoplasm, None),
}
REVIEW_STATUS = hd.sr.CodedConcept("review-status", PRIVATE_SCHEME, "Review status")
PENDING_REVIEW_CODE = hd.sr.CodedConcept("pending-review", PRIVATE_SCHEME, PENDING_REVIEW)
# LOINC "CT Chest"; CID 100 itself only offers "unspecified body region" for CT.
_CT_CHEST = hd.sr.CodedConcept("24627-2", "LN", "CT Chest")


@dataclass
class AlgorithmInfo:
    name: str  # model name, e.g. "lung-nodule-ct"
    version: str  # model version, e.g. "1.0.0"
    family: str = "artificial intelligence"  # a concept of CID 7162, by its meaning
    manufacturer: str = "AI Mass"

    @property
    def family_code(self) -> hd.sr.CodedConcept:
        """The CID 7162 concept whose meaning matches ``family``, case-insensitively."""
        wanted = self.family.casefold()
        for keyword in codes.cid7162.concepts:
            code = getattr(codes.cid7162, keyword)
            if code.meaning.casefold() == wanted:
                return hd.sr.CodedConcept.from_code(code)
        raise ValueError(f"Unknown algorithm family {self.family!r} (see DICOM CID 7162).")

    @property
    def device_uid(self) -> str:
        """Stable per name and version, so every report by one model names the same device."""
        return pydicom.uid.generate_uid(entropy_srcs=["ai-device", self.name, self.version])


def _label_codes(label: str) -> tuple[hd.sr.CodedConcept, Code | None]:
    """The label's concept and, where known, its finding site. An unknown label gets a private
    code that keeps its name, rather than a standard one that would claim more than we know."""
    known = _LABEL_CODES.get(label.casefold().replace("_", " "))
    if known:
        return hd.sr.CodedConcept.from_code(known[0]), known[1]
    slug = re.sub(r"[^a-z0-9]+", "-", label.casefold()).strip("-") or "unknown"
    return hd.sr.CodedConcept(slug, PRIVATE_SCHEME, label), None


def _declare_private_scheme(dataset: pydicom.Dataset) -> None:
    """Part 3 asks for the Coding Scheme Identification of any scheme not listed in Part 16."""
    item = pydicom.Dataset()
    item.CodingSchemeDesignator = PRIVATE_SCHEME
    item.CodingSchemeName = "AI Mass local codes"
    item.CodingSchemeResponsibleOrganization = "AI Mass"
    dataset.CodingSchemeIdentificationSequence = [item]


def _check_series(source_datasets: list[pydicom.Dataset], volume: Volume) -> None:
    source_uids = {str(ds.SOPInstanceUID) for ds in source_datasets}
    if source_uids != {ref.sop_instance_uid for ref in volume.slices}:
        raise ValueError("source_datasets are not the instances the volume was built from")


def segmentation_build(
    *,
    source_datasets: list[pydicom.Dataset],
    volume: Volume,
    labelmap: np.ndarray,
    labels: dict[int, str],
    algorithm: AlgorithmInfo,
    series_number: int,
    series_description: str | None = None,
) -> pydicom.Dataset | None:
    """A binary DICOM SEG of ``labelmap`` (volume space, [slice, row, column]) over the series.

    One segment per label value of ``labels`` that occurs in the labelmap, numbered 1..n in
    ascending label value and named by the label; values not in ``labels`` are left out. Returns
    None when no labelled voxel is left: a SEG cannot hold zero segments, and an empty one would
    only make the viewer show a series with nothing in it.
    """
    if labelmap.shape != volume.shape:
        raise ValueError(f"labelmap {labelmap.shape} does not match the volume {volume.shape}")
    _check_series(source_datasets, volume)
    present = [value for value in sorted(labels) if value != 0 and np.any(labelmap == value)]
    if not present:
        return None

    # highdicom reads a label map array as segment numbers, one frame per source image, in the
    # order of source_images; our label values need not be 1..n and our slices are sorted.
    segments = np.zeros(labelmap.shape, dtype=np.uint8 if len(present) < 256 else np.uint16)
    for number, value in enumerate(present, start=1):
        segments[labelmap == value] = number
    slice_of = {ref.sop_instance_uid: index for index, ref in enumerate(volume.slices)}
    frames = segments[[slice_of[str(ds.SOPInstanceUID)] for ds in source_datasets]]

    algorithm_id = hd.AlgorithmIdentificationSequence(
        name=algorithm.name, family=algorithm.family_code, version=algorithm.version
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=labels[value],
            # The service segments findings, not anatomy: even an unknown label is an abnormal
            # structure.
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=_label_codes(labels[value])[0],
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm_id,
        )
        for number, value in enumerate(present, start=1)
    ]
    seg = hd.seg.Segmentation(
        source_images=source_datasets,
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=algorithm.manufacturer,
        manufacturer_model_name=algorithm.name,
        software_versions=algorithm.version,
        device_serial_number=f"{algorithm.name}-{algorithm.version}"[:64],
        content_label="AI_SEGMENTATION",
        content_description=PENDING_REVIEW,
        omit_empty_frames=True,
    )
    default = f"AI SEG {algorithm.name} {algorithm.version} ({PENDING_REVIEW})"
    seg.SeriesDescription = (series_description or default)[:64]
    if any(
        d.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator == PRIVATE_SCHEME
        for d in descriptions
    ):
        _declare_private_scheme(seg)
    return seg


def _segment_reference(
    segmentation: pydicom.Dataset,
    finding: Finding,
    by_uid: dict[str, pydicom.Dataset],
    segment_number: int | None = None,
) -> hd.sr.ReferencedSegment:
    """The finding's segment, narrowed to the SEG frames on the finding's own slices, since a
    segment holds every component of its label.

    Built by hand: ``ReferencedSegment.from_segmentation`` looks for the segment number in each
    frame's functional groups, where highdicom itself leaves it out for a one-segment SEG (it
    goes to the shared groups).
    """
    numbers = [segment_number] if segment_number else [
        s.SegmentNumber for s in segmentation.SegmentSequence if s.SegmentLabel == finding.label
    ]
    if not numbers:
        raise ValueError(f"The segmentation has no segment labelled {finding.label!r}.")
    shared = segmentation.SharedFunctionalGroupsSequence[0]
    own_slices = {box.sop_instance_uid for box in finding.instances}
    frames = []
    for index, item in enumerate(segmentation.PerFrameFunctionalGroupsSequence, start=1):
        identification = item.get("SegmentIdentificationSequence") or (
            shared.SegmentIdentificationSequence
        )
        source = item.DerivationImageSequence[0].SourceImageSequence[0]
        if (
            identification[0].ReferencedSegmentNumber == numbers[0]
            and source.ReferencedSOPInstanceUID in own_slices
        ):
            frames.append(index)
    return hd.sr.ReferencedSegment(
        sop_class_uid=segmentation.SOPClassUID,
        sop_instance_uid=segmentation.SOPInstanceUID,
        segment_number=numbers[0],
        frame_numbers=frames or None,
        source_images=[
            hd.sr.SourceImageForSegmentation.from_source_image(by_uid[box.sop_instance_uid])
            for box in finding.instances
        ],
    )


def _frame_regions(finding: Finding, by_uid: dict[str, pydicom.Dataset]) -> list[hd.sr.ImageRegion]:
    """The finding's bounding box on each of its frames as a closed polyline, in SCOORD pixel
    coordinates (the top left corner of the top left pixel is 0, 0)."""
    regions = []
    for box in finding.instances:
        col0, row0, col1, row1 = box.bbox
        corners = [(col0, row0), (col1 + 1, row0), (col1 + 1, row1 + 1), (col0, row1 + 1)]
        source = hd.sr.SourceImageForRegion.from_source_image(by_uid[box.sop_instance_uid])
        polyline = np.array(corners + corners[:1], dtype=float)
        regions.append(
            hd.sr.ImageRegion(graphic_type="POLYLINE", graphic_data=polyline, source_image=source)
        )
    return regions


def _measurements(finding: Finding, algorithm_id: hd.sr.AlgorithmIdentification) -> list:
    score = None if finding.score is None else 100.0 * finding.score
    wanted = [
        # The longest distance across the lesion in 3D: "Diameter", derived as the maximum.
        (codes.SCT.Diameter, finding.diameter_mm, codes.UCUM.Millimeter, codes.SCT.Maximum),
        (codes.SCT.Volume, finding.volume_mm3, codes.UCUM.CubicMillimeter, None),
        # "Certainty of Finding" is the CAD concept for how sure the algorithm is that the
        # finding is what it says, in percent. Not "Probability of cancer" (111047): a nodule
        # model's score says nothing about malignancy.
        (codes.DCM.CertaintyOfFinding, score, codes.UCUM.Percent, None),
    ]
    return [
        hd.sr.Measurement(
            name=name, value=value, unit=unit, derivation=derivation, algorithm_id=algorithm_id
        )
        for name, value, unit, derivation in wanted
        if value is not None
    ]


def _pending_review() -> hd.sr.QualitativeEvaluation:
    # A fresh item per group: content items are datasets, and one dataset should have one parent.
    return hd.sr.QualitativeEvaluation(name=REVIEW_STATUS, value=PENDING_REVIEW_CODE)


def _finding_group(
    finding: Finding,
    name: str,
    algorithm_id: hd.sr.AlgorithmIdentification,
    segmentation: pydicom.Dataset | None,
    by_uid: dict[str, pydicom.Dataset],
    segment_number: int | None = None,
):
    finding_type, site = _label_codes(finding.label)
    common = dict(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=name),
        finding_type=finding_type,
        finding_sites=[hd.sr.FindingSite(anatomic_location=site)] if site else None,
        algorithm_id=algorithm_id,
        measurements=_measurements(finding, algorithm_id),
        qualitative_evaluations=[_pending_review()],
    )
    if not finding.instances:
        return hd.sr.MeasurementsAndQualitativeEvaluations(**common)
    if segmentation is not None and finding.kind == SEGMENTATION:
        reference = _segment_reference(segmentation, finding, by_uid, segment_number)
        return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            referenced_segment=reference, **common
        )
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        referenced_regions=_frame_regions(finding, by_uid), **common
    )


def _procedure(source: pydicom.Dataset) -> hd.sr.CodedConcept:
    modality = str(getattr(source, "Modality", ""))
    body_part = str(getattr(source, "BodyPartExamined", "")).upper()
    if modality == "CT" and body_part in {"CHEST", "LUNG", "THORAX"}:
        return _CT_CHEST
    by_modality = {
        "CT": codes.cid100.CTUnspecifiedBodyRegion,
        "MR": codes.cid100.MRIUnspecifiedBodyRegion,
    }
    return hd.sr.CodedConcept.from_code(by_modality.get(modality, codes.cid100.ImagingProcedure))


def measurement_report_build(
    *,
    source_datasets: list[pydicom.Dataset],
    volume: Volume,
    findings: list[Finding],
    algorithm: AlgorithmInfo,
    series_number: int,
    segmentation: pydicom.Dataset | None = None,
    segment_numbers: list[int | None] | None = None,
    series_description: str | None = None,
) -> pydicom.Dataset:
    """A Comprehensive 3D SR Measurement Report (TID 1500) of the findings, observed by the
    algorithm as a device.

    A finding with a footprint on frames becomes a volumetric ROI group (TID 1411): it points at
    its segment of ``segmentation`` when a segmentation finding has one, else at its bounding box
    on each frame. It carries the longest diameter (mm), the volume (mm3) and the score. Findings
    without geometry (classifications) become report-level groups (TID 1501) with their label as
    finding type and the score. One more TID 1501 group states the review status, so a report of
    no findings is still a valid report, saying the model found nothing.

    ``segment_numbers`` (parallel to ``findings``) names each finding's own segment where the
    SEG has one segment per finding; without it a finding's segment is found by its label.
    """
    _check_series(source_datasets, volume)
    by_uid = {str(ds.SOPInstanceUID): ds for ds in source_datasets}
    algorithm_id = hd.sr.AlgorithmIdentification(
        name=algorithm.name,
        version=algorithm.version,
        family=algorithm.family_code,
        manufacturer=algorithm.manufacturer,
    )
    groups = []
    counts: dict[str, int] = {}
    numbers = segment_numbers or [None] * len(findings)
    for finding, number in zip(findings, numbers, strict=True):
        counts[finding.label] = counts.get(finding.label, 0) + 1
        name = f"{finding.label.capitalize()} {counts[finding.label]}"
        groups.append(_finding_group(finding, name, algorithm_id, segmentation, by_uid, number))
    groups.append(
        hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="Review status"),
            algorithm_id=algorithm_id,
            qualitative_evaluations=[_pending_review()],
        )
    )

    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=algorithm.device_uid,
            name=f"{algorithm.name} {algorithm.version}"[:64],
            manufacturer_name=algorithm.manufacturer,
            model_name=algorithm.name,
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=_procedure(source_datasets[0]),
        imaging_measurements=groups,
    )
    evidence = list(source_datasets) + ([segmentation] if segmentation is not None else [])
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=algorithm.manufacturer,
        # Complete as the model's output, but neither final nor verified: a doctor has not
        # reviewed it yet.
        is_complete=True,
        is_final=False,
        is_verified=False,
    )
    sr.ManufacturerModelName = algorithm.name
    sr.SoftwareVersions = algorithm.version
    default = f"AI SR {algorithm.name} {algorithm.version} ({PENDING_REVIEW})"
    sr.SeriesDescription = (series_description or default)[:64]
    _declare_private_scheme(sr)
    return sr
