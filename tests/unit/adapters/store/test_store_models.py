"""Models on both backends: aware UTC, exact money, optimistic locking, constraints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from evgrid.adapters.store.models import (
    ChargingSession,
    Customer,
    CustomerAccount,
    InboundMessage,
    MeterReading,
    OutboxMessage,
    SessionTransition,
    Tariff,
)
from evgrid.adapters.store.registry import import_registry
from tests.unit.adapters.store.conftest import import_example_tariffs

PLUGGED_IN = datetime(2025, 11, 26, 18, 5, tzinfo=UTC)


def _outbox(message_id: str, due: datetime) -> OutboxMessage:
    return OutboxMessage(message_id=message_id, destination="billing", verb="created",
                         noun="ChargingConsumption", body=b"<xml/>", next_attempt_at=due)


def _session_row(session_id: str = "CS-1") -> ChargingSession:
    return ChargingSession(
        session_id=session_id, request_mrid=f"REQ-{session_id}", ev_id="EV-1001", station_id="S-1001",
        premise_number="P-1001", owner_account_id="A-1001", host_account_id="A-1001", kind="home",
        state="requested", requested_wh=30_000, max_power_kw=Decimal("7.2"), plugged_in_at=PLUGGED_IN,
        departure_at=PLUGGED_IN + timedelta(hours=13),
    )


@pytest.fixture
def registered(sessions: sessionmaker[Session], examples: Path) -> sessionmaker[Session]:
    """The example registry, imported."""
    with sessions.begin() as db:
        import_example_tariffs(db, examples)
        import_registry(db, examples / "registry.csv")
    return sessions


def test_times_come_back_aware_utc_whatever_zone_went_in(engine: Engine, sessions: sessionmaker[Session]) -> None:
    local = datetime(2025, 11, 26, 23, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    with sessions.begin() as db:
        db.add(_outbox("M-1", local))
    with sessions() as db:
        if engine.dialect.name == "postgresql":
            db.connection().exec_driver_sql("SET TIME ZONE 'Asia/Tokyo'")  # the server's zone must not leak
        stored = db.scalars(select(OutboxMessage.next_attempt_at)).one()
        created = db.scalars(select(OutboxMessage.created_at)).one()
    assert stored == local
    assert stored.tzinfo is UTC and stored.hour == 22
    assert created.tzinfo is UTC


def test_naive_datetime_is_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        db.add(_outbox("M-1", datetime(2025, 11, 26, 23, 30)))  # naive: the point of the test
        with pytest.raises(StatementError, match="naive datetime"):
            db.flush()


def test_money_is_exact_decimal(sessions: sessionmaker[Session]) -> None:
    price = Decimal("12345678.123456")
    with sessions.begin() as db:
        db.add(Tariff(tariff_id="T", name="t", currency="EUR", timezone="UTC", third_party_price_per_kwh=price))
    with sessions() as db:
        stored = db.get_one(Tariff, "T").third_party_price_per_kwh
    assert isinstance(stored, Decimal) and stored == price


def test_second_writer_of_a_session_gets_stale_data_error(registered: sessionmaker[Session]) -> None:
    with registered.begin() as db:
        db.add(_session_row())
    first, second = registered(), registered()
    try:
        mine, theirs = first.get_one(ChargingSession, "CS-1"), second.get_one(ChargingSession, "CS-1")
        assert mine.version == theirs.version == 1
        mine.state = "classified"
        first.commit()
        theirs.state = "cancelled"
        with pytest.raises(StaleDataError):
            second.commit()
    finally:
        first.close()
        second.close()
    with registered() as db:
        row = db.get_one(ChargingSession, "CS-1")
        assert (row.state, row.version) == ("classified", 2)
        assert row.updated_at >= row.created_at


def test_every_transition_is_kept_in_order(registered: sessionmaker[Session]) -> None:
    with registered.begin() as db:
        db.add(_session_row())
        db.flush()
        for step, (before, after) in enumerate([(None, "requested"), ("requested", "classified")]):
            db.add(SessionTransition(session_id="CS-1", from_state=before, to_state=after,
                                     at=PLUGGED_IN + timedelta(seconds=step), message_id=f"MSG-{step}"))
    with registered() as db:
        trail = db.execute(select(SessionTransition.from_state, SessionTransition.to_state)
                           .where(SessionTransition.session_id == "CS-1").order_by(SessionTransition.id)).all()
    assert [tuple(row) for row in trail] == [(None, "requested"), ("requested", "classified")]


def test_outbox_message_id_is_unique(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        db.add(_outbox("M-1", PLUGGED_IN))
    with sessions() as db, pytest.raises(IntegrityError):
        db.add(_outbox("M-1", PLUGGED_IN))
        db.commit()


def test_inbound_message_id_is_unique(sessions: sessionmaker[Session]) -> None:
    def inbound() -> InboundMessage:
        return InboundMessage(message_id="IN-1", verb="create", noun="ChargingRequest", reply=b"<reply/>")

    with sessions.begin() as db:
        db.add(inbound())
    with sessions() as db, pytest.raises(IntegrityError):
        db.add(inbound())
        db.commit()
    with sessions() as db:
        assert db.get_one(InboundMessage, "IN-1").reply == b"<reply/>"


def test_a_reading_is_stored_once_per_meter_type_and_time(sessions: sessionmaker[Session]) -> None:
    def reading(value_wh: int) -> MeterReading:
        return MeterReading(meter_number="M-1", reading_type="0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0",
                            timestamp=PLUGGED_IN, value_wh=value_wh, kind="register")

    with sessions.begin() as db:
        db.add(reading(1_000))
    with sessions() as db, pytest.raises(IntegrityError):
        db.add(reading(2_000))
        db.commit()


@pytest.mark.parametrize(("customer_id", "status"), [
    pytest.param("nobody", "open", id="foreign-key"),
    pytest.param("C-X", "frozen", id="check"),
])
def test_constraints_are_enforced(sessions: sessionmaker[Session], customer_id: str, status: str) -> None:
    with sessions.begin() as db:
        db.add(Customer(customer_id="C-X", name="X"))
    with sessions() as db, pytest.raises(IntegrityError):
        db.add(CustomerAccount(account_id="A-X", customer_id=customer_id, status=status))
        db.commit()
