"""The imaging app's models: the DICOM store's index (``store``) and the model service (``ai``):
registry, routing rules, inference jobs and findings; and the doctor's ``review`` of them."""

from .ai import AIModel, Finding, FindingStatus, InferenceJob, JobStatus, ModelVersion, RoutingRule
from .review import FindingReview, RejectReason, ReportStatus, StudyReport, Verdict
from .store import Instance, Series, Study, StudyStableEvent

__all__ = [
    "AIModel",
    "Finding",
    "FindingReview",
    "FindingStatus",
    "InferenceJob",
    "Instance",
    "JobStatus",
    "ModelVersion",
    "RejectReason",
    "ReportStatus",
    "RoutingRule",
    "Series",
    "Study",
    "StudyReport",
    "StudyStableEvent",
    "Verdict",
]
