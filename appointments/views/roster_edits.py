"""Edits on the roster grid: a click sets one cell; a shift dragged onto another cell of its row
or column moves there (or swaps). Each answers with the roster's check and the cells, rows and
cover it changed, so the page updates without a reload."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from .. import rosters
from ..errors import BookingError
from ..models import RosterPeriod
from .rosters import _actor, _manager, _parse_date


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _cells_patch(period, *, user_ids, days) -> dict:
    """The page's view of the rows of ``user_ids`` and the cover on ``days`` after an edit: each
    cell (shift, colour, request penalty, broken rules) and each row's totals and broken rules,
    so the grid updates without a reload."""
    grid = rosters.roster_grid(period)
    rows, cells = [], []
    for row in grid.rows:
        if row.member.user_id not in user_ids:
            continue
        rows.append(
            {
                "user": row.member.user_id,
                "hours": round(row.minutes / 60),
                "nights": row.nights,
                "weekends": row.weekends,
                "violations": row.violations,
            }
        )
        cells += [
            {
                "user": row.member.user_id,
                "date": cell.day.isoformat(),
                "shift": cell.shift.code if cell.shift else "",
                "colour": cell.shift.colour if cell.shift else "",
                "penalty": cell.penalty,
                "changed": cell.changed,
                "violations": cell.violations,
            }
            for cell in row.cells
        ]
    cover = [
        {
            "shift": shift.code,
            "date": day.isoformat(),
            "staffed": staffed,
            "required": required,
            "short": bool(cost),
        }
        for shift, per_day in grid.cover
        for day, staffed, required, cost in per_day
        if day in days
    ]
    return {"cells": cells, "rows": rows, "cover": cover, "violations": grid.violations}


def _check(evaluation, before=None) -> dict:
    """The roster's penalty and its parts, with the change from ``before`` when known."""
    check = {
        "objective": evaluation.objective,
        "request_cost": evaluation.request_cost,
        "cover_cost": evaluation.cover_cost,
        "fairness_cost": evaluation.fairness_cost,
        "feasible": evaluation.feasible,
    }
    if before is not None:
        check["delta"] = {
            "objective": evaluation.objective - before.objective,
            "request_cost": evaluation.request_cost - before.request_cost,
            "cover_cost": evaluation.cover_cost - before.cover_cost,
            "fairness_cost": evaluation.fairness_cost - before.fairness_cost,
        }
    return check


@login_required
@require_POST
def roster_cell(request, pk):
    """A click edit: set one cell, answer with the roster's check at once (JSON)."""
    _manager(request)
    day = _parse_date(request.POST.get("date"))
    if day is None:
        return JsonResponse({"error": _("Enter the first day as YYYY-MM-DD.")}, status=400)
    user_id = _int_or_none(request.POST.get("user"))
    if user_id is None:
        return JsonResponse(
            {"error": _("This person is not on the department's roster.")}, status=400
        )
    try:
        evaluation = rosters.roster_cell_set(
            actor=_actor(request),
            period_id=pk,
            user_id=user_id,
            day=day,
            shift_code=request.POST.get("shift") or None,
        )
    except BookingError as exc:
        return JsonResponse({"error": exc.message}, status=409)
    except RosterPeriod.DoesNotExist:
        return JsonResponse({"error": _("No such roster.")}, status=404)
    period = RosterPeriod.objects.select_related("based_on").get(pk=pk)
    return JsonResponse(
        {**_check(evaluation), **_cells_patch(period, user_ids={user_id}, days={day})}
    )


@login_required
@require_POST
def roster_move(request, pk):
    """A drag edit: move a shift to another cell of its row or column (a swap when that cell
    holds one), answer with the updated cells and the roster's check at once (JSON)."""
    _manager(request)
    day = _parse_date(request.POST.get("date"))
    to_day = _parse_date(request.POST.get("to_date"))
    user_id = _int_or_none(request.POST.get("user"))
    to_user_id = _int_or_none(request.POST.get("to_user"))
    if None in (day, to_day, user_id, to_user_id):
        return JsonResponse({"error": _("Drop the shift on a cell of the roster.")}, status=400)
    try:
        move = rosters.roster_cells_move(
            actor=_actor(request),
            period_id=pk,
            user_id=user_id,
            day=day,
            to_user_id=to_user_id,
            to_day=to_day,
        )
    except BookingError as exc:
        return JsonResponse({"error": exc.message}, status=409)
    except RosterPeriod.DoesNotExist:
        return JsonResponse({"error": _("No such roster.")}, status=404)
    return JsonResponse(
        {
            **_check(move.after, move.before),
            **_cells_patch(move.period, user_ids={user_id, to_user_id}, days={day, to_day}),
            "swapped": move.swapped,
            "message": _move_message(move),
        }
    )


def _move_message(move) -> str:
    """What a drag did to the penalty, part by part, and the hard rules now broken."""
    before, after = move.before, move.after
    penalty = _(
        "Penalty %(before)s → %(after)s (%(delta)s: requests %(requests)s, cover %(cover)s, "
        "fairness %(fairness)s)."
    ) % {
        "before": before.objective,
        "after": after.objective,
        "delta": f"{move.delta:+d}",
        "requests": f"{after.request_cost - before.request_cost:+d}",
        "cover": f"{after.cover_cost - before.cover_cost:+d}",
        "fairness": f"{after.fairness_cost - before.fairness_cost:+d}",
    }
    parts = [_("Shifts swapped.") if move.swapped else _("Shift moved."), penalty]
    if after.violations:
        n = len(after.violations)
        parts.append(
            ngettext("%(n)s hard rule is broken.", "%(n)s hard rules are broken.", n) % {"n": n}
        )
    return " ".join(parts)
