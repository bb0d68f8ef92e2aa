"""What a ChargingRequest writes, statement by statement (SQLite and PostgreSQL).

The unit of work keeps a new session, its transitions and its slot allocations and
writes them once, before it commits: one INSERT of the session at its last state, no
UPDATE of it, one statement per table.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import event, select

from evgrid.adapters.store import models as m
from evgrid.apps.evos.system import OperationSystem
from evgrid.operations.model import ChargingKind
from evgrid.operations.session import Session, SessionState, opened
from tests.integration.test_operation_system import NIGHT, clock, evos, request_message, result

__all__ = ["clock", "evos"]  # fixtures, imported for the tests below


def statements_of(evos: OperationSystem, message: bytes) -> tuple[bytes, list[str]]:
    """The reply to ``message`` and the SQL statements handling it took (first line of each)."""
    seen: list[str] = []

    def record(_connection: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()[:3]))

    event.listen(evos.engine, "before_cursor_execute", record)
    try:
        reply = evos.router.handle(message)
    finally:
        event.remove(evos.engine, "before_cursor_execute", record)
    return reply, seen


def test_a_charging_request_writes_its_session_once_and_each_table_in_one_statement(evos: OperationSystem) -> None:
    reply, seen = statements_of(evos, request_message("EV-1001", "S-1001", "C-1001", "UP-1001"))
    assert result(reply) == ("OK", None)
    assert not [s for s in seen if s.startswith("UPDATE charging_sessions")]
    for table in ("charging_sessions", "session_transitions", "slot_allocations", "outbox", "inbound_messages"):
        assert [s for s in seen if s == f"INSERT INTO {table}"] == [f"INSERT INTO {table}"], table
    with evos.sessions() as db:
        row = db.scalars(select(m.ChargingSession)).one()
        steps = db.scalars(select(m.SessionTransition.to_state).order_by(m.SessionTransition.id)).all()
        slots = db.scalars(select(m.SlotAllocation.power_kw).where(m.SlotAllocation.session_id == row.session_id))
        assert (row.state, row.version, row.rate) == ("scheduled", 1, "evNight")
        assert steps == ["requested", "classified", "rated", "confirmed", "scheduled"]
        assert sum(slots.all()) > 0


def test_a_new_session_is_read_back_in_its_own_transaction(evos: OperationSystem) -> None:
    with evos.unit_of_work() as uow:
        ev, station = uow.registry.ev("EV-1001"), uow.registry.station("S-1001")
        assert ev is not None and station is not None
        premise = station.premise
        session = Session(
            session_id="S-NEW", request_mrid="NEW", ev_id=ev.ev_id, station_id=station.station_id,
            premise_number=premise.premise_number, meter_number=premise.meter_number,
            transformer_id=premise.transformer_id, owner_account_id=ev.owner.account_id,
            host_account_id=premise.account.account_id, kind=ChargingKind.HOME, state=SessionState.REQUESTED,
            requested_wh=10_000, max_power_kw=Decimal("7.4"), plugged_in_utc=NIGHT,
            departure_utc=NIGHT + timedelta(hours=10))
        uow.sessions.add(session, opened(session, uow.now, None))
        assert uow.sessions.get("S-NEW") == session  # kept, not written yet
        found = uow.sessions.active_for_ev("EV-1001")  # a query: the session is written first
        assert found is not None and found.session_id == "S-NEW"
        assert uow.sessions.active_at_station("S-1001") == found
        uow.commit()
    with evos.sessions() as db:
        assert db.scalars(select(m.SessionTransition.to_state)).all() == ["requested"]
