import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from appointments.rostering.instance import parse_benchmark
from appointments.rostering.roster_csv import roster_from_csv, roster_to_csv
from appointments.rostering.verify import evaluate

INSTANCE1 = Path(__file__).with_name("Instance1.txt")


def test_it_prints_one_json_object_and_writes_a_roster_the_verifier_accepts(tmp_path):
    out = StringIO()
    solution = tmp_path / "roster.csv"
    call_command(
        "roster_benchmark",
        str(INSTANCE1),
        "--time-limit",
        "20",
        "--solution",
        str(solution),
        stdout=out,
    )
    summary = json.loads(out.getvalue())
    assert set(summary) == {"objective", "status", "seconds", "best_bound"}
    assert (summary["objective"], summary["status"], summary["best_bound"]) == (607, "optimal", 607)
    assert 0 < summary["seconds"] < 20
    text = solution.read_text()
    assert text.splitlines()[0] == "employee,day,shift"
    check = evaluate(parse_benchmark(INSTANCE1.read_text()), roster_from_csv(text))
    assert check.violations == ()
    assert check.objective == 607


def test_it_reports_a_malformed_file_with_its_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(INSTANCE1.read_text().replace("A,D=14,4320", "A,D=14,lots"))
    with pytest.raises(CommandError, match=r"bad.txt: line 13: staff limit 'lots'"):
        call_command("roster_benchmark", str(bad), stdout=StringIO())


def test_it_reports_a_missing_file():
    with pytest.raises(CommandError, match="cannot read"):
        call_command("roster_benchmark", "/nonexistent/Instance.txt", stdout=StringIO())


def test_the_csv_round_trips_and_rejects_a_second_shift_on_a_day():
    roster = {("A", 0): "E", ("B", 3): "L", ("A", 1): None}
    assert roster_from_csv(roster_to_csv(roster)) == {("A", 0): "E", ("B", 3): "L"}
    with pytest.raises(ValueError, match="line 3: second shift for A on day 0"):
        roster_from_csv("employee,day,shift\nA,0,E\nA,0,L\n")
    with pytest.raises(ValueError, match="line 1: expected the header"):
        roster_from_csv("A,0,E\n")
