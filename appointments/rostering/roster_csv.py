"""Rosters as CSV: a header line ``employee,day,shift`` then one row per shift worked.

Days off have no row. The same format is written by ``manage.py roster_benchmark --solution``
and read back by tests and the benchmark script.
"""

from __future__ import annotations

import csv
import io

from .instance import Assignment

HEADER = ("employee", "day", "shift")


def roster_to_csv(assignment: Assignment) -> str:
    """CSV text for a roster, rows sorted by employee then day."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for (employee, day), shift in sorted(assignment.items()):
        if shift is not None:
            writer.writerow((employee, day, shift))
    return out.getvalue()


def roster_from_csv(text: str) -> dict[tuple[str, int], str]:
    """Parse CSV written by ``roster_to_csv``; ValueError naming the line on bad input."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(cell.strip() for cell in rows[0]) != HEADER:
        raise ValueError("line 1: expected the header employee,day,shift")
    assignment: dict[tuple[str, int], str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 3:
            raise ValueError(f"line {number}: expected 3 fields, got {len(row)}")
        employee, day, shift = (cell.strip() for cell in row)
        try:
            key = (employee, int(day))
        except ValueError:
            raise ValueError(f"line {number}: day {day!r} is not an integer") from None
        if key in assignment:
            raise ValueError(f"line {number}: second shift for {employee} on day {day}")
        assignment[key] = shift
    return assignment
