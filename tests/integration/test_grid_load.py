"""Live transformer readings on the real operation system: the plan never keeps an overload.

A transformer's own meter (``evgrid baseload meters``) reports its whole load in a
MeterReadings; its base load (the load less the EVs the plan has there) is carried to
the current and next slots and kept. A session charging on a transformer now over its
limit gets a lower power from the next slot boundary (a new TimeSlotAllotment to the
portal); one not started yet is placed again. SQLite and PostgreSQL, one process and two
scale-out workers (the reading at one, the next placement at the other).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from evgrid.adapters.store import models as m
from evgrid.adapters.store.baseload import import_transformer_meters
from evgrid.adapters.store.database import make_engine, session_factory
from evgrid.apps.evos.system import OperationSystem
from evgrid.cim.generated import meter_readings as mr
from evgrid.errors import ImportRejected
from evgrid.mappings import codes
from evgrid.mappings.ev_charging import xml_time
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import (
    NIGHT,
    Clock,
    event_message,
    register,
    request_message,
    result,
)
from tests.security.test_registry_live import clock, workers  # noqa: F401 (they use the seeded store below)
from tests.unit.adapters.store.conftest import engine, examples, sessions, store_url  # noqa: F401

TRANSFORMER_KW = 37.5  # T-01 in examples/registry.csv: every premise of it


@pytest.fixture
def seeded(store_url: str, examples: Path, tmp_path: Path) -> str:  # noqa: F811
    seed_store(store_url, examples)
    meters = tmp_path / "meters.csv"
    meters.write_text("transformer_id,meter_number\nT-01,TM-01\n", encoding="utf-8")
    eng = make_engine(store_url)
    try:
        with session_factory(eng).begin() as db:
            assert import_transformer_meters(db, meters) == 1
    finally:
        eng.dispose()
    return store_url


def load_reading(start: datetime, kw: float, message_id: str) -> bytes:
    """TM-01's register at ``start`` and 15 minutes later: ``kw`` on average in between."""
    wh = int(kw * 250)
    readings = [mr.Reading(time_stamp=xml_time(at), value=str(value),
                           reading_type=mr.Reading.ReadingType(ref=codes.REGISTER_WH))
                for at, value in ((start, 5_000_000), (start + timedelta(minutes=15), 5_000_000 + wh))]
    payload = mr.MeterReadings(meter_reading=[mr.MeterReading(meter=mr.Meter(m_rid="TM-01"), readings=readings)])
    return event_message("MeterReadings", payload, message_id)


def slots(system: OperationSystem, session_id: str) -> dict[datetime, float]:
    with system.sessions() as db:  # type: ignore[operator]
        return {start.replace(tzinfo=UTC): float(kw) for start, kw in db.execute(
            select(m.SlotAllocation.slot_start, m.SlotAllocation.power_kw)
            .where(m.SlotAllocation.session_id == session_id))}


def session_row(system: OperationSystem, session_id: str) -> m.ChargingSession:
    with system.sessions() as db:  # type: ignore[operator]
        return db.get_one(m.ChargingSession, session_id)


