"""Drag edits on the roster grid: a shift dragged to another day of the same person, or to
another person on the same day, moves there (or swaps with the shift it lands on) as one audited
edit, checked at once by the core's independent verifier."""

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction

from ..errors import BookingError
from ..models import RosterAssignment, RosterPeriod
from ..rostering.verify import Evaluation, evaluate
from .problem import _require_manager, assignment_of, problem_for
from .services import _cell_write, _editable_period


@dataclass(frozen=True)
class CellMove:
    """What a drag edit did: the cells it wrote and the roster's check before and after."""

    period: RosterPeriod
    cells: tuple[tuple[int, date, str | None], ...]  # (user id, day, shift code or None)
    swapped: bool
    before: Evaluation
    after: Evaluation

    @property
    def delta(self) -> int:
        """How much the drag changed the penalty (negative: better)."""
        return self.after.objective - self.before.objective


@transaction.atomic
def roster_cells_move(
    *, actor: Actor, period_id, user_id: int, day: date, to_user_id: int, to_day: date
) -> CellMove:
    """Move the shift in (``user_id``, ``day``) to (``to_user_id``, ``to_day``).

    The target is the same person on another day or another person on the same day. A shift
    already there comes back to the source cell (a swap); an empty target leaves the source
    empty (a move). Both cells are written through the click edit's checks in one transaction
    with one audit row; a published or solving roster is refused as a click edit is.
    """
    _require_manager(actor)
    period = _editable_period(period_id)
    user_id, to_user_id = int(user_id), int(to_user_id)
    if (user_id, day) == (to_user_id, to_day):
        raise BookingError("move_invalid", _("Drop the shift on another cell."))
    if user_id != to_user_id and day != to_day:
        raise BookingError(
            "move_invalid",
            _("Drag a shift along its row (another day) or its column (another person)."),
        )
    held = {
        (row.user_id, row.date): row.shift_type.code
        for row in RosterAssignment.objects.filter(
            period=period, user_id__in={user_id, to_user_id}, date__in={day, to_day}
        ).select_related("shift_type")
    }
    moving = held.get((user_id, day))
    if moving is None:
        raise BookingError("nothing_to_move", _("There is no shift in this cell to move."))
    landing = held.get((to_user_id, to_day))
    problem = problem_for(period)
    before = evaluate(problem.instance, assignment_of(period, problem))
    cells = ((to_user_id, to_day, moving), (user_id, day, landing))
    for cell_user, cell_day, code in cells:
        _cell_write(period, user_id=cell_user, day=cell_day, shift_code=code)
    after = evaluate(problem.instance, assignment_of(period, problem))
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=period,
        details={
            "move": [user_id, day.isoformat(), to_user_id, to_day.isoformat()],
            "cells": [[u, d.isoformat(), code] for u, d, code in cells],
            "objective": [before.objective, after.objective],
        },
    )
    period.objective = after.objective
    period.save(update_fields=["objective"])
    return CellMove(
        period=period, cells=cells, swapped=landing is not None, before=before, after=after
    )
