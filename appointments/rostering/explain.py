"""Plain-language reasons why a rostering instance has no feasible roster.

Cover is soft, so infeasibility always comes from hard per-employee rules (contracts, days off,
rest, fixed cells). Every rule group gets an assumption literal; CP-SAT returns a set of
assumptions that is already infeasible, which is shrunk greedily to a minimal conflict.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from .instance import Assignment, Instance
from .model import build_model


def explain_infeasibility(
    instance: Instance,
    *,
    fixed: Assignment | None = None,
    time_limit_s: float = 10.0,
) -> tuple[str, ...]:
    """Descriptions of hard-rule groups that cannot all hold together (empty if none found)."""
    roster = build_model(instance, explain=True, fixed=fixed)
    roster.model.proto.clear_objective()  # feasibility only
    described = {group.literal.index: group.description for group in roster.groups}
    core = _core(roster.model, list(described), time_limit_s)
    if core is None:
        return ()
    # Greedy shrink: drop any group whose removal keeps the rest infeasible.
    for index in list(core):
        trial = [i for i in core if i != index]
        if trial and _infeasible(roster.model, trial, time_limit_s / max(1, len(core))):
            core = trial
    return tuple(sorted(described[i] for i in core))


def _core(model: cp_model.CpModel, indexes: list[int], seconds: float) -> list[int] | None:
    model.clear_assumptions()
    model.add_assumptions([model.get_bool_var_from_proto_index(i) for i in indexes])
    solver = _solver(seconds)
    if solver.solve(model) != cp_model.INFEASIBLE:
        return None
    return list(solver.sufficient_assumptions_for_infeasibility())


def _infeasible(model: cp_model.CpModel, indexes: list[int], seconds: float) -> bool:
    model.clear_assumptions()
    model.add_assumptions([model.get_bool_var_from_proto_index(i) for i in indexes])
    return _solver(seconds).solve(model) == cp_model.INFEASIBLE


def _solver(seconds: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    # Assumption cores come from the single-threaded core search.
    solver.parameters.num_workers = 1
    return solver
