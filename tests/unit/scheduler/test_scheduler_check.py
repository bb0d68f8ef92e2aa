"""The plan verifier catches every broken rule, and prices plans consistently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evgrid.scheduler.assign import assign_slots
from evgrid.scheduler.check import plan_cost, violations
from evgrid.scheduler.model import Feeder, Horizon, Problem, SessionRequest, Transformer
from evgrid.scheduler.plan import Plan, build_plan

START = datetime(2026, 1, 15, 18, tzinfo=UTC)
SLOTS = 8


def at(slot: float) -> datetime:
    return START + timedelta(minutes=15 * slot)


PROBLEM = Problem(
    Horizon(START, SLOTS),
    (
        SessionRequest("A", at(1), at(6), 5_000, 7.0, "T1"),
        SessionRequest("B", at(0), at(8), 3_000, 11.0, "T2"),
    ),
    (Transformer("T1", 20.0, (5.0,) * SLOTS, "F1"), Transformer("T2", 14.0, (5.0,) * SLOTS, "F1")),
    (0.3, 0.3, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2),
    1.0,
    (Feeder("F1", 22.0),),
)
# Within every limit: the feeder has 12 kW over its base load, T2 has 9 kW.
VALID = build_plan(PROBLEM, {"A": [0, 0, 7, 7, 6, 0, 0, 0], "B": [0, 0, 5, 5, 2, 0, 0, 0]})


def _powers(plan: Plan) -> dict[str, list[float]]:
    return {p.session_id: list(p.power_kw) for p in plan.sessions}


def _set_power(sid: str, slot: int, value: float) -> Callable[[Plan], Plan]:
    def mutate(plan: Plan) -> Plan:
        powers = _powers(plan)
        powers[sid][slot] = value
        rebuilt = build_plan(PROBLEM, powers)
        # build_plan clips power to the session's window and maximum: put the raw value back.
        sessions = tuple(
            replace(p, power_kw=tuple(powers[p.session_id])) if p.session_id == sid else p
            for p in rebuilt.sessions
        )
        return Plan(rebuilt.horizon, sessions, rebuilt.transformers)

    return mutate


def _replace_session(sid: str, **changes: Any) -> Callable[[Plan], Plan]:
    def mutate(plan: Plan) -> Plan:
        sessions = tuple(replace(p, **changes) if p.session_id == sid else p for p in plan.sessions)
        return Plan(plan.horizon, sessions, plan.transformers)

    return mutate


def _drop_session(plan: Plan) -> Plan:
    return Plan(plan.horizon, plan.sessions[1:], plan.transformers)


def _extra_session(plan: Plan) -> Plan:
    return Plan(plan.horizon, (*plan.sessions, replace(plan.sessions[0], session_id="Z")), plan.transformers)


def _other_horizon(plan: Plan) -> Plan:
    return Plan(Horizon(START + timedelta(hours=1), SLOTS), plan.sessions, plan.transformers)


def _wrong_load(plan: Plan) -> Plan:
    first = plan.transformers[0]
    return Plan(plan.horizon, plan.sessions, (replace(first, load_kw=(0.0,) * SLOTS), *plan.transformers[1:]))


MUTATIONS = {
    "power above the maximum": (_set_power("A", 3, 7.5), "kW >"),
    "negative power": (_set_power("A", 3, -1.0), "non-negative"),
    "not a number": (_set_power("A", 3, float("nan")), "non-negative"),
    "power outside the window": (_set_power("A", 7, 1.0), "outside its window"),
    "transformer overloaded": (_set_power("B", 6, 11.0), "transformer T2: slot 6"),
    "feeder overloaded": (_set_power("B", 2, 9.0), "feeder F1: slot 2"),
    "over-delivery": (_set_power("B", 7, 11.0), "more than"),
    "declared energy wrong": (_replace_session("A", delivered_wh=4_000), "declares 4000 Wh delivered"),
    "declared unmet wrong": (_replace_session("A", unmet_wh=1), "unmet"),
    "session missing": (_drop_session, "missing"),
    "unknown session": (_extra_session, "not in the problem"),
    "other horizon": (_other_horizon, "horizon"),
    "transformer load not matching": (_wrong_load, "load is not what"),
}


def test_valid_plans_have_no_violations() -> None:
    assert violations(PROBLEM, VALID) == []
    assert violations(PROBLEM, assign_slots(PROBLEM)) == []


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_broken_rule_is_reported(name: str) -> None:
    mutate, expected = MUTATIONS[name]
    found = violations(PROBLEM, mutate(VALID))
    assert any(expected in line for line in found), found


def test_base_load_above_capacity_leaves_no_room() -> None:
    overloaded = replace(PROBLEM.transformers[0], base_load_kw=(25.0,) * SLOTS)
    hot = replace(PROBLEM, transformers=(overloaded, PROBLEM.transformers[1]))
    powers = {"A": [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]}
    assert any("transformer T1: slot 1" in line for line in violations(hot, build_plan(hot, powers)))
    assert violations(hot, build_plan(hot, {})) == []  # the base load alone is not the plan's fault


def test_plan_cost_prices_energy_and_penalty() -> None:
    plan = build_plan(PROBLEM, {"A": [0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0]})
    cost = plan_cost(PROBLEM, plan)
    assert cost.energy_cost == pytest.approx(0.1 * 1.0)  # 1 kWh at 0.1
    assert cost.unmet_kwh == pytest.approx(4.0 + 3.0)
    assert cost.penalty_cost == pytest.approx(7.0)
    assert cost.total == pytest.approx(7.1)
