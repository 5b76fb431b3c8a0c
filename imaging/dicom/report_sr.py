"""The signed read of a study as a DICOM Comprehensive SR (highdicom), verified by the reader.

Content: a "Diagnostic imaging report" container with the impression, then one "Finding"
container per finding the reader kept: its label, who found it (the model and version, or the
reader), the reader's verdict, the longest diameter and volume when known, and the image it
is on. Pure: datasets and plain values in, a dataset out.
"""

from dataclasses import dataclass, field

import highdicom as hd
import pydicom
from pydicom.uid import generate_uid

_REPORT = hd.sr.CodedConcept("18748-4", "LN", "Diagnostic imaging report")
_IMPRESSION = hd.sr.CodedConcept("121073", "DCM", "Impression")
_FINDING = hd.sr.CodedConcept("121071", "DCM", "Finding")
_COMMENT = hd.sr.CodedConcept("121106", "DCM", "Comment")
_SOURCE = hd.sr.CodedConcept("121112", "DCM", "Source of Measurement")
_DIAMETER = hd.sr.CodedConcept("81827009", "SCT", "Diameter")
_VOLUME = hd.sr.CodedConcept("118565006", "SCT", "Volume")
_MM = hd.sr.CodedConcept("mm", "UCUM", "millimeter")
_MM3 = hd.sr.CodedConcept("mm3", "UCUM", "cubic millimeter")


@dataclass
class ReportFinding:
    label: str
    verdict: str  # "accepted" | "edited" | "added"
    found_by: str  # "lesion-finder 1.0.0" or "reader"
    sop_instance_uid: str
    sop_class_uid: str
    diameter_mm: float | None = None
    volume_mm3: float | None = None
    comment: str = ""


@dataclass
class SignedReport:
    impression: str
    reader_name: str
    organization: str
    findings: list[ReportFinding] = field(default_factory=list)
    series_number: int = 9001
    version: int = 1


def _text(name, value: str) -> hd.sr.TextContentItem:
    return hd.sr.TextContentItem(
        name=name,
        value=value[:1024] or "-",
        relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
    )


def _num(name, value: float, unit) -> hd.sr.NumContentItem:
    return hd.sr.NumContentItem(
        name=name,
        value=round(float(value), 2),
        unit=unit,
        relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
    )


def _finding_container(finding: ReportFinding) -> hd.sr.ContainerContentItem:
    items = [
        _text(_FINDING, finding.label),
        _text(_COMMENT, f"{finding.verdict}; found by {finding.found_by}"),
    ]
    if finding.diameter_mm is not None:
        items.append(_num(_DIAMETER, finding.diameter_mm, _MM))
    if finding.volume_mm3 is not None:
        items.append(_num(_VOLUME, finding.volume_mm3, _MM3))
    if finding.comment:
        items.append(_text(_COMMENT, finding.comment))
    items.append(
        hd.sr.ImageContentItem(
            name=_SOURCE,
            referenced_sop_class_uid=finding.sop_class_uid,
            referenced_sop_instance_uid=finding.sop_instance_uid,
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
        )
    )
    container = hd.sr.ContainerContentItem(
        name=_FINDING, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS
    )
    container.ContentSequence = hd.sr.ContentSequence(items)
    return container


def signed_report_build(
    *, report: SignedReport, evidence: list[pydicom.Dataset]
) -> pydicom.Dataset:
    """A final, complete, verified Comprehensive SR of ``report``; ``evidence`` are the images it
    references (headers suffice), the first of which gives the patient and study modules."""
    if not evidence:
        raise ValueError("a report needs at least one image of the study as evidence")
    root = hd.sr.ContainerContentItem(name=_REPORT)
    children = [_text(_IMPRESSION, report.impression)]
    children.extend(_finding_container(f) for f in report.findings)
    root.ContentSequence = hd.sr.ContentSequence(children)
    sr = hd.sr.ComprehensiveSR(
        evidence=evidence,
        content=root,
        series_instance_uid=generate_uid(),
        series_number=report.series_number,
        sop_instance_uid=generate_uid(),
        instance_number=report.version,
        manufacturer="AI Mass",
        is_complete=True,
        is_final=True,
        is_verified=True,
        verifying_observer_name=report.reader_name,
        verifying_organization=report.organization,
        series_description=f"Signed report v{report.version}",
    )
    sr.ContentLabel = "REPORT"
    sr.SpecificCharacterSet = "ISO_IR 192"  # readers' and findings' names are often Chinese
    return sr
