"""The imaging app's models: the DICOM store's index (``store``) and the model service (``ai``):
registry, routing rules, inference jobs and findings."""

from .ai import AIModel, Finding, FindingStatus, InferenceJob, JobStatus, ModelVersion, RoutingRule
from .store import Instance, Series, Study, StudyStableEvent

__all__ = [
    "AIModel",
    "Finding",
    "FindingStatus",
    "InferenceJob",
    "Instance",
    "JobStatus",
    "ModelVersion",
    "RoutingRule",
    "Series",
    "Study",
    "StudyStableEvent",
]
