"""Property tests (hypothesis): every plan keeps every limit, window and power bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evgrid.scheduler.assign import assign_slots, place_session, reoptimise
from evgrid.scheduler.check import violations
from evgrid.scheduler.model import Feeder, Horizon, Problem, SessionRequest, Transformer
from evgrid.scheduler.plan import Plan
from evgrid.scheduler.tables import Grid, SessionTable

START = datetime(2026, 1, 15, 18, tzinfo=UTC)
TOLERANCE_KW = 1e-3
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    """Small nights: partial slots, base loads above ratings, feeders that bind, ties."""
    slots = draw(st.integers(4, 16))
    minutes = slots * 15
    transformer_count = draw(st.integers(1, 3))
    limited = draw(st.booleans())
    transformers = tuple(
        Transformer(
            f"T{k}",
            draw(st.floats(5.0, 40.0)),
            tuple(draw(st.lists(st.floats(0.0, 45.0), min_size=slots, max_size=slots))),
            "F" if draw(st.booleans()) else None,
        )
        for k in range(transformer_count)
    )
    feeders = (Feeder("F", draw(st.floats(5.0, 80.0)) if limited else None),)
    sessions = []
    for index in range(draw(st.integers(0, 8))):
        arrival = draw(st.integers(-30, minutes))
        stay = draw(st.integers(0, minutes))
        sessions.append(
            SessionRequest(
                f"S{index}",
                START + timedelta(minutes=arrival),
                START + timedelta(minutes=arrival + stay),
                draw(st.integers(0, 30_000)),
                draw(st.sampled_from((0.0, 3.7, 7.2, 11.0, 22.0))),
                f"T{draw(st.integers(0, transformer_count - 1))}",
                draw(st.booleans()),
            )
        )
    prices = tuple(draw(st.lists(st.sampled_from((0.05, 0.1, 0.2, 0.4, 0.9)), min_size=slots, max_size=slots)))
    return Problem(Horizon(START, slots), tuple(sessions), transformers, prices, draw(st.sampled_from((0.3, 0.6, 1.0))), feeders)


def _assert_valid(problem: Problem, plan: Plan) -> None:
    assert violations(problem, plan) == []
    grid = Grid.of(problem)
    table = SessionTable.of(problem.horizon, problem.sessions, grid)
    power = plan.power_kw
    assert np.all(power[table.frac <= 0.0] == 0.0)  # nothing outside a window
    assert np.all(power >= 0.0) and np.all(power <= table.max_kw[:, None] + 1e-9)


@SETTINGS
@given(problems())
def test_every_plan_respects_every_limit_window_and_power_bound(problem: Problem) -> None:
    for plan in (assign_slots(problem), assign_slots(problem, rounds=0), reoptimise(problem)):
        _assert_valid(problem, plan)


@SETTINGS
@given(problems())
def test_third_party_charges_as_soon_as_possible(problem: Problem) -> None:
    """Before its last slot with power, a third-party session runs at its maximum unless
    third-party sessions and the base load leave no room there (home ones come after)."""
    plan = assign_slots(problem)
    grid = Grid.of(problem)
    table = SessionTable.of(problem.horizon, problem.sessions, grid)
    power = plan.power_kw
    third = table.third_party
    ev = np.zeros_like(grid.base_kw)
    np.add.at(ev, table.transformer[third], power[third])
    room = grid.room_kw - ev
    feeder_ev = np.zeros_like(grid.feeder_base_kw)
    on = grid.feeder_of >= 0
    np.add.at(feeder_ev, grid.feeder_of[on], ev[on])
    feeder_room = grid.feeder_room_kw - feeder_ev
    for row in np.flatnonzero(third):
        powered = np.flatnonzero(power[row] > 0.0)
        if not len(powered):
            continue
        k, feeder = table.transformer[row], grid.feeder_of[table.transformer[row]]
        for slot in range(int(powered[-1])):
            if table.frac[row, slot] <= 0.0 or power[row, slot] >= table.max_kw[row] - TOLERANCE_KW:
                continue
            no_room = room[k, slot] <= TOLERANCE_KW or (feeder >= 0 and feeder_room[feeder, slot] <= TOLERANCE_KW)
            assert no_room, (table.ids[row], slot)


@SETTINGS
@given(problems(), st.data())
def test_online_placement_leaves_the_others_untouched(problem: Problem, data: st.DataObject) -> None:
    planned = data.draw(st.integers(0, len(problem.sessions)))
    current = Problem(
        problem.horizon, problem.sessions[:planned], problem.transformers, problem.prices_per_kwh,
        problem.penalty_per_kwh, problem.feeders,
    )  # fmt: skip
    plan = assign_slots(current)
    before = plan.power_kw.copy()
    for request in problem.sessions[planned:]:
        plan, current = place_session(plan, current, request), current.with_session(request)
        _assert_valid(current, plan)
    assert np.array_equal(plan.power_kw[:planned], before)


def test_a_discarded_placement_leaves_the_plan_it_came_from_as_it_was() -> None:
    """Snapshots share rows: placing on an older snapshot must not disturb the newer one."""
    problem = Problem(
        Horizon(START, 8), (), (Transformer("T0", 20.0, (0.0,) * 8),), (0.1,) * 8, 1.0
    )
    empty = assign_slots(problem)
    first = SessionRequest("A", START, START + timedelta(hours=2), 7_000, 7.0, "T0")
    second = SessionRequest("B", START, START + timedelta(hours=2), 3_500, 7.0, "T0")
    with_a = place_session(empty, problem, first)
    with_b = place_session(empty, problem, second)  # branches off the empty plan
    assert with_a.session_ids == ("A",) and with_b.session_ids == ("B",)
    assert empty.session_ids == () and "A" not in with_b
    assert with_a.session("A").delivered_wh == 7_000 and with_b.session("B").delivered_wh == 3_500
    with pytest.raises(KeyError):
        with_b.session("A")
