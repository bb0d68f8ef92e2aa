"""Instance and plan files: JSON round trips, bad files, and ``evgrid plan`` end to end."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from evgrid.cli import main
from evgrid.scheduler.assign import assign_slots
from evgrid.scheduler.check import plan_cost, violations
from evgrid.scheduler.instance import (
    plan_from_json,
    plan_to_json,
    problem_from_json,
    problem_to_json,
)
from evgrid.scheduler.synthetic import western_night

INSTANCE_KEYS = {"start", "slot_minutes", "slots", "prices", "unmet_penalty_per_kwh", "transformers", "feeders", "sessions"}
SESSION_KEYS = {"id", "transformer", "arrival_slot", "departure_slot", "energy_kwh", "max_kw", "asap"}
SUMMARY_KEYS = {"cost", "unmet_kwh", "objective", "runtime_s", "max_utilisation"}


def _through_json(document: object) -> Any:
    return json.loads(json.dumps(document))


def test_instance_round_trip() -> None:
    problem = western_night(120, 4)
    document = _through_json(problem_to_json(problem))
    assert set(document) == INSTANCE_KEYS
    assert set(document["sessions"][0]) == SESSION_KEYS
    assert set(document["transformers"][0]) == {"id", "capacity_kw", "base_load_kw", "feeder"}
    assert problem_from_json(document) == problem


def test_plan_round_trip_and_summary() -> None:
    problem = western_night(120, 4)
    plan = assign_slots(problem)
    document = _through_json(plan_to_json(problem, plan, runtime_s=0.5))
    assert set(document) == {"sessions", "summary"} and set(document["summary"]) == SUMMARY_KEYS
    cost = plan_cost(problem, plan)
    summary = document["summary"]
    assert summary["objective"] == pytest.approx(summary["cost"] + float(problem.penalty_per_kwh) * summary["unmet_kwh"])
    assert summary["objective"] == pytest.approx(cost.total) and summary["runtime_s"] == 0.5
    assert summary["max_utilisation"] <= 1.0 + 1e-9
    assert all(kw > 0 for pairs in document["sessions"].values() for _, kw in pairs)
    again = plan_from_json(problem, document)
    assert again == plan and violations(problem, again) == []


def _valid() -> dict[str, Any]:
    return {
        "start": "2026-01-15T01:00:00Z", "slot_minutes": 15, "slots": 2, "prices": [0.1, 0.2],
        "unmet_penalty_per_kwh": 0.6,
        "transformers": [{"id": "T1", "capacity_kw": 20.0, "base_load_kw": [5.0, 5.0], "feeder": None}],
        "feeders": [],
        "sessions": [{"id": "S1", "transformer": "T1", "arrival_slot": 0, "departure_slot": 2,
                      "energy_kwh": 2.0, "max_kw": 7.2, "asap": False}],
    }  # fmt: skip


def _with(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    document = _valid()
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected a JSON object"),
        (_with(("start",), "tonight"), "ISO-8601"),
        (_with(("start",), "2026-01-15T01:00:00+01:00"), "not UTC"),
        (_with(("slots",), 0), "slots"),
        (_with(("prices",), [0.1]), "prices: expected 2"),
        (_with(("transformers", 0, "base_load_kw"), [1.0, "x"]), "transformers[0].base_load_kw"),
        (_with(("transformers", 0, "feeder"), "F9"), "unknown feeder"),
        (_with(("sessions", 0, "transformer"), "T9"), "unknown transformer"),
        (_with(("sessions", 0, "departure_slot"), -1), "departure_slot"),
        (_with(("sessions", 0, "arrival_slot"), 2.5), "arrival_slot"),
        (_with(("sessions", 0, "asap"), "yes"), "asap"),
        (_with(("sessions", 0, "max_kw"), True), "max_kw"),
        (_with(("sessions",), {}), "sessions: expected a list"),
    ],
)
def test_bad_instances_are_refused_with_the_place(document: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        problem_from_json(document)


def test_uc_2_2_evgrid_plan_generates_and_plans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    instance = tmp_path / "night.json"
    assert main(["plan", "--generate", "80", "--seed", "3", "--out", str(instance)]) == 0
    problem = problem_from_json(json.loads(instance.read_text()))
    assert len(problem.sessions) == 80
    objectives = {}
    for algorithm in ("assign", "greedy", "reoptimise", "highs"):
        out = tmp_path / f"{algorithm}.json"
        assert main(["plan", "--instance", str(instance), "--algorithm", algorithm, "--out", str(out)]) == 0
        document = json.loads(out.read_text())
        assert violations(problem, plan_from_json(problem, document)) == []
        objectives[algorithm] = document["summary"]["objective"]
    assert objectives["highs"] <= min(objectives.values()) + 1e-6
    assert "sessions planned by highs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("{", "Expecting"), ('{"start": 1}', "instance.start")],
    ids=["missing", "not JSON", "bad field"],
)
def test_evgrid_plan_bad_instance_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    instance = tmp_path / "bad.json"
    if content is not None:
        instance.write_text(content)
    assert main(["plan", "--instance", str(instance), "--out", str(tmp_path / "plan.json")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("evgrid plan: ") and message in error
    assert not (tmp_path / "plan.json").exists()


def test_evgrid_plan_generates_a_congested_night_and_plans_it_within_the_feeders(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    instance, plan = tmp_path / "congested.json", tmp_path / "plan.json"
    assert main(["plan", "--generate", "400", "--seed", "5", "--congested", "--out", str(instance)]) == 0
    assert "400 sessions" in capsys.readouterr().out
    data = json.loads(instance.read_text())
    rated = {f["id"]: f["capacity_kw"] for f in data["feeders"]}
    under = defaultdict(float)
    for transformer in data["transformers"]:
        under[transformer["feeder"]] += transformer["capacity_kw"]
    assert rated and all(rated[f] <= 0.7 * under[f] + 1e-6 for f in rated)  # rated well below their transformers
    assert main(["plan", "--instance", str(instance), "--out", str(plan)]) == 0
    problem = problem_from_json(data)
    assert violations(problem, plan_from_json(problem, json.loads(plan.read_text()))) == []
    assert main(["plan", "--instance", str(instance), "--congested", "--out", str(plan)]) == 2
