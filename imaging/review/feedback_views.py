"""The feedback page of a model version (aggregate figures only: no patient data, no audit row)
and its labelled dataset export (administrators; audited by the export service)."""

import tempfile

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from clinic.audit import Actor
from clinic.models import Role

from ..models import ModelVersion
from .dataset_export import review_dataset_export
from .feedback import Figures, feedback_for_version

FEEDBACK_ROLES = (Role.ADMIN, Role.DOCTOR, Role.NURSE)
SPOOL_BYTES = 64 * 1024 * 1024
CHART_HEIGHT = 160
BAR_WIDTH = 28
BAR_STEP = 44
CHART_TOP = 18  # room for the precision above each bar
CHART_WEEKS = 26  # the table below the chart lists every week


def _require(request, roles) -> None:
    if request.user.role not in roles:
        raise PermissionDenied


def _version(name: str, pk: int) -> ModelVersion:
    return get_object_or_404(ModelVersion.objects.select_related("model"), pk=pk, model__name=name)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _row(figures: Figures) -> dict:
    return {
        "figures": figures,
        "precision": _percent(figures.precision),
        "edit_rate": _percent(figures.edit_rate),
        "detection_rate": _percent(figures.detection_rate),
    }


def _chart(weeks) -> dict:
    """Stacked bars per week (accepted, corrected, rejected, added) for the latest CHART_WEEKS
    weeks, scaled to the busiest, drawn by the template as SVG: no script needed."""
    weeks = weeks[-CHART_WEEKS:]
    parts = (
        ("accepted", _("Accepted"), "bar-accepted"),
        ("edited", _("Corrected"), "bar-edited"),
        ("rejected", _("Rejected"), "bar-rejected"),
        ("added", _("Missed (added by the reader)"), "bar-added"),
    )
    tallest = max((w.reviewed + w.added for w in weeks), default=0) or 1
    scale = CHART_HEIGHT / tallest
    bars = []
    for index, week in enumerate(weeks):
        x = 8 + index * BAR_STEP
        bottom = CHART_TOP + CHART_HEIGHT
        segments = []
        for field, label, css in parts:
            count = getattr(week, field)
            if not count:
                continue
            height = count * scale
            bottom -= height
            segments.append(
                {
                    "y": round(bottom, 1),
                    "height": round(height, 1),
                    "css": css,
                    "title": f"{week.label} · {label}: {count}",
                }
            )
        bars.append(
            {
                "x": x,
                "label_x": x + BAR_WIDTH / 2,
                "segments": segments,
                "week": week.label,
                "precision": _percent(week.precision),
                "top": round(bottom - 4, 1),
            }
        )
    return {
        "bars": bars,
        "legend": [{"label": label, "css": css} for _field, label, css in parts],
        "width": max(16 + len(weeks) * BAR_STEP, 200),
        "height": CHART_TOP + CHART_HEIGHT + 20,
        "baseline": CHART_TOP + CHART_HEIGHT,
        "week_y": CHART_TOP + CHART_HEIGHT + 14,
        "bar_width": BAR_WIDTH,
    }


@login_required
@require_GET
def model_version_feedback(request, name, pk):
    _require(request, FEEDBACK_ROLES)
    version = _version(name, pk)
    feedback = feedback_for_version(version)
    return render(
        request,
        "imaging/review/feedback.html",
        {
            "model": version.model,
            "version": version,
            "feedback": feedback,
            "totals": _row(feedback.totals),
            "weeks": [{**_row(week), "label": week.label} for week in reversed(feedback.weeks)],
            "chart": _chart(feedback.weeks),
            "may_export": request.user.role == Role.ADMIN,
        },
    )


@login_required
@require_GET
def model_version_dataset(request, name, pk):
    _require(request, (Role.ADMIN,))
    version = _version(name, pk)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        review_dataset_export(version=version, actor=Actor.from_request(request), out=spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    response = FileResponse(
        spool,
        as_attachment=True,
        filename=f"{version.model.name}-{version.version}-reviews.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store"
    return response
