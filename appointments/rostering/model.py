"""CP-SAT formulation of an Instance.

One boolean per employee/day/shift plus a work-day boolean per employee/day. The sequence rules
are written in their strongest simple form because that is what made the benchmark gaps close
(see bench/README.md):

- rest rules as clique inequalities over two days (every shift that forbids a superset of a
  successor set shares one ``<= 1`` row with that successor set);
- maximum run length as sliding windows over work-day booleans;
- minimum run lengths (work and rest) as three-literal clauses "a block starting on day d
  reaches day d+j" instead of forbidding each short pattern separately.

With ``explain=True`` every hard rule group of every employee gets an enforcement literal, used
as an assumption to name the rules that conflict when the instance is infeasible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from .instance import Assignment, Employee, Instance
from .patterns import max_work_days


@dataclass
class RuleGroup:
    """One switchable group of hard constraints (explain mode)."""

    literal: cp_model.IntVar
    description: str


@dataclass
class RosterModel:
    """The CP-SAT model and the variables the solver and LNS need to read back."""

    instance: Instance
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    x: dict[tuple[int, int, int], cp_model.IntVar] = field(default_factory=dict)
    work: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    weekends: dict[int, list[cp_model.IntVar]] = field(default_factory=dict)
    groups: list[RuleGroup] = field(default_factory=list)
    explain: bool = False

    def guard(self, description: str) -> list:
        """Enforcement literals for a rule group: none normally, one fresh one in explain mode."""
        if not self.explain:
            return []
        literal = self.model.new_bool_var(description)
        self.groups.append(RuleGroup(literal, description))
        return [literal]

    def assignment(self, value) -> dict[tuple[str, int], str | None]:
        """Read a roster back through ``value`` (a solver's or callback's value function)."""
        inst = self.instance
        result: dict[tuple[str, int], str | None] = {}
        for (e, d, s), var in self.x.items():
            if value(var):
                result[(inst.employees[e].id, d)] = inst.shifts[s].id
        return result


def build_model(
    instance: Instance,
    *,
    explain: bool = False,
    fixed: Assignment | None = None,
    previous: Assignment | None = None,
    change_weight: int = 0,
) -> RosterModel:
    """Build the CP-SAT model: hard rules, the objective, fixed cells and change penalty."""
    roster = RosterModel(instance=instance, explain=explain)
    for e, employee in enumerate(instance.employees):
        _add_cells(roster, e)
        _add_employee_rules(roster, e, employee)
    if fixed:
        _add_fixed(roster, fixed)
    terms = _request_terms(roster) + _cover_terms(roster) + _fairness_terms(roster)
    if previous is not None and change_weight:
        terms += [(change_weight, dev) for dev in _deviations(roster, previous)]
    roster.model.minimize(sum(weight * var for weight, var in terms))
    return roster


def _add_cells(roster: RosterModel, e: int) -> None:
    model, inst = roster.model, roster.instance
    for d in range(inst.horizon):
        cells = []
        for s in range(len(inst.shifts)):
            roster.x[e, d, s] = model.new_bool_var(f"x{e}_{d}_{s}")
            cells.append(roster.x[e, d, s])
        work = model.new_bool_var(f"w{e}_{d}")
        model.add(sum(cells) == work)  # also "at most one shift a day"
        roster.work[e, d] = work


def _add_employee_rules(roster: RosterModel, e: int, employee: Employee) -> None:
    model, inst = roster.model, roster.instance
    h, name = inst.horizon, employee.id
    work = [roster.work[e, d] for d in range(h)]
    if employee.days_off:
        days = ", ".join(str(d) for d in sorted(employee.days_off))
        enforce = roster.guard(f"{name} must be off on day(s) {days}")
        for d in employee.days_off:
            model.add(work[d] == 0).only_enforce_if(enforce)
    _add_rest_rules(roster, e, name)
    for s, shift in enumerate(inst.shifts):
        limit = employee.max_shifts.get(shift.id)
        if limit is not None and limit < h:
            enforce = roster.guard(f"{name} may work at most {limit} {shift.id} shift(s)")
            model.add(sum(roster.x[e, d, s] for d in range(h)) <= limit).only_enforce_if(enforce)
    minutes = sum(
        shift.minutes * roster.x[e, d, s] for d in range(h) for s, shift in enumerate(inst.shifts)
    )
    longest = max(shift.minutes for shift in inst.shifts)
    if employee.max_total_minutes < longest * h:
        enforce = roster.guard(f"{name} may work at most {employee.max_total_minutes} minutes")
        model.add(minutes <= employee.max_total_minutes).only_enforce_if(enforce)
    if employee.min_total_minutes > 0:
        enforce = roster.guard(f"{name} must work at least {employee.min_total_minutes} minutes")
        model.add(minutes >= employee.min_total_minutes).only_enforce_if(enforce)
    _add_run_rules(roster, employee, work)
    allowed = [shift.minutes for shift in inst.shifts if employee.allows(shift.id)]
    if allowed and not roster.explain:  # implied cuts would wrongly fail a relaxed model
        _add_window_cuts(roster, employee, work, max(allowed))
    _add_weekend_rules(roster, e, employee, work)


def _add_rest_rules(roster: RosterModel, e: int, name: str) -> None:
    """Forbidden successions as clique rows (see module docstring)."""
    model, inst = roster.model, roster.instance
    shifts = inst.shifts
    index = {shift.id: s for s, shift in enumerate(shifts)}
    cliques = set()
    for shift in shifts:
        if shift.forbidden_next:
            before = frozenset(
                s for s, other in enumerate(shifts) if other.forbidden_next >= shift.forbidden_next
            )
            cliques.add((before, frozenset(index[f] for f in shift.forbidden_next)))
    if not cliques:
        return
    enforce = roster.guard(f"{name} needs the rest required between shifts")
    for d in range(inst.horizon - 1):
        for before, after in sorted(cliques, key=sorted):
            row = [roster.x[e, d, s] for s in before] + [roster.x[e, d + 1, s] for s in after]
            model.add(sum(row) <= 1).only_enforce_if(enforce)


def _add_run_rules(roster: RosterModel, employee: Employee, work: list) -> None:
    model, h, name = roster.model, len(work), employee.id
    longest = employee.max_consecutive_shifts
    if longest < h:
        enforce = roster.guard(f"{name} may work at most {longest} days in a row")
        for start in range(h - longest):
            window = work[start : start + longest + 1]
            model.add(sum(window) <= longest).only_enforce_if(enforce)
    shortest = employee.min_consecutive_shifts
    if shortest > 1:
        enforce = roster.guard(f"{name} must work at least {shortest} days in a row")
        # a block of work starting on day d (off on d-1) must still be on at d+j, unless the
        # horizon ends first (blocks touching the end are exempt).
        for d in range(1, h):
            for j in range(1, min(shortest, h - d)):
                model.add_bool_or([work[d - 1], ~work[d], work[d + j]] + [~x for x in enforce])
    rest = employee.min_consecutive_days_off
    if rest > 1:
        enforce = roster.guard(f"{name} needs at least {rest} days off in a row")
        for d in range(1, h):
            for j in range(1, min(rest, h - d)):
                model.add_bool_or([~work[d - 1], work[d], ~work[d + j]] + [~x for x in enforce])


def _add_window_cuts(roster: RosterModel, employee: Employee, work: list, longest: int) -> None:
    """Redundant bounds on working days per window (patterns.py explains why)."""
    h = len(work)
    rules = (
        min(employee.max_consecutive_shifts, h),
        employee.min_consecutive_shifts,
        employee.min_consecutive_days_off,
    )
    for length in range(rules[0] + 1, h + 1):
        bound = max_work_days(length, *rules)
        if bound < length - length // (rules[0] + 1):  # tighter than the sliding windows
            for start in range(h - length + 1):
                roster.model.add(sum(work[start : start + length]) <= bound)
    fewest = -(-employee.min_total_minutes // longest)
    for first in range(h):
        for last in range(first, h):
            need = fewest - max_work_days(first, *rules) - max_work_days(h - 1 - last, *rules)
            if need > 0:
                roster.model.add(sum(work[first : last + 1]) >= need)


def _add_weekend_rules(roster: RosterModel, e: int, employee: Employee, work: list) -> None:
    model, inst = roster.model, roster.instance
    worked = []
    for index, days in enumerate(inst.weekends()):
        weekend = model.new_bool_var(f"wk{e}_{index}")
        for d in days:
            model.add_implication(work[d], weekend)
        model.add_bool_or([work[d] for d in days] + [~weekend])  # exact, for fairness
        worked.append(weekend)
    roster.weekends[e] = worked
    if employee.max_weekends < len(worked):
        enforce = roster.guard(f"{employee.id} may work at most {employee.max_weekends} weekends")
        model.add(sum(worked) <= employee.max_weekends).only_enforce_if(enforce)


def _add_fixed(roster: RosterModel, fixed: Assignment) -> None:
    inst = roster.instance
    employees = {employee.id: e for e, employee in enumerate(inst.employees)}
    shifts = {shift.id: s for s, shift in enumerate(inst.shifts)}
    for (employee_id, day), shift_id in sorted(fixed.items(), key=lambda kv: (kv[0], str(kv[1]))):
        e = employees[employee_id]
        what = f"{shift_id} shift" if shift_id else "day off"
        enforce = roster.guard(f"{employee_id} is fixed to a {what} on day {day}")
        if shift_id is None:
            roster.model.add(roster.work[e, day] == 0).only_enforce_if(enforce)
        else:
            roster.model.add(roster.x[e, day, shifts[shift_id]] == 1).only_enforce_if(enforce)


def _request_terms(roster: RosterModel) -> list:
    inst = roster.instance
    employees = {employee.id: e for e, employee in enumerate(inst.employees)}
    shifts = {shift.id: s for s, shift in enumerate(inst.shifts)}
    terms = []
    for request in inst.on_requests:
        var = roster.x[employees[request.employee], request.day, shifts[request.shift]]
        terms.append((request.weight, ~var))
    for request in inst.off_requests:
        var = roster.x[employees[request.employee], request.day, shifts[request.shift]]
        terms.append((request.weight, var))
    return terms


def _cover_terms(roster: RosterModel) -> list:
    model, inst = roster.model, roster.instance
    shifts = {shift.id: s for s, shift in enumerate(inst.shifts)}
    staff = len(inst.employees)
    terms = []
    for c in inst.cover:
        s = shifts[c.shift]
        staffed = sum(roster.x[e, c.day, s] for e in range(staff))
        under = model.new_int_var(0, c.requirement, f"under{c.day}_{s}")
        over = model.new_int_var(0, max(0, staff - c.requirement), f"over{c.day}_{s}")
        model.add(staffed - c.requirement == over - under)
        terms += [(c.under_weight, under), (c.over_weight, over)]
    return terms


def _fairness_terms(roster: RosterModel) -> list:
    model, inst = roster.model, roster.instance
    fairness = inst.fairness
    if not fairness.active or not inst.employees:
        return []
    nights = [s for s, shift in enumerate(inst.shifts) if shift.id in fairness.night_shifts]
    counts = []
    if fairness.nights_weight and nights:
        counts.append(
            (
                fairness.nights_weight,
                [
                    sum(roster.x[e, d, s] for d in range(inst.horizon) for s in nights)
                    for e in range(len(inst.employees))
                ],
            )
        )
    if fairness.weekends_weight:
        counts.append((fairness.weekends_weight, [sum(w) for w in roster.weekends.values()]))
    terms = []
    for weight, values in counts:
        high = model.new_int_var(0, inst.horizon, "fair_high")
        low = model.new_int_var(0, inst.horizon, "fair_low")
        for value in values:
            model.add(high >= value)
            model.add(low <= value)
        spread = model.new_int_var(0, inst.horizon, "fair_spread")
        model.add(spread == high - low)
        terms.append((weight, spread))
    return terms


def _deviations(roster: RosterModel, previous: Mapping) -> list:
    """One 0/1 expression per cell that differs from the previous roster."""
    inst = roster.instance
    shifts = {shift.id: s for s, shift in enumerate(inst.shifts)}
    deviations = []
    for e, employee in enumerate(inst.employees):
        for d in range(inst.horizon):
            before = previous.get((employee.id, d))
            if before is None:
                deviations.append(roster.work[e, d])
            else:
                deviations.append(~roster.x[e, d, shifts[before]])
    return deviations
