"""The demo night's store access: base load, the polls, and the night read as plain records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from evgrid.adapters.store import models as m
from evgrid.adapters.store.night_records import (
    NightSession,
    pending_deliveries,
    read_night,
    session_states,
    set_base_load,
)
from evgrid.adapters.store.registry import import_registry
from evgrid.adapters.store.tariff import import_tariff

NIGHT = datetime(2025, 11, 26, 17, 0, tzinfo=UTC)


def _session(session_id: str, plugged_in_at: datetime, state: str) -> m.ChargingSession:
    return m.ChargingSession(
        session_id=session_id, request_mrid=f"REQ-{session_id}", ev_id="EV-1001", station_id="S-1001",
        premise_number="P-1001", owner_account_id="A-1001", host_account_id="A-1001", kind="home", state=state,
        requested_wh=30_000, max_power_kw=Decimal("7.2"), plugged_in_at=plugged_in_at,
        departure_at=plugged_in_at + timedelta(hours=13))


@pytest.fixture
def seeded(sessions: sessionmaker[Session], examples: Path) -> sessionmaker[Session]:
    with sessions.begin() as db:
        import_tariff(db, examples / "tariff.toml")
        import_tariff(db, examples / "tariff-peak.toml")
        import_registry(db, examples / "registry.csv")
    return sessions


def test_set_base_load_writes_in_the_callers_transaction(seeded: sessionmaker[Session]) -> None:
    hourly = [float(hour) for hour in range(24)]
    with seeded.begin() as db:
        set_base_load(db, "T-01", hourly)
    with seeded() as db:
        assert db.scalars(select(m.Transformer.base_load_kw).where(m.Transformer.transformer_id == "T-01")).one() == hourly


def test_polls_count_states_and_pending_outbox(seeded: sessionmaker[Session], store_url: str) -> None:
    assert (session_states(store_url), pending_deliveries(store_url)) == ({}, 0)
    with seeded.begin() as db:
        db.add_all([_session("CS-1", NIGHT, "scheduled"), _session("CS-2", NIGHT, "scheduled"),
                    _session("CS-3", NIGHT, "billed")])
        db.add(m.OutboxMessage(message_id="M-1", destination="billing", verb="created", noun="ChargingConsumption",
                               body=b"<xml/>"))
    assert session_states(store_url) == {"scheduled": 2, "billed": 1}
    assert pending_deliveries(store_url) == 1


def test_read_night_returns_plain_records_of_the_overlapping_sessions(seeded: sessionmaker[Session],
                                                                      store_url: str) -> None:
    with seeded.begin() as db:
        db.add_all([_session("CS-2", NIGHT + timedelta(hours=2), "scheduled"),
                    _session("CS-1", NIGHT + timedelta(hours=1), "requested"),
                    _session("CS-OLD", NIGHT - timedelta(days=2), "acknowledged")])
        db.flush()
        db.add(m.SlotAllocation(session_id="CS-1", slot_start=NIGHT + timedelta(hours=6), power_kw=Decimal("7.2")))
        db.add(m.SlotAllocation(session_id="CS-1", slot_start=NIGHT + timedelta(hours=5), power_kw=Decimal("3.6")))
        db.add(m.SlotAllocation(session_id="CS-1", slot_start=NIGHT + timedelta(hours=7), power_kw=Decimal(0)))
    night = read_night(store_url, NIGHT, NIGHT + timedelta(hours=16))
    assert [s.session_id for s in night.sessions] == ["CS-1", "CS-2"]  # by plug-in
    assert all(type(s) is NightSession for s in night.sessions)
    assert night.sessions[0].plugged_in_at == NIGHT + timedelta(hours=1)
    assert night.outside == 1
    assert night.planned == {"CS-1": (NIGHT + timedelta(hours=5), NIGHT + timedelta(hours=6))}
    assert (night.bills, night.settlements) == ({}, ())
    assert night.station_transformer["S-1001"] == "T-01"
    assert night.customers["A-1001"] == ("C-1001", "Anna de Vries")
    assert night.currency == "EUR" and set(night.zones.values()) == {"Europe/Amsterdam"}
