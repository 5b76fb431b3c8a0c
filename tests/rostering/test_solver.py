import itertools
import random
from pathlib import Path

import pytest

from appointments.rostering.instance import Fairness, ShiftType, parse_benchmark
from appointments.rostering.solver import solve
from appointments.rostering.verify import evaluate

from .builders import cover, employee, instance, off, on

INSTANCE1 = Path(__file__).with_name("Instance1.txt")


def random_instance(seed: int, names: str, horizon: int):
    rng = random.Random(seed)
    staff = [
        employee(
            name,
            max_shifts={"L": rng.randint(1, 3)},
            max_total_minutes=480 * rng.randint(3, horizon),
            min_total_minutes=480 * rng.randint(0, 2),
            max_consecutive_shifts=rng.randint(2, 4),
            min_consecutive_shifts=rng.randint(1, 2),
            min_consecutive_days_off=rng.randint(1, 2),
            max_weekends=rng.randint(0, 1),
            days_off=frozenset(rng.sample(range(horizon), 1)),
        )
        for name in names
    ]
    cells = [(n, d, s) for n in names for d in range(horizon) for s in "EL"]
    return instance(
        staff,
        horizon=horizon,
        on_requests=tuple(on(*cell, rng.randint(1, 3)) for cell in rng.sample(cells, 3)),
        off_requests=tuple(off(*cell, rng.randint(1, 3)) for cell in rng.sample(cells, 3)),
        cover=tuple(
            cover(d, s, rng.randint(0, 2), under=rng.randint(5, 20), over=rng.randint(1, 3))
            for d in range(horizon)
            for s in "EL"
        ),
    )


def brute_force_optimum(inst) -> int | None:
    """The best feasible objective by trying every roster (tiny instances only)."""
    cells = [(e.id, d) for e in inst.employees for d in range(inst.horizon)]
    best = None
    for choice in itertools.product((None, "E", "L"), repeat=len(cells)):
        result = evaluate(inst, dict(zip(cells, choice, strict=True)))
        if result.feasible and (best is None or result.objective < best):
            best = result.objective
    return best


@pytest.mark.parametrize(
    ("seed", "names", "horizon"), [(1, "A", 7), (2, "A", 7), (3, "AB", 4), (4, "AB", 4)]
)
def test_it_finds_the_brute_force_optimum_and_the_verifier_agrees(seed, names, horizon):
    inst = random_instance(seed, names, horizon)
    expected = brute_force_optimum(inst)
    assert expected is not None  # the seeds are chosen to be feasible
    result = solve(inst, time_limit_s=10, workers=2)
    assert result.status == "optimal"
    assert result.objective == expected == result.best_bound
    check = evaluate(inst, result.assignment)
    assert check.violations == ()
    assert check.objective == expected


def test_it_solves_benchmark_instance1_to_its_optimum():
    inst = parse_benchmark(INSTANCE1.read_text())
    seen = []
    result = solve(inst, time_limit_s=20, workers=2, on_solution=lambda *a: seen.append(a))
    assert (result.status, result.objective, result.best_bound) == ("optimal", 607, 607)
    assert evaluate(inst, result.assignment).objective == 607
    objectives = [objective for objective, _, _ in seen]
    assert objectives == sorted(objectives, reverse=True) and len(set(objectives)) == len(seen)
    assert objectives[-1] == 607
    assert all(bound <= objective for objective, bound, _ in seen)
    assert [elapsed for _, _, elapsed in seen] == sorted(elapsed for _, _, elapsed in seen)


def test_a_complete_hint_is_the_first_solution_reported():
    inst = parse_benchmark(INSTANCE1.read_text())
    best = solve(inst, time_limit_s=20, workers=2).assignment
    seen = []
    solve(inst, time_limit_s=20, workers=2, hint=best, on_solution=lambda *a: seen.append(a))
    assert seen[0][0] == 607


def test_a_hint_that_breaks_a_new_day_off_is_replaced_and_still_solved_to_optimum():
    inst = random_instance(4, "AB", 4)
    hint = {("A", d): "E" for d in range(4)} | {("B", d): "E" for d in range(4)}
    assert not evaluate(inst, hint).feasible
    result = solve(inst, time_limit_s=10, workers=2, hint=hint)
    assert (result.status, result.objective) == ("optimal", brute_force_optimum(inst))


def test_it_explains_which_rules_conflict_when_infeasible():
    inst = instance(
        [
            employee("A", days_off=frozenset(range(5)), min_total_minutes=3 * 480),
            employee("B", max_consecutive_shifts=2),
        ]
    )
    result = solve(inst, time_limit_s=10, workers=2)
    assert result.status == "infeasible"
    assert result.objective is None and result.assignment == {}
    assert result.explanation == (
        "A must be off on day(s) 0, 1, 2, 3, 4",
        "A must work at least 1440 minutes",
    )


def test_a_fixed_cell_on_a_day_off_is_named_in_the_explanation():
    inst = instance([employee("A", days_off=frozenset({3}))])
    result = solve(inst, time_limit_s=10, workers=2, fixed={("A", 3): "E"})
    assert result.status == "infeasible"
    assert result.explanation == ("A is fixed to a E shift on day 3", "A must be off on day(s) 3")


def test_minimal_change_moves_only_what_the_new_day_off_forces():
    staff = [employee(name) for name in "ABC"]
    parts = {"cover": tuple(cover(d, "E", 1, under=100, over=100) for d in range(7))}
    previous = {("A", 0): "E", ("A", 1): "E", ("A", 2): "E", ("B", 3): "E", ("B", 4): "E"}
    previous |= {("C", 5): "E", ("C", 6): "E"}
    assert evaluate(instance(staff, **parts), previous).objective == 0
    staff[0] = employee("A", days_off=frozenset({1}))
    result = solve(
        instance(staff, **parts), time_limit_s=10, workers=2, previous=previous, change_weight=10
    )
    assert (result.status, result.changes, result.objective) == ("optimal", 2, 20)
    changed = {
        cell
        for cell in previous.keys() | result.assignment.keys()
        if previous.get(cell) != result.assignment.get(cell)
    }
    assert ("A", 1) in changed and {day for _, day in changed} == {1}


def test_fixed_cells_are_kept_even_when_they_cost_more():
    inst = instance([employee("A")], cover=(cover(2, "L", 0, over=50),))
    result = solve(inst, time_limit_s=10, workers=2, fixed={("A", 2): "L", ("A", 4): None})
    assert result.assignment[("A", 2)] == "L"
    assert ("A", 4) not in result.assignment
    assert result.objective == 50 == evaluate(inst, result.assignment).objective


def test_fairness_spreads_nights_evenly():
    night = ShiftType("N", 600)
    inst = instance(
        [employee("A"), employee("B")],
        horizon=4,
        shifts=(night,),
        cover=tuple(cover(d, "N", 1) for d in range(4)),
        off_requests=(off("B", 0, "N", 1),),
        fairness=Fairness(night_shifts=frozenset({"N"}), nights_weight=10),
    )
    result = solve(inst, time_limit_s=10, workers=2)
    nights = [sum(1 for (who, _), s in result.assignment.items() if who == n) for n in "AB"]
    assert nights == [2, 2]
    assert result.objective == 0 == evaluate(inst, result.assignment).objective


def test_it_rejects_a_hint_naming_an_unknown_employee():
    with pytest.raises(ValueError, match="unknown cell"):
        solve(instance(), time_limit_s=1, hint={("Z", 0): "E"})
