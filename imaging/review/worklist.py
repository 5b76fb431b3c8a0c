"""The doctor's AI worklist: which studies a reader has to look at, most urgent first.

Reads only. Who may see a study is decided by imaging.access; this module narrows that to a
scope ("my patients" or "my department"), filters it and annotates each study, in SQL, with
its AI status and urgency, so a page of rows costs the same few queries however long it is.

AI status, from the study's inference jobs (skipped and cancelled jobs do not count):

- ``none``: no job counts;
- ``running`` (with the highest progress of the running jobs) or ``queued`` while any job is
  unfinished;
- ``done``: all finished and, for at least one (model version, series), the latest job
  succeeded;
- ``failed``: all finished and, for every (model version, series), the latest job failed.

Urgency, from the study's findings that were not rejected: a study with an urgent finding comes
first, then the one whose most urgent finding (urgent first, then the largest) is largest.
"""

from datetime import date

from django.db import models
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Replace
from django.utils.translation import gettext_lazy as _

from clinic.models import Department, EpisodeOfCare, Role
from clinic.selectors import patient_identifier_q

from .. import access
from ..models import Finding, FindingStatus, InferenceJob, JobStatus, Series, Study


class AIStatus(models.TextChoices):
    NONE = "none", _("No AI")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


UNFINISHED = (AIStatus.QUEUED, AIStatus.RUNNING)


class Scope(models.TextChoices):
    MINE = "mine", _("My patients")
    DEPARTMENT = "department", _("My department")


def _jobs(**filters) -> QuerySet[InferenceJob]:
    return InferenceJob.objects.filter(study=OuterRef("pk"), **filters)


def _standing_successes() -> QuerySet[InferenceJob]:
    """The study's succeeded jobs that no later job of the same model version on the same
    series failed after (a re-run that failed makes the earlier result stale)."""
    later_failure = (
        InferenceJob.objects.filter(
            study=OuterRef("study"),
            model_version=OuterRef("model_version"),
            status=JobStatus.FAILED,
            pk__gt=OuterRef("pk"),
        )
        # A job without a series (a whole-study model) pairs with the others without one.
        .annotate(series_key=Coalesce("series_id", Value(0), output_field=models.BigIntegerField()))
        .filter(
            series_key=Coalesce(
                OuterRef("series_id"), Value(0), output_field=models.BigIntegerField()
            )
        )
    )
    return _jobs(status=JobStatus.SUCCEEDED).filter(~Exists(later_failure))


def _findings() -> QuerySet[Finding]:
    return Finding.objects.filter(study=OuterRef("pk")).exclude(status=FindingStatus.REJECTED)


def worklist_annotate(studies: QuerySet[Study]) -> QuerySet[Study]:
    """``studies`` with the worklist's columns: ``ai_status``, ``ai_progress``, ``ai_urgent``,
    ``top_finding_label``, ``top_finding_diameter``, ``findings_count`` and
    ``modalities_display``; the patient is selected along."""
    most_urgent = _findings().order_by("-urgent", F("diameter_mm").desc(nulls_last=True), "id")
    return studies.select_related("patient").annotate(
        ai_status=Case(
            When(Exists(_jobs(status=JobStatus.RUNNING)), then=Value(AIStatus.RUNNING.value)),
            When(Exists(_jobs(status=JobStatus.QUEUED)), then=Value(AIStatus.QUEUED.value)),
            When(Exists(_standing_successes()), then=Value(AIStatus.DONE.value)),
            When(Exists(_jobs(status=JobStatus.FAILED)), then=Value(AIStatus.FAILED.value)),
            default=Value(AIStatus.NONE.value),
            output_field=models.CharField(),
        ),
        ai_progress=Coalesce(
            Subquery(_jobs(status=JobStatus.RUNNING).order_by("-progress").values("progress")[:1]),
            Value(0),
        ),
        ai_urgent=Exists(_findings().filter(urgent=True)),
        top_finding_label=Subquery(most_urgent.values("label")[:1]),
        top_finding_diameter=Subquery(most_urgent.values("diameter_mm")[:1]),
        findings_count=Coalesce(
            Subquery(
                _findings().order_by().values("study").annotate(n=Count("pk")).values("n")[:1]
            ),
            Value(0),
        ),
        modalities_display=Replace("modalities", Value("\\"), Value(", ")),
    )


