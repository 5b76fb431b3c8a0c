"""Rosters in the app, over the optimiser core in ``appointments/rostering/`` (which knows no
Django): ``problem`` turns rows into the core's dataclasses and back, ``services`` creates,
solves, edits and publishes roster versions, ``moves`` applies drag edits, ``grid`` reads what
the roster page shows and ``compare`` what differs between two versions."""

from .compare import Comparison, roster_compare, roster_versions
from .grid import Grid, GridCell, GridRow, roster_grid
from .moves import CellMove, roster_cells_move
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
    "CellMove",
    "Comparison",
    "Grid",
    "GridCell",
    "GridRow",
    "Problem",
    "assignment_of",
    "can_manage_rosters",
    "problem_for",
    "roster_cell_set",
    "roster_cells_move",
    "roster_compare",
    "roster_create",
    "roster_evaluate",
    "roster_grid",
    "roster_publish",
    "roster_sick_call",
    "roster_solve_cancel",
    "roster_solve_run",
    "roster_solve_start",
    "roster_versions",
]
