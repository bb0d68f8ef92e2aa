"""A registry change reaches a window's planner: its grid read afresh, sessions kept."""

from __future__ import annotations

from dataclasses import replace

import pytest

from evgrid.errors import UnknownReference
from evgrid.scheduler.model import Feeder, Horizon, Problem, Transformer
from evgrid.scheduler.planner import WindowPlanner
from tests.unit.scheduler.test_planner import PRICES, SLOTS, START, planner, session


def grid(*transformers: tuple[str, float]) -> Problem:
    """An empty night with these (transformer, capacity) on feeder F-1, base load 20 kW."""
    return Problem(Horizon(START, SLOTS), (),
                   tuple(Transformer(t, kw, tuple([20.0] * SLOTS), "F-1") for t, kw in transformers),
                   PRICES, 1.0, (Feeder("F-1", 1_000.0),))


def on(transformer_id: str, session_id: str) -> object:
    return replace(session(session_id), transformer_id=transformer_id)


def test_an_unknown_transformer_is_a_clear_refusal_not_an_internal_error() -> None:
    night = planner()
    with pytest.raises(UnknownReference, match="transformer TX-9 of premise P is not in the plan's grid") as caught:
        night.place(on("TX-9", "S-1"))
    assert caught.value.mrid == "TX-9"
    night.commit()
    assert len(night.plan) == 0


def test_refresh_keeps_every_session_and_its_slots_and_takes_new_limits() -> None:
    night = WindowPlanner(grid(("TX-1", 40.0)))
    night.place(on("TX-1", "S-1"))
    night.commit()
    before = night.plan.session("S-1").power_kw
    night.refresh(grid(("TX-1", 22.0), ("TX-2", 30.0)))
    assert night.plan.session("S-1").power_kw == before  # what the portal was told stays
    assert {t.transformer_id: t.capacity_kw for t in night.problem.transformers} == {"TX-1": 22.0, "TX-2": 30.0}
    allotment = night.place(on("TX-1", "S-2"))  # the new limit: 2 kW above the base load, less S-1's
    assert any(night.placed("S-2")[1])
    for kept, new in zip(before, night.placed("S-2")[1], strict=True):
        assert new <= max(0.0, 2.0 - kept) + 1e-9
    assert allotment.session_id == "S-2"
    night.place(on("TX-2", "S-3"))  # the new transformer
    night.commit()
    assert {p.session_id for p in night.plan.sessions} == {"S-1", "S-2", "S-3"}


def test_refresh_keeps_a_transformer_gone_from_the_registry_while_its_sessions_last() -> None:
    night = WindowPlanner(grid(("TX-1", 40.0), ("TX-2", 40.0)))
    night.place(on("TX-2", "S-1"))
    night.commit()
    night.refresh(grid(("TX-1", 40.0)))
    assert {t.transformer_id for t in night.problem.transformers} == {"TX-1", "TX-2"}
    night.release("S-1")
    night.commit()
    night.refresh(grid(("TX-1", 40.0)))
    assert {t.transformer_id for t in night.problem.transformers} == {"TX-1"}


def test_refresh_carries_staged_changes_too() -> None:
    night = WindowPlanner(grid(("TX-1", 40.0)))
    night.place(on("TX-1", "S-1"))  # staged, not committed
    night.refresh(grid(("TX-1", 40.0), ("TX-2", 30.0)))
    night.commit()
    assert [p.session_id for p in night.plan.sessions] == ["S-1"]
    assert night.knows("TX-2")
