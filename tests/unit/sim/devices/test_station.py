"""The simulated charging station: grid limit (DESE.ChaPwrLim), contactor and persistence."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from evgrid.mappings.iec61850_refs import AddCause, ConnState
from evgrid.sim.devices.arrivals import Arrival
from evgrid.sim.devices.station import ConnectedEv, Station

NOW = datetime(2026, 1, 15, 22, 0, tzinfo=UTC)


def _ev(ev_id: str = "EV-1", energy_wh: int = 50000, ev_limit_w: float = 11000.0) -> Arrival:
    return Arrival(
        station=1,
        ev_id=ev_id,
        energy_wh=energy_wh,
        departure=NOW + timedelta(hours=10),
        max_power_w=11000.0,
        ev_limit_w=ev_limit_w,
    )


def _charging(limit_w: float | None = None) -> Station:
    station = Station(1, limit_w=limit_w)
    station.plug_in(_ev())
    assert station.switch(True)
    return station


def test_the_limit_starts_at_the_rating() -> None:
    assert Station(1, rated_w=7400.0).limit_w == 7400.0


@pytest.mark.parametrize(
    ("limit_w", "power_w"),
    [(3700.0, 3700.0), (11000.0, 11000.0), (0.0, 0.0), (1.5, 1.5)],
)
def test_power_follows_the_limit(limit_w: float, power_w: float) -> None:
    station = _charging()
    assert station.check_limit(limit_w) is None
    assert station.set_limit(limit_w)
    assert (station.limit_w, station.power_w, station.target_w) == (limit_w, power_w, power_w)


def test_the_lowest_of_rating_limit_and_ev_wins() -> None:
    station = Station(1)
    station.plug_in(_ev(ev_limit_w=3000.0))
    station.set_limit(7400.0)
    station.switch(True)
    assert station.power_w == 3000.0
    station.set_limit(2000.0)
    assert station.power_w == 2000.0


@pytest.mark.parametrize("watts", [-0.1, 11000.5, 1e9, math.nan, math.inf, -math.inf, None, True])
def test_a_bad_limit_is_refused_and_changes_nothing(watts: float | None) -> None:
    station = _charging(limit_w=3700.0)
    assert station.check_limit(watts) is AddCause.INCONSISTENT_PARAMETERS
    assert not station.set_limit(watts)  # type: ignore[arg-type]
    assert (station.limit_w, station.power_w, station.closed) == (3700.0, 3700.0, True)


def test_zero_pauses_with_the_contactor_closed() -> None:
    station = _charging()
    station.set_limit(0.0)
    assert station.closed and station.power_w == 0.0
    assert station.conn_state is ConnState.C  # the EV still requests energy: not "complete"
    events = station.advance(3600.0, NOW)
    assert events == [] and station.ev is not None and station.ev.delivered_wh == 0.0
    assert station.closed

    station.set_limit(5000.0)
    station.advance(360.0, NOW)
    assert station.ev.delivered_wh == pytest.approx(500.0)


def test_closing_is_allowed_at_zero() -> None:
    station = Station(1, limit_w=0.0)
    station.plug_in(_ev())
    assert station.check_switch(True) is None
    assert station.switch(True) and station.power_w == 0.0


def test_a_new_ev_keeps_the_limit() -> None:
    station = _charging(limit_w=3700.0)
    station.unplug()
    station.plug_in(_ev("EV-2"))
    station.switch(True)
    assert (station.limit_w, station.power_w) == (3700.0, 3700.0)
    station.power_cycle()
    assert station.limit_w == 3700.0


def test_conn_state_is_unchanged_without_a_limit() -> None:
    station = Station(1)
    assert station.conn_state is ConnState.A
    station.plug_in(_ev(energy_wh=1000))
    assert station.conn_state is ConnState.B
    station.switch(True)
    assert station.conn_state is ConnState.C
    station.advance(3600.0, NOW)  # full: the EV stops requesting energy, the contactor opens
    assert (station.conn_state, station.closed) == (ConnState.B, False)


def test_the_limit_is_persisted_and_restored() -> None:
    station = _charging(limit_w=4200.0)
    state = json.loads(json.dumps(station.to_state()))
    assert state["limit_w"] == 4200.0
    restarted = Station(1)
    restarted.restore(state, ConnectedEv(_ev()))
    assert (restarted.limit_w, restarted.closed) == (4200.0, False)


@pytest.mark.parametrize("saved", [{}, {"limit_w": None}, {"limit_w": "3700"}, {"limit_w": 20000.0}])
def test_a_missing_or_impossible_saved_limit_keeps_the_configured_one(saved: dict[str, object]) -> None:
    station = Station(1, rated_w=11000.0, limit_w=7000.0)
    station.restore({"delivered_wh": 10.0, **saved}, None)
    assert station.limit_w == 7000.0


def test_an_ev_with_less_room_than_it_asked_for_is_full_early_and_opens_the_contactor() -> None:
    from datetime import UTC, datetime, timedelta

    from evgrid.sim.devices.arrivals import Arrival
    from evgrid.sim.devices.station import Station

    now = datetime(2026, 1, 15, 20, tzinfo=UTC)
    station = Station(1, rated_w=10_000)
    station.plug_in(Arrival(1, "EV-1", 10_000, now + timedelta(hours=8), 10_000, 10_000, room_wh=6_000))
    station.switch(True)
    station.advance(1800, now)  # 5 kWh
    assert station.closed and not station.ev.full
    station.advance(1800, now)  # would be 10 kWh: full at 6 kWh
    assert station.ev.full and not station.closed
    assert station.ev.delivered_wh == 6_000
