"""Small hand-made rostering instances for the tests."""

from types import MappingProxyType

from appointments.rostering.instance import (
    CoverRequirement,
    Employee,
    Instance,
    ShiftRequest,
    ShiftType,
)

EARLY = ShiftType("E", 480)
LATE = ShiftType("L", 480, frozenset({"E"}))  # no early shift the day after a late one


def employee(name: str = "A", **limits) -> Employee:
    """An employee with no binding limits unless given (max_shifts as a plain dict)."""
    if "max_shifts" in limits:
        limits["max_shifts"] = MappingProxyType(dict(limits["max_shifts"]))
    return Employee(id=name, **limits)


def instance(employees=None, *, horizon: int = 7, shifts=(EARLY, LATE), **parts) -> Instance:
    """An instance over ``horizon`` days starting on a Monday."""
    return Instance(
        horizon=horizon,
        shifts=tuple(shifts),
        employees=tuple(employees or [employee()]),
        **parts,
    )


def on(name: str, day: int, shift: str, weight: int) -> ShiftRequest:
    return ShiftRequest(name, day, shift, weight)


off = on


def cover(day: int, shift: str, requirement: int, under: int = 100, over: int = 1):
    return CoverRequirement(day, shift, requirement, under, over)
