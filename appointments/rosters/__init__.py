"""Rosters in the app, over the optimiser core in ``appointments/rostering/`` (which knows no
Django): ``problem`` turns rows into the core's dataclasses and back, ``services`` creates,
solves, edits and publishes roster versions, ``grid`` reads what the roster page shows."""

from .grid import Grid, GridRow, roster_grid
from .problem import (
    Problem,
    assignment_of,
    can_manage_rosters,
    problem_for,
    roster_evaluate,
)
from .services import (
    roster_cell_set,
    roster_create,
    roster_publish,
    roster_sick_call,
    roster_solve_cancel,
    roster_solve_run,
    roster_solve_start,
)

__all__ = [
    "Grid",
    "GridRow",
    "Problem",
    "assignment_of",
    "can_manage_rosters",
    "problem_for",
    "roster_cell_set",
    "roster_create",
    "roster_evaluate",
    "roster_grid",
    "roster_publish",
    "roster_sick_call",
    "roster_solve_cancel",
    "roster_solve_run",
    "roster_solve_start",
]
