"""2.3.1 / 2.3.3: the operation system checks a meter's registers and 15-minute intervals, keeps them, forwards them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evgrid.errors import InvalidParameter, UnknownReference
from evgrid.operations import events, handlers
from evgrid.operations.model import IntervalBlock, MeterReadingSet, RegisterReading
from evgrid.operations.session import SessionState
from tests.unit.operations.fakes import NOW, FakeUnitOfWork
from tests.unit.operations.test_handlers import request, run

REGISTER = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.0.72.0"
INTERVAL = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0"
START = NOW + timedelta(minutes=7)  # 18:07
B1, B2 = NOW + timedelta(minutes=15), NOW + timedelta(minutes=30)


def readings(registers: list[tuple[object, int]], intervals: list[tuple[object, int]] = (), *,  # type: ignore[assignment]
             meter: str = "MTR-A", usage_point: str | None = "UP-A") -> MeterReadingSet:
    return MeterReadingSet(
        tuple(RegisterReading(meter, usage_point, REGISTER, at, wh) for at, wh in registers),  # type: ignore[arg-type]
        (IntervalBlock(meter, usage_point, INTERVAL, tuple(intervals)),) if intervals else ())  # type: ignore[arg-type]


@pytest.fixture
def charging() -> tuple[FakeUnitOfWork, str]:
    uow = FakeUnitOfWork()
    session_id = run(uow, handlers.request_charging, request()).session.session_id
    run(uow, handlers.record_readings, readings([(START, 1_000)]), "MeterReadings:start", now=START)
    return uow, session_id


def test_the_start_register_starts_the_session_and_goes_on_to_mdm(charging: tuple[FakeUnitOfWork, str]) -> None:
    uow, session_id = charging
    session = uow.committed.sessions[session_id]
    assert session.state is SessionState.CHARGING and session.start_register_wh == 1_000
    forwarded = [e for e in uow.committed.outbox if isinstance(e, events.ReadingsForMdm)]
    assert [e.message_id for e in forwarded] == ["MeterReadings:start"]


def test_a_span_with_its_interval_is_kept_for_the_session(charging: tuple[FakeUnitOfWork, str]) -> None:
    uow, session_id = charging
    run(uow, handlers.record_readings, readings([(START, 1_000), (B1, 1_900)], [(B1, 900)]), "span-1", now=B1)
    run(uow, handlers.record_readings, readings([(B1, 1_900), (B2, 3_700)], [(B2, 1_800)]), "span-2", now=B2)
    assert uow.committed.intervals == [("MTR-A", B1, 900, session_id), ("MTR-A", B2, 1_800, session_id)]
    assert [e.message_id for e in uow.committed.outbox if isinstance(e, events.ReadingsForMdm)] == [
        "MeterReadings:start", "span-1", "span-2"]


def test_a_gap_span_is_kept_without_intervals(charging: tuple[FakeUnitOfWork, str]) -> None:
    uow, _ = charging
    run(uow, handlers.record_readings, readings([(START, 1_000), (B2, 3_700)]), "gap", now=B2)
    assert uow.committed.intervals == []
    assert ("MTR-A", B2, 3_700) in [r[:3] for r in uow.committed.registers]


@pytest.mark.parametrize(("bad", "reason"), [
    (readings([(START, 1_000), (B1, 900)], [(B1, -100)]), "goes backwards"),
    (readings([(START, 1_000), (B1, 1_900)], [(B1, 800)]), "sum to 800 Wh, the registers to 900 Wh"),
    (readings([(START, 1_000), (B2, 3_700)], [(B1, 900), (B1, 2_800)]), "given twice"),
    (readings([(START, 1_000), (B2, 3_700)], [(B1, 900)]), "lacks interval"),
    (readings([(START, 1_000), (B1, 1_900)], [(B1, 900), (B2, 0)]), "lies between no two register reads"),
    (readings([(START - timedelta(hours=1), 500), (START, 1_000)], [(START - timedelta(minutes=50), 500)]),
     "does not end on a 15-minute boundary"),
    (readings([(START - timedelta(hours=1), 500), (START, 1_000)]), "before session"),
    (readings([(B1, 1_900), (B1 + timedelta(hours=2), 2_000)]), "in the future"),
], ids=["backwards", "sum", "duplicate", "partial", "outside", "off-boundary", "before-start", "future"])
def test_bad_readings_are_refused_and_nothing_is_kept(charging: tuple[FakeUnitOfWork, str], bad: MeterReadingSet,
                                                      reason: str) -> None:
    uow, _ = charging
    before = (list(uow.committed.registers), list(uow.committed.intervals), list(uow.committed.outbox))
    with pytest.raises(InvalidParameter, match=reason):
        run(uow, handlers.record_readings, bad, "bad", now=B1)
    assert (uow.committed.registers, uow.committed.intervals, uow.committed.outbox) == before


def test_a_register_below_the_last_one_kept_is_refused(charging: tuple[FakeUnitOfWork, str]) -> None:
    uow, _ = charging
    with pytest.raises(InvalidParameter, match="from 1000 Wh .* to 999 Wh"):
        run(uow, handlers.record_readings, readings([(B1, 999)]), "back", now=B1)


@pytest.mark.parametrize(("meter", "usage_point", "reason"), [
    ("MTR-X", "UP-A", "unknown meter MTR-X"),
    ("MTR-A", "UP-X", "MTR-A is not at usage point UP-X"),
    ("MTR-X", None, "unknown meter MTR-X"),
])
def test_an_unknown_meter_or_usage_point_is_refused(charging: tuple[FakeUnitOfWork, str], meter: str,
                                                    usage_point: str | None, reason: str) -> None:
    uow, _ = charging
    with pytest.raises(UnknownReference, match=reason):
        run(uow, handlers.record_readings, readings([(B1, 1_900)], meter=meter, usage_point=usage_point), "x", now=B1)