def test_a_session_charging_on_a_transformer_read_over_its_limit_gets_less_from_the_next_boundary(
        workers: tuple[OperationSystem, OperationSystem], clock: Clock) -> None:  # noqa: F811
    a, b = workers
    # 17:40: EV-1002's quick charge at P-1003 (on T-01) starts at once, at 7.2 kW.
    assert result(b.router.handle(request_message("EV-1002", "S-1003", "C-1003", "UP-1003", wh=8_000)))[0] == "OK"
    session_id = "S-R-EV-1002"
    start = NIGHT + timedelta(minutes=41)
    clock.moment = start
    assert result(b.router.handle(event_message("MeterReadings", register("M-1003", start, 100_000), "r1")))[0] == "OK"
    assert session_row(a, session_id).state == "charging"

    # 17:46: T-01 carried 40 kW from 17:30 to 17:45, 7.2 of them this EV: 32.8 kW base
    # load, so from 17:45 only 4.7 kW are left for EVs (37.5 kW transformer).
    clock.moment = NIGHT + timedelta(minutes=46)
    assert result(a.router.handle(load_reading(NIGHT + timedelta(minutes=30), 40.0, "load-1"))) == ("OK", None)
    power = slots(b, session_id)
    boundary = NIGHT + timedelta(hours=1)  # 18:00: the power changes there, not before
    assert power[NIGHT + timedelta(minutes=45)] == pytest.approx(7.2)
    for k in range(3):  # 18:00 to 18:45: within the room the reading left
        assert power[boundary + timedelta(minutes=15 * k)] <= 4.7 + 0.001
    assert session_row(a, session_id).planned_wh == 8_000  # later, not less
    with a.sessions() as db:  # type: ignore[operator]
        moved = db.scalars(select(m.SessionTransition).where(m.SessionTransition.session_id == session_id,
                                                             m.SessionTransition.message_id == "load-1")).all()
        sent = db.scalars(select(m.OutboxMessage.message_id).where(m.OutboxMessage.noun == "TimeSlotAllotment")).all()
        base = {row.slot_start.replace(tzinfo=UTC): float(row.kw) for row in db.scalars(
            select(m.BaseLoadForecast).where(m.BaseLoadForecast.transformer_id == "T-01"))}
    assert [(t.from_state, t.to_state) for t in moved] == [("charging", "charging")]
    assert sorted(sent) == [f"TimeSlotAllotment:{session_id}", f"TimeSlotAllotment:{session_id}:load-1"]
    assert base == {NIGHT + timedelta(minutes=45 + 15 * k): pytest.approx(32.8) for k in range(4)}


def test_a_session_not_started_is_placed_again_around_the_load_read(
        workers: tuple[OperationSystem, OperationSystem], clock: Clock) -> None:  # noqa: F811
    a, b = workers
    assert result(a.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
    first = session_row(a, "S-R-EV-1001").planned_start.replace(tzinfo=UTC)
    assert first >= NIGHT + timedelta(hours=5)  # the EV night: from 22:00 UTC
    # Just before: the transformer carries 37 kW (no EV yet): 0.5 kW left from now on.
    clock.moment = first - timedelta(minutes=14)
    read_from = first - timedelta(minutes=30)
    assert result(b.router.handle(load_reading(read_from, 37.0, "load-2"))) == ("OK", None)
    row = session_row(a, "S-R-EV-1001")
    assert row.state == "scheduled" and row.planned_wh == 20_000
    moved_to = row.planned_start.replace(tzinfo=UTC)
    assert moved_to >= first + timedelta(minutes=45)  # past the four slots read as full
    # The other worker plans the next request with that load too (the plan log carries it).
    assert result(a.router.handle(request_message("EV-1003", "S-1002", "C-1002", "UP-1002")))[0] == "OK"
    power = slots(a, "S-R-EV-1003")  # P-1002: on T-01 too
    assert all(power.get(first + timedelta(minutes=15 * k), 0.0) <= 0.5 + 0.001 for k in range(-1, 3))


def test_a_transformer_meter_is_named_once_and_never_a_premise_meter(seeded: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("transformer_id,meter_number\nT-01,M-1001\nT-99,TM-9\n", encoding="utf-8")
    eng = make_engine(seeded)
    try:
        with session_factory(eng).begin() as db, pytest.raises(ImportRejected) as caught:
            import_transformer_meters(db, bad)
    finally:
        eng.dispose()
    assert list(caught.value.problems) == ["line 2: meter M-1001 is a premise's meter",
                                     "line 3: transformer 'T-99' is not in the registry"]


def test_a_message_mixing_transformer_and_premise_meters_is_refused(
        workers: tuple[OperationSystem, OperationSystem], clock: Clock) -> None:  # noqa: F811
    a, _ = workers
    at = NIGHT + timedelta(minutes=30)
    readings = [mr.MeterReading(meter=mr.Meter(m_rid=meter), readings=[mr.Reading(
        time_stamp=xml_time(at), value="1000", reading_type=mr.Reading.ReadingType(ref=codes.REGISTER_WH))])
        for meter in ("TM-01", "M-1001")]
    reply = a.router.handle(event_message("MeterReadings", mr.MeterReadings(meter_reading=readings), "mixed"))
    assert result(reply) == ("FAILED", "2.6") and b"send them apart" in reply
