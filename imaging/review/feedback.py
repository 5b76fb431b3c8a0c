"""Reads of the feedback loop: how readers judged one model version's findings, overall and per
ISO week. Only current reviews count (a finding's latest verdict is its label).

- precision = (accepted + edited) / (accepted + edited + rejected): a corrected finding was a
  true positive whose outline the reader had to fix;
- edit rate = edited / (accepted + edited): of the true positives, the share redrawn;
- misses = findings readers added on series the version ran on; detection rate =
  (accepted + edited) / (accepted + edited + added).

A rate whose denominator is zero is None (the page shows "—").
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q
from django.db.models.functions import TruncWeek

from ..models import Finding, FindingReview, FindingStatus, ModelVersion, RejectReason, Verdict

TOP_REASONS = 5


@dataclass
class Figures:
    accepted: int = 0
    edited: int = 0
    rejected: int = 0
    added: int = 0

    @property
    def true_positives(self) -> int:
        return self.accepted + self.edited

    @property
    def reviewed(self) -> int:
        """AI findings with a verdict (additions by readers are not the model's findings)."""
        return self.accepted + self.edited + self.rejected

    @property
    def precision(self) -> float | None:
        return _ratio(self.true_positives, self.reviewed)

    @property
    def edit_rate(self) -> float | None:
        return _ratio(self.edited, self.true_positives)

    @property
    def detection_rate(self) -> float | None:
        return _ratio(self.true_positives, self.true_positives + self.added)


@dataclass
class Week(Figures):
    week: datetime | None = None

    @property
    def label(self) -> str:
        year, number, _ = self.week.isocalendar()
        return f"{year}-W{number:02d}"


@dataclass
class Reason:
    reason: str
    label: str
    count: int


@dataclass
class Feedback:
    version: ModelVersion
    totals: Figures
    pending: int
    findings: int
    weeks: list[Week] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _verdict_counts() -> dict:
    return {
        verdict.value: Count("id", filter=Q(verdict=verdict.value))
        for verdict in (Verdict.ACCEPTED, Verdict.EDITED, Verdict.REJECTED, Verdict.ADDED)
    }


def current_reviews(version: ModelVersion):
    """The labelled examples of ``version``: every finding's latest verdict charged to it."""
    return FindingReview.objects.filter(model_version=version, current=True)


def feedback_for_version(version: ModelVersion) -> Feedback:
    """The figures of ``version``'s page: totals, weekly (oldest first), top reject reasons."""
    reviews = current_reviews(version)
    totals = Figures(**reviews.aggregate(**_verdict_counts()))
    weeks = [
        Week(**row)
        for row in reviews.annotate(week=TruncWeek("created_at"))
        .values("week")
        .annotate(**_verdict_counts())
        .order_by("week")
    ]
    labels = dict(RejectReason.choices)
    reasons = [
        Reason(
            reason=row["reason"],
            label=str(labels.get(row["reason"], row["reason"])),
            count=row["count"],
        )
        for row in reviews.filter(verdict=Verdict.REJECTED)
        .values("reason")
        .annotate(count=Count("id"))
        .order_by("-count", "reason")[:TOP_REASONS]
    ]
    produced = Finding.objects.filter(model_version=version, source="ai")
    return Feedback(
        version=version,
        totals=totals,
        pending=produced.filter(status=FindingStatus.PENDING_REVIEW).count(),
        findings=produced.count(),
        weeks=weeks,
        reasons=reasons,
    )
