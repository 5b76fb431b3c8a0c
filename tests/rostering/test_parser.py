from pathlib import Path

import pytest

from appointments.rostering.instance import parse_benchmark

INSTANCE1 = Path(__file__).with_name("Instance1.txt")

SMALL = """\
# comment line
SECTION_HORIZON
7

SECTION_SHIFTS
E,480,
L,480,E
N,600,E|L

SECTION_STAFF
A,E=7|L=3|N=0,2400,960,5,2,2,1
B,E=7|L=7|N=7,2880,0,6,1,1,2

SECTION_DAYS_OFF
A,2,3
B

SECTION_SHIFT_ON_REQUESTS
A,0,E,2

SECTION_SHIFT_OFF_REQUESTS
B,6,N,3

SECTION_COVER
0,E,1,100,1
6,N,2,50,2
"""


def test_it_reads_every_section_of_a_small_file():
    inst = parse_benchmark(SMALL)
    assert inst.horizon == 7
    assert [s.id for s in inst.shifts] == ["E", "L", "N"]
    assert inst.shift("N").minutes == 600
    assert inst.shift("N").forbidden_next == frozenset({"E", "L"})
    assert inst.shift("E").forbidden_next == frozenset()
    a, b = inst.employees
    assert dict(a.max_shifts) == {"E": 7, "L": 3, "N": 0}
    assert not a.allows("N") and a.allows("L")
    assert (a.max_total_minutes, a.min_total_minutes) == (2400, 960)
    assert (a.max_consecutive_shifts, a.min_consecutive_shifts) == (5, 2)
    assert (a.min_consecutive_days_off, a.max_weekends) == (2, 1)
    assert a.days_off == frozenset({2, 3}) and b.days_off == frozenset()
    assert [(r.employee, r.day, r.shift, r.weight) for r in inst.on_requests] == [("A", 0, "E", 2)]
    assert [(r.employee, r.day, r.shift, r.weight) for r in inst.off_requests] == [("B", 6, "N", 3)]
    assert [(c.day, c.shift, c.requirement, c.under_weight, c.over_weight) for c in inst.cover] == [
        (0, "E", 1, 100, 1),
        (6, "N", 2, 50, 2),
    ]
    assert inst.weekends() == [(5, 6)]


def test_it_reads_benchmark_instance1():
    inst = parse_benchmark(INSTANCE1.read_text())
    assert inst.horizon == 14
    assert len(inst.employees) == 8
    assert [s.id for s in inst.shifts] == ["D"]
    assert inst.employees[0].days_off == frozenset({0})
    assert len(inst.cover) == 14
    assert inst.weekends() == [(5, 6), (12, 13)]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("SECTION_COVER", "SECTION_COVERS", "line 24: unknown section 'SECTION_COVERS'"),
        ("A,0,E,2", "A,0,E,two", "line 19: weight 'two' is not an integer"),
        ("A,0,E,2", "A,0,X,2", "line 19: unknown shift 'X'"),
        ("A,0,E,2", "Z,0,E,2", "line 19: unknown employee 'Z'"),
        ("A,0,E,2", "A,7,E,2", "line 19: day 7 is outside the horizon 0..6"),
        ("0,E,1,100,1", "0,E,1,100", "line 25: expected 5 fields"),
        ("B,E=7|L=7|N=7", "A,E=7|L=7|N=7", "line 12: duplicate employee 'A'"),
        ("L,480,E", "L,480,Q", "line 7: unknown shift 'Q'"),
        ("E=7|L=3|N=0", "E=7|L3|N=0", "line 11: MaxShifts entry 'L3' is not SHIFT=N"),
        ("A,2,3", "C,2,3", "line 15: unknown employee 'C'"),
        ("\n7\n", "\n-7\n", "line 3: horizon -7 is below 1"),
    ],
)
def test_it_rejects_bad_input_naming_the_line(old, new, message):
    assert old in SMALL
    with pytest.raises(ValueError) as error:
        parse_benchmark(SMALL.replace(old, new, 1))
    assert str(error.value).startswith(message)


def test_it_rejects_data_before_any_section():
    with pytest.raises(ValueError, match="line 1: data before the first SECTION_ header"):
        parse_benchmark("7\n" + SMALL)
