"""The scheduler's inputs and Plan: windows, partial slots, validation, build_plan."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from evgrid.scheduler.model import (
    Feeder,
    Horizon,
    Problem,
    SessionRequest,
    Transformer,
    lateness_per_kwh,
)
from evgrid.scheduler.plan import build_plan
from evgrid.scheduler.synthetic import random_problem, western_night

START = datetime(2026, 1, 15, 18, tzinfo=UTC)
HORIZON = Horizon(START, 8)


def at(slot: float) -> datetime:
    return START + timedelta(minutes=15 * slot)


@pytest.mark.parametrize(
    ("arrive", "leave", "first", "fractions"),
    [
        (0, 8, 0, (1.0,) * 8),  # the whole night
        (2, 5, 2, (1.0, 1.0, 1.0)),  # on slot boundaries
        (2.5, 5, 2, (0.5, 1.0, 1.0)),  # arrives halfway through slot 2
        (2, 4.25, 2, (1.0, 1.0, 0.25)),  # leaves a quarter into slot 4
        (2.5, 2.75, 2, (0.25,)),  # inside one slot
        (-3, 2, 0, (1.0, 1.0)),  # plugged in before the night starts
        (6, 12, 6, (1.0, 1.0)),  # leaves after it ends
        (9, 12, 0, ()),  # after the night
        (3, 3, 0, ()),  # empty window
        (4, 2, 0, ()),  # departure before arrival
    ],
)
def test_window_fractions(arrive: float, leave: float, first: int, fractions: tuple[float, ...]) -> None:
    got_first, got = HORIZON.window(at(arrive), at(leave))
    assert got == pytest.approx(fractions)
    assert (got_first if got else 0) == first


def test_horizon_times() -> None:
    assert HORIZON.slot_hours == 0.25
    assert HORIZON.slot_start_utc(3) == at(3)
    assert HORIZON.end_utc == at(8)


def test_lateness_grows_and_stays_below_half() -> None:
    weights = lateness_per_kwh(96)
    assert all(a < b for a, b in itertools.pairwise(weights))
    assert weights[0] > 0 and weights[-1] < 0.5


@pytest.mark.parametrize(
    "moment",
    [datetime(2026, 1, 15, 18), datetime(2026, 1, 15, 19, tzinfo=timezone(timedelta(hours=1)))],
    ids=["naive", "not UTC"],
)
def test_times_must_be_aware_utc(moment: datetime) -> None:
    with pytest.raises(ValueError, match="UTC"):
        Horizon(moment, 8)
    with pytest.raises(ValueError, match="UTC"):
        SessionRequest("S", moment, at(4), 1_000, 7.0, "T1")


def test_session_rejects_negative_energy_or_power() -> None:
    with pytest.raises(ValueError):
        SessionRequest("S", at(0), at(4), -1, 7.0, "T1")
    with pytest.raises(ValueError):
        SessionRequest("S", at(0), at(4), 1_000, float("nan"), "T1")


def _problem(**changes: Any) -> Problem:
    base = Problem(
        HORIZON,
        (SessionRequest("S", at(0), at(4), 1_000, 7.0, "T1"),),
        (Transformer("T1", 50.0, (10.0,) * 8, "F1"),),
        (0.1,) * 8,
        1.0,
        (Feeder("F1", 80.0),),
    )
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prices_per_kwh": (0.1,) * 7}, "prices"),
        ({"transformers": (Transformer("T1", 50.0, (10.0,) * 7),)}, "base load"),
        ({"transformers": (Transformer("T1", 50.0, (10.0,) * 8, "F9"),)}, "unknown feeder"),
        ({"sessions": (SessionRequest("S", at(0), at(4), 1_000, 7.0, "T9"),)}, "unknown transformer"),
        ({"sessions": (SessionRequest("S", at(0), at(4), 1, 7.0, "T1"),) * 2}, "duplicate session"),
        ({"feeders": (Feeder("F1"), Feeder("F1"))}, "duplicate feeder"),
    ],
)
def test_problem_rejects_inconsistent_input(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _problem(**changes)


def test_with_session_adds_and_still_checks() -> None:
    problem = _problem()
    extra = SessionRequest("S2", at(1), at(3), 500, 3.7, "T1")
    assert problem.with_session(extra).sessions[-1] == extra
    with pytest.raises(ValueError, match="duplicate"):
        problem.with_session(replace(extra, session_id="S"))
    with pytest.raises(ValueError, match="unknown transformer"):
        problem.with_session(replace(extra, transformer_id="T9"))
    grown = problem.with_session(extra, checked=True)  # a plan checked it: nothing checked again
    assert grown.sessions == (*problem.sessions, extra) and grown.transformers is problem.transformers


def test_build_plan_cleans_solver_noise() -> None:
    problem = _problem(sessions=(SessionRequest("S", at(1.5), at(5), 5_000, 7.0, "T1"),))
    noisy = [3.0, 1e-12, 7.0000001, 7.0, 7.0, -1e-12, 0.0, 0.0]  # slot 0 is outside the window
    plan = build_plan(problem, {"S": noisy})
    session = plan.session("S")
    assert session.power_kw == (0.0, 0.0, 7.0, 7.0, 7.0, 0.0, 0.0, 0.0)
    assert (session.delivered_wh, session.unmet_wh) == (5_000, 0)  # 5.25 kWh capped at 5
    assert plan.transformers[0].ev_load_kw[2] == 7.0
    assert plan.transformers[0].load_kw[2] == 17.0


def test_build_plan_partial_slot_energy_and_start_end() -> None:
    problem = _problem(sessions=(SessionRequest("S", at(1.5), at(5), 9_000, 7.0, "T1"),))
    plan = build_plan(problem, {"S": [0.0, 4.0, 7.0, 0.0, 7.0, 0.0, 0.0, 0.0]})
    session = plan.session("S")
    assert session.delivered_wh == 500 + 1_750 + 1_750  # half of slot 1 at 4 kW counts
    assert session.unmet_wh == 5_000
    assert (session.start_slot, session.end_slot) == (1, 5)
    assert plan.start_utc("S") == at(1)


def test_build_plan_without_power() -> None:
    plan = build_plan(_problem(), {})
    assert plan.session("S").start_slot is None and plan.session("S").end_slot is None
    assert plan.start_utc("S") is None
    assert plan.session("S").unmet_wh == 1_000
    with pytest.raises(KeyError):
        plan.session("nobody")


def test_synthetic_nights_are_reproducible() -> None:
    assert random_problem(5, sessions=30, transformers=4) == random_problem(5, sessions=30, transformers=4)
    assert random_problem(5, sessions=30, transformers=4) != random_problem(6, sessions=30, transformers=4)


def test_congested_western_night_has_small_feeders_rated_below_their_transformers() -> None:
    problem = western_night(1_500, 3, congested=True)
    assert problem == western_night(1_500, 3, congested=True)
    assert float(problem.penalty_per_kwh) > max(float(price) for price in problem.prices_per_kwh)
    for index, feeder in enumerate(problem.feeders):
        members = [t for t in problem.transformers if t.feeder_id == feeder.feeder_id]
        if index < len(problem.feeders) - 1:  # the last one holds what is left
            assert 30 <= len(members) <= 50
        assert feeder.capacity_kw is not None
        assert 0.5 - 1e-3 <= feeder.capacity_kw / sum(t.capacity_kw for t in members) <= 0.7 + 1e-3


def test_western_night_is_unchanged_without_congestion() -> None:
    problem = western_night(600, 3)
    assert len(problem.feeders) == 1 and problem.penalty_per_kwh == 0.60
