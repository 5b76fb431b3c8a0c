"""Rostering problem description: frozen dataclasses in, no Django, no solver.

The shape follows the Curtois & Qu Shift Scheduling Benchmark (schedulingbenchmarks.org), whose
rule set covers the hospital's own rosters; the app adds optional fairness weights. Days are
indexes from 0; ``first_weekday`` says which weekday day 0 is (0 = Monday, as in the benchmark).

An *assignment* is a mapping ``{(employee_id, day): shift_id}``; a missing key (or ``None``)
means a day off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

Assignment = Mapping[tuple[str, int], str | None]

# No contract limit: large enough for any horizon, small enough for integer models.
NO_LIMIT = 10**6


@dataclass(frozen=True)
class ShiftType:
    """A kind of shift (early, late, night...): its length and the shifts that may not follow it
    on the next day (e.g. an early shift straight after a night)."""

    id: str
    minutes: int
    forbidden_next: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Employee:
    """One member of staff and the contract limits the roster must respect.

    ``max_shifts`` maps a shift id to the most shifts of that type (0 = never that type); a
    missing shift id means no limit. Blocks of work or rest touching the first or last day of
    the horizon are exempt from the minimum-length rules.
    """

    id: str
    max_shifts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    max_total_minutes: int = NO_LIMIT
    min_total_minutes: int = 0
    max_consecutive_shifts: int = NO_LIMIT
    min_consecutive_shifts: int = 1
    min_consecutive_days_off: int = 1
    max_weekends: int = NO_LIMIT
    days_off: frozenset[int] = frozenset()

    def allows(self, shift: str) -> bool:
        """Whether the contract allows this shift type at all."""
        return self.max_shifts.get(shift, NO_LIMIT) > 0


@dataclass(frozen=True)
class ShiftRequest:
    """A wish to work (``on``) or not to work (``off``) a shift on a day; ``weight`` is paid in
    the objective when the wish is not granted."""

    employee: str
    day: int
    shift: str
    weight: int


@dataclass(frozen=True)
class CoverRequirement:
    """How many staff should work ``shift`` on ``day``; each missing person costs
    ``under_weight``, each extra person ``over_weight``."""

    day: int
    shift: str
    requirement: int
    under_weight: int
    over_weight: int


@dataclass(frozen=True)
class Fairness:
    """Optional soft term spreading unpopular work evenly.

    Adds ``nights_weight * (max - min nights per employee)`` and ``weekends_weight * (max - min
    weekends worked per employee)`` to the objective. All zero for the benchmark, so benchmark
    objectives are exactly the published ones.
    """

    night_shifts: frozenset[str] = frozenset()
    nights_weight: int = 0
    weekends_weight: int = 0

    @property
    def active(self) -> bool:
        """Whether the term contributes anything to the objective."""
        return bool(
            (self.nights_weight and self.night_shifts) or self.weekends_weight,
        )


@dataclass(frozen=True)
class Instance:
    """A complete rostering problem."""

    horizon: int
    shifts: tuple[ShiftType, ...]
    employees: tuple[Employee, ...]
    on_requests: tuple[ShiftRequest, ...] = ()
    off_requests: tuple[ShiftRequest, ...] = ()
    cover: tuple[CoverRequirement, ...] = ()
    fairness: Fairness = Fairness()
    first_weekday: int = 0

    def shift(self, shift_id: str) -> ShiftType:
        """The shift type with this id (KeyError if unknown)."""
        for shift in self.shifts:
            if shift.id == shift_id:
                return shift
        raise KeyError(shift_id)

    def weekends(self) -> list[tuple[int, ...]]:
        """Days of each weekend (Saturday, Sunday) inside the horizon; a weekend cut by the
        horizon keeps only its days inside."""
        found: dict[int, list[int]] = {}
        for day in range(self.horizon):
            weekday = (self.first_weekday + day) % 7
            if weekday >= 5:
                week = (self.first_weekday + day) // 7
                found.setdefault(week, []).append(day)
        return [tuple(days) for _, days in sorted(found.items())]


# --- Curtois & Qu text format ---------------------------------------------------------------

_SECTIONS = (
    "SECTION_HORIZON",
    "SECTION_SHIFTS",
    "SECTION_STAFF",
    "SECTION_DAYS_OFF",
    "SECTION_SHIFT_ON_REQUESTS",
    "SECTION_SHIFT_OFF_REQUESTS",
    "SECTION_COVER",
)


def parse_benchmark(text: str) -> Instance:
    """Parse a Shift Scheduling Benchmark instance (Curtois & Qu text format).

    Raises ValueError naming the line number on malformed input (unknown section, wrong field
    count, non-integer, unknown shift or employee, day outside the horizon).
    """
    rows: dict[str, list[tuple[int, list[str]]]] = {name: [] for name in _SECTIONS}
    section = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("SECTION_"):
            if line not in rows:
                raise ValueError(f"line {number}: unknown section {line!r}")
            section = line
            continue
        if section is None:
            raise ValueError(f"line {number}: data before the first SECTION_ header")
        rows[section].append((number, [part.strip() for part in line.split(",")]))
    return _Builder(rows).build()


class _Builder:
    """Turns the raw rows of each section into an Instance, checking references."""

    def __init__(self, rows: dict[str, list[tuple[int, list[str]]]]):
        self.rows = rows

    def build(self) -> Instance:
        horizon_rows = self.rows["SECTION_HORIZON"]
        if len(horizon_rows) != 1:
            raise ValueError("line 1: SECTION_HORIZON must hold exactly one number")
        number, fields = horizon_rows[0]
        self.horizon = _int(fields[0], number, "horizon", minimum=1)
        shifts = tuple(self._shift(n, f) for n, f in self.rows["SECTION_SHIFTS"])
        if not shifts:
            raise ValueError("line 1: SECTION_SHIFTS is missing or empty")
        self.shift_ids = _unique([s.id for s in shifts], self.rows["SECTION_SHIFTS"], "shift")
        for (number, _), shift in zip(self.rows["SECTION_SHIFTS"], shifts, strict=True):
            self._check_shifts(shift.forbidden_next, number)
        days_off = self._days_off()
        employees = tuple(
            self._employee(n, f, days_off.get(f[0], frozenset()))
            for n, f in self.rows["SECTION_STAFF"]
        )
        self.employee_ids = _unique(
            [e.id for e in employees], self.rows["SECTION_STAFF"], "employee"
        )
        for employee_id, number in self.days_off_lines.items():
            self._check_employee(employee_id, number)
        return Instance(
            horizon=self.horizon,
            shifts=shifts,
            employees=employees,
            on_requests=self._requests("SECTION_SHIFT_ON_REQUESTS"),
            off_requests=self._requests("SECTION_SHIFT_OFF_REQUESTS"),
            cover=tuple(self._cover(n, f) for n, f in self.rows["SECTION_COVER"]),
        )

    def _shift(self, number: int, fields: list[str]) -> ShiftType:
        _arity(fields, 3, number, "shift (ID, minutes, cannot-follow)")
        forbidden = frozenset(part for part in fields[2].split("|") if part)
        return ShiftType(fields[0], _int(fields[1], number, "shift length", minimum=0), forbidden)

    def _employee(self, number: int, fields: list[str], days_off: frozenset[int]) -> Employee:
        _arity(fields, 8, number, "staff row")
        limits: dict[str, int] = {}
        for part in filter(None, fields[1].split("|")):
            shift, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"line {number}: MaxShifts entry {part!r} is not SHIFT=N")
            self._check_shifts([shift], number)
            limits[shift] = _int(value, number, "MaxShifts", minimum=0)
        values = [_int(v, number, "staff limit", minimum=0) for v in fields[2:]]
        return Employee(
            id=fields[0],
            max_shifts=MappingProxyType(limits),
            max_total_minutes=values[0],
            min_total_minutes=values[1],
            max_consecutive_shifts=values[2],
            min_consecutive_shifts=values[3],
            min_consecutive_days_off=values[4],
            max_weekends=values[5],
            days_off=days_off,
        )

    def _days_off(self) -> dict[str, frozenset[int]]:
        result: dict[str, frozenset[int]] = {}
        self.days_off_lines: dict[str, int] = {}
        for number, fields in self.rows["SECTION_DAYS_OFF"]:
            days = frozenset(self._day(v, number) for v in fields[1:] if v)
            result[fields[0]] = result.get(fields[0], frozenset()) | days
            self.days_off_lines[fields[0]] = number
        return result

    def _requests(self, section: str) -> tuple[ShiftRequest, ...]:
        requests = []
        for number, fields in self.rows[section]:
            _arity(fields, 4, number, "request (EmployeeID, Day, ShiftID, Weight)")
            self._check_employee(fields[0], number)
            self._check_shifts([fields[2]], number)
            weight = _int(fields[3], number, "weight", minimum=0)
            requests.append(
                ShiftRequest(fields[0], self._day(fields[1], number), fields[2], weight)
            )
        return tuple(requests)

    def _cover(self, number: int, fields: list[str]) -> CoverRequirement:
        _arity(fields, 5, number, "cover (Day, ShiftID, Requirement, under, over)")
        self._check_shifts([fields[1]], number)
        day = self._day(fields[0], number)
        numbers = [_int(v, number, "cover value", minimum=0) for v in fields[2:]]
        return CoverRequirement(day, fields[1], *numbers)

    def _day(self, value: str, number: int) -> int:
        day = _int(value, number, "day", minimum=0)
        if day >= self.horizon:
            raise ValueError(
                f"line {number}: day {day} is outside the horizon 0..{self.horizon - 1}"
            )
        return day

    def _check_shifts(self, shift_ids, number: int) -> None:
        for shift_id in shift_ids:
            if shift_id not in self.shift_ids:
                raise ValueError(f"line {number}: unknown shift {shift_id!r}")

    def _check_employee(self, employee_id: str, number: int) -> None:
        if employee_id not in self.employee_ids:
            raise ValueError(f"line {number}: unknown employee {employee_id!r}")


def _int(value: str, number: int, what: str, *, minimum: int) -> int:
    try:
        result = int(value)
    except ValueError:
        raise ValueError(f"line {number}: {what} {value!r} is not an integer") from None
    if result < minimum:
        raise ValueError(f"line {number}: {what} {result} is below {minimum}")
    return result


def _arity(fields: list[str], count: int, number: int, what: str) -> None:
    if len(fields) != count:
        raise ValueError(f"line {number}: expected {count} fields for a {what}, got {len(fields)}")


def _unique(ids: list[str], rows: list[tuple[int, list[str]]], what: str) -> set[str]:
    seen: set[str] = set()
    for identifier, (number, _) in zip(ids, rows, strict=True):
        if identifier in seen:
            raise ValueError(f"line {number}: duplicate {what} {identifier!r}")
        seen.add(identifier)
    return seen