def worklist_order(studies: QuerySet[Study]) -> QuerySet[Study]:
    """Urgent first, then the most urgent finding's diameter (largest first), then unsigned
    before signed, then the newest study."""
    return studies.order_by(
        F("ai_urgent").desc(),
        F("top_finding_diameter").desc(nulls_last=True),
        Case(When(review_status="signed", then=Value(1)), default=Value(0)),
        F("study_date").desc(nulls_last=True),
        F("study_time").desc(nulls_last=True),
        "-id",
    )


def _department_ids(user) -> list[int]:
    if not user.department_id:
        return []
    return [
        user.department_id,
        *Department.objects.filter(parent_id=user.department_id).values_list("id", flat=True),
    ]


def worklist_scope(*, user, scope: str = Scope.MINE) -> QuerySet[Study]:
    """The studies of ``scope`` that ``user`` may see. "mine": every study of a patient they
    have a care relation to (imaging.access); "department": those whose patient has an open
    episode of care in the user's department (or its sub-departments). An administrator's
    department is the whole hospital."""
    visible = access.studies_visible_to(user)
    if scope != Scope.DEPARTMENT or user.role == Role.ADMIN:
        return visible
    in_department = EpisodeOfCare.objects.filter(
        patient=OuterRef("patient"),
        department_id__in=_department_ids(user),
        status=EpisodeOfCare.Status.OPEN,
    )
    return visible.filter(Exists(in_department))


def worklist_modalities(*, user) -> list[str]:
    """The modalities of the studies ``user`` may see: the choices of the modality filter."""
    return sorted(
        set(
            Series.objects.filter(study__in=access.studies_visible_to(user))
            .exclude(modality="")
            .order_by()
            .values_list("modality", flat=True)
            .distinct()
        )
    )


def worklist_studies(
    *,
    user,
    scope: str = Scope.MINE,
    ai_status: str = "",
    review_status: str = "",
    modality: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    query: str = "",
) -> QuerySet[Study]:
    """The worklist of ``user``: the studies of ``scope`` they may see, filtered, annotated
    (``worklist_annotate``) and most urgent first (``worklist_order``)."""
    studies = worklist_annotate(worklist_scope(user=user, scope=scope))
    if query:
        # The patient's own name is encrypted: matched whole (clinic.phi); MRN, the DICOM name
        # and the accession number match in part.
        studies = studies.filter(
            patient_identifier_q(query, via="patient__")
            | Q(patient__mrn__icontains=query)
            | Q(patient_name__icontains=query)
            | Q(accession_number__icontains=query)
        )
    if modality:
        studies = studies.filter(
            Exists(Series.objects.filter(study=OuterRef("pk"), modality=modality))
        )
    if date_from:
        studies = studies.filter(study_date__gte=date_from)
    if date_to:
        studies = studies.filter(study_date__lte=date_to)
    if review_status:
        studies = studies.filter(review_status=review_status)
    if ai_status:
        studies = studies.filter(ai_status=ai_status)
    return worklist_order(studies)


def worklist_row(study: Study) -> dict:
    """What the live update needs of one annotated study (JSON-ready). ``order_key`` changes
    exactly when the study's place in the order may change."""
    diameter = (
        round(study.top_finding_diameter, 1) if study.top_finding_diameter is not None else None
    )
    signed = study.review_status == "signed"
    return {
        "id": study.pk,
        "ai_status": study.ai_status,
        "ai_status_display": str(AIStatus(study.ai_status).label),
        "ai_finished": study.ai_status not in UNFINISHED,
        "ai_progress": study.ai_progress,
        "urgent": study.ai_urgent,
        "top_finding_label": study.top_finding_label or "",
        "top_finding_diameter_mm": diameter,
        "findings_count": study.findings_count,
        "review_status": study.review_status,
        "review_status_display": str(study.get_review_status_display()),
        "order_key": f"{int(study.ai_urgent)}|{diameter}|{study.findings_count}|{int(signed)}",
    }


def worklist_rows(studies) -> list[Study]:
    """The annotated ``studies`` as a list, each with its ``live`` row (``worklist_row``) for
    the templates, which render the same values the live update later compares against."""
    rows = list(studies)
    for study in rows:
        study.live = worklist_row(study)
    return rows
