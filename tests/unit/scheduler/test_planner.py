"""The Planner port over the scheduler: online placement, staging, release."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evgrid.operations.model import ChargingKind
from evgrid.operations.session import Session, SessionState
from evgrid.scheduler.check import violations
from evgrid.scheduler.model import Horizon, Problem, Transformer
from evgrid.scheduler.planner import WindowPlanner

START = datetime(2026, 11, 26, 18, tzinfo=UTC)
SLOTS = 56  # 18:00 to 08:00
# Evening peak price until 23:00 (slot 20), then the cheap night.
PRICES = tuple(0.28 if slot < 20 else 0.09 for slot in range(SLOTS))


def planner(capacity_kw: float = 40.0) -> WindowPlanner:
    transformer = Transformer("TX-1", capacity_kw, tuple([20.0] * SLOTS))
    return WindowPlanner(Problem(Horizon(START, SLOTS), (), (transformer,), PRICES, 1.0))


def session(session_id: str, kind: ChargingKind = ChargingKind.HOME, wh: int = 14_400) -> Session:
    return Session(
        session_id=session_id, request_mrid=session_id, ev_id=f"EV-{session_id}", station_id="EVSE",
        premise_number="P", meter_number="M", transformer_id="TX-1", owner_account_id="A",
        host_account_id="A", kind=kind, state=SessionState.CONFIRMED, requested_wh=wh,
        max_power_kw=Decimal("7.2"), plugged_in_utc=START + timedelta(minutes=10),
        departure_utc=START + timedelta(hours=13), reachable_wh=wh,
    )


def test_uc_2_2_home_session_is_placed_in_the_cheap_night() -> None:
    night = planner()
    allotment = night.place(session("S-1"))
    night.commit()
    assert allotment.start_utc is not None and allotment.start_utc >= START + timedelta(hours=5)
    assert allotment.planned_wh == 14_400
    assert violations(night.problem, night.plan) == []


def test_uc_3_2_third_party_starts_at_arrival() -> None:
    night = planner()
    allotment = night.place(session("S-2", ChargingKind.THIRD_PARTY))
    assert allotment.start_utc == START  # the slot it arrived in
    assert allotment.slots[0][1] == Decimal("7.200")


def test_a_late_request_gets_no_slot_in_the_past() -> None:
    night = planner()
    now = START + timedelta(hours=2, minutes=5)  # the request comes long after the plug-in
    allotment = night.place(session("S-2", ChargingKind.THIRD_PARTY), now)
    assert allotment.start_utc == START + timedelta(hours=2)  # the slot now is in, not the arrival's
    assert all(begin >= START + timedelta(hours=2) for begin, _ in allotment.slots)


def test_transformer_limit_holds_as_sessions_arrive() -> None:
    night = planner(capacity_kw=35.0)  # 15 kW of headroom over a 20 kW base load
    for index in range(6):
        night.place(session(f"S-{index}", wh=40_000))
        night.commit()
    assert violations(night.problem, night.plan) == []
    peak = max(max(load.load_kw) for load in night.plan.transformers)
    assert peak <= 35.0 + 1e-9


def test_discard_forgets_a_placement() -> None:
    night = planner()
    night.place(session("S-1"))
    night.discard()
    assert night.plan.sessions == ()
    night.place(session("S-1"))  # the same id may be placed again
    night.commit()
    assert [p.session_id for p in night.plan.sessions] == ["S-1"]


def test_release_frees_the_slots() -> None:
    night = planner()
    night.place(session("S-1"))
    night.commit()
    night.release("S-1")
    night.commit()
    assert night.plan.sessions == () and night.problem.sessions == ()


def test_night_must_start_empty() -> None:
    full = planner().problem
    from evgrid.scheduler.model import SessionRequest

    request = SessionRequest("S", START, START + timedelta(hours=1), 1000, 7.2, "TX-1")
    with pytest.raises(ValueError):
        WindowPlanner(replace(full, sessions=(request,)))


def test_adopting_another_planners_placements_gives_the_same_plan() -> None:
    # Scale-out: worker A places, worker B adopts what A logged (request and power).
    a, b = planner(capacity_kw=35.0), planner(capacity_kw=35.0)
    for index in range(5):
        a.place(session(f"S-{index}", wh=30_000))
        a.commit()
        request, power = a.placed(f"S-{index}")
        b.adopt(request, power)
        b.commit()
    assert b.plan == a.plan
    # B's own next placement sees A's sessions: what A would have given it, within the limit.
    assert b.place(session("S-9", wh=30_000)) == a.place(session("S-9", wh=30_000))
    b.commit()
    assert violations(b.problem, b.plan) == []


def test_adopt_keeps_a_session_it_already_has_and_release_ignores_an_unknown_one() -> None:
    night = planner()
    night.place(session("S-1"))
    night.commit()
    before = night.plan
    night.adopt(*night.placed("S-1"))  # its own placement, read back from the log
    night.release("S-unknown")
    night.commit()
    assert night.plan is before


def test_adopt_gives_a_restored_session_the_exact_logged_power() -> None:
    a = planner(capacity_kw=35.0)
    for index in range(3):
        a.place(session(f"S-{index}", wh=30_000))
        a.commit()
    # B restores from the store, where power is kept to the watt, then reads A's log.
    b = planner(capacity_kw=35.0)
    b.restore([(request, [round(kw, 3) + 0.0004 for kw in power])
               for request, power in (a.placed(f"S-{index}") for index in range(3))])
    assert b.plan != a.plan
    for index in range(3):
        b.adopt(*a.placed(f"S-{index}"))
        b.commit()
    assert b.plan == a.plan


def test_adopted_placements_are_staged_like_placements() -> None:
    a, b = planner(), planner()
    a.place(session("S-1"))
    a.commit()
    b.adopt(*a.placed("S-1"))
    b.discard()  # the transaction that read the log rolled back: it reads it again later
    assert "S-1" not in b.plan
