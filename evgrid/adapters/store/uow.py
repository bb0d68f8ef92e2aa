"""The operation system's ports on the SQLAlchemy store: one unit of work per message.

Everything a handler does (sessions and their transitions, readings, settlement,
bills, outbox messages, the inbound MessageID and its reply) is one database
transaction; the in-memory plan of the partition it uses is staged alongside it and kept
only when the transaction commits. Each unit of work reads the registry's version (one
row) and tells the planner, which reads a partition's grid afresh before its next
operation there if an import moved it. In one process (the embedded default) units of
work are serialised by one lock.

Scale-out workers on PostgreSQL (``plan_log`` given, no ``lock``) run units of work
concurrently instead: the planner is reached through :class:`.plan_log.SharedPlan`,
which takes the plan lock of the partition it uses on first use only, and sessions a handler will
change are read ``FOR UPDATE`` (``lock_rows``), so two transactions never both change
one from the same read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, time
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import Insert, Select, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from evgrid.adapters.store import models as m
from evgrid.adapters.store.plan_log import PlanLog, SharedPlan
from evgrid.cim.codec import Codec
from evgrid.errors import InvalidParameter, UnknownReference
from evgrid.mappings import codes
from evgrid.mappings.outbound import render
from evgrid.operations import events
from evgrid.operations.model import (
    Account,
    AccountStatus,
    ChargingKind,
    ElectricVehicle,
    Premise,
    Rate,
    Station,
    Tariff,
    TariffInterval,
)
from evgrid.operations.ports import Allotment, Clock
from evgrid.operations.session import ACTIVE, Session, SessionState, Transition
from evgrid.scheduler.partitions import PartitionedPlanner

_ACTIVE = [state.value for state in ACTIVE]
_Row = TypeVar("_Row", bound=m.Base)
# Tables written and read with Core statements on the session's connection: the ORM's
# per-object bookkeeping, and the flush it does before every statement it executes,
# cost more than the statements themselves on the hot path.
_EVS, _ACCOUNTS = m.ElectricVehicle.__table__, m.CustomerAccount.__table__
_STATIONS, _LOCATIONS = m.ChargingStation.__table__, m.ServiceLocation.__table__
_TARIFFS, _INTERVALS = m.Tariff.__table__, m.TariffInterval.__table__
_SESSIONS, _TRANSITIONS, _SLOTS = m.ChargingSession.__table__, m.SessionTransition.__table__, m.SlotAllocation.__table__
_OUTBOX, _INBOUND = m.OutboxMessage.__table__, m.InboundMessage.__table__
# An outbox row, unless its MessageID is queued already (per dialect: ON CONFLICT DO NOTHING).
_QUEUE: dict[str, Insert] = {name: dialect.insert(_OUTBOX).on_conflict_do_nothing(index_elements=["message_id"])
                             for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}


def _wall_now() -> datetime:
    return datetime.now(UTC)


def _account(row: m.CustomerAccount) -> Account:
    return Account(row.account_id, row.customer_id, AccountStatus(row.status), row.tariff_id)


def _kept(db: DbSession, row: _Row) -> _Row:
    """``row``, referenced until the unit of work ends.

    SQLAlchemy's identity map holds rows weakly: a row read, turned into a domain object
    and dropped is collected, and reading it again by key costs a SELECT (the session row
    three times over in one ChargingRequest, an account twice).
    """
    db.info.setdefault("kept", []).append(row)
    return row


class SqlRegistry:
    """Registry port: customers, premises, stations, EVs, tariffs."""

    def __init__(self, db: DbSession, default_tariff: str | None) -> None:
        self.db = db
        self.default_tariff = default_tariff

    def account(self, account_id: str) -> Account | None:
        row = self.db.get(m.CustomerAccount, account_id)
        return _account(row) if row else None

    def ev(self, ev_id: str) -> ElectricVehicle | None:
        """The EV with its owner's account, in one read."""
        row = self.db.connection().execute(_EV_QUERY, {"ev_id": ev_id}).first()
        if row is None:
            return None
        owner = Account(row.account_id, row.customer_id, AccountStatus(row.status), row.tariff_id)
        return ElectricVehicle(row.ev_id, owner, row.battery_wh, row.max_power_kw, row.ev_rate)

    def station(self, station_id: str) -> Station | None:
        """The station with its premise and the premise's account, in one read."""
        row = self.db.connection().execute(_STATION_QUERY, {"station_id": station_id}).first()
        if row is None:
            return None
        account = Account(row.account_id, row.customer_id, AccountStatus(row.status), row.tariff_id)
        premise = Premise(row.premise_number, row.usage_point_id, row.meter_number, account, row.transformer_id)
        return Station(row.station_id, premise, row.max_power_kw)

    def meter_at(self, usage_point_id: str) -> str | None:
        """The meter number of a usage point."""
        return self.db.scalar(select(m.ServiceLocation.meter_number)
                              .where(m.ServiceLocation.usage_point_id == usage_point_id))

    def usage_point_of(self, meter_number: str) -> str | None:
        """The usage point a meter is at."""
        return self.db.scalar(select(m.ServiceLocation.usage_point_id)
                              .where(m.ServiceLocation.meter_number == meter_number))

    def transformer_of_meter(self, meter_number: str) -> str | None:
        """The transformer whose own meter this is."""
        return self.db.scalar(select(m.Transformer.transformer_id).where(m.Transformer.meter_number == meter_number))

    def premise_of_account(self, account_id: str) -> str | None:
        """The (first) premise billed to an account: where its owner's portal is."""
        return self.db.scalar(select(m.ServiceLocation.premise_number)
                              .where(m.ServiceLocation.account_id == account_id)
                              .order_by(m.ServiceLocation.premise_number).limit(1))

    def tariff(self, tariff_id: str | None = None) -> Tariff:
        wanted = tariff_id or self.default_tariff
        # One query: the tariff with its intervals (their columns NULL for a tariff without any).
        # No id and none configured: the tariff marked default (before any mark: the newest).
        connection = self.db.connection()
        rows = (connection.execute(_TARIFF_QUERY, {"tariff_id": wanted}) if wanted
                else connection.execute(_DEFAULT_TARIFF_QUERY)).all()
        if not rows:
            raise UnknownReference(f"no tariff {wanted or '(none imported)'}", mrid=wanted or "-")
        row = rows[0]
        intervals = tuple(
            TariffInterval(i.sequence, i.label, time.fromisoformat(i.start_local), time.fromisoformat(i.end_local),
                           i.price_per_kwh, i.ev_night)
            for i in rows if i.sequence is not None
        )
        return Tariff(row.tariff_id, row.name, row.currency, row.timezone, intervals, row.third_party_price_per_kwh,
                      row.plain_price_per_kwh)


_EV_QUERY = (select(_EVS.c.ev_id, _EVS.c.battery_wh, _EVS.c.max_power_kw, _EVS.c.ev_rate, _ACCOUNTS.c.account_id,
                    _ACCOUNTS.c.customer_id, _ACCOUNTS.c.status, _ACCOUNTS.c.tariff_id)
             .join(_ACCOUNTS, _ACCOUNTS.c.account_id == _EVS.c.owner_account_id)
             .where(_EVS.c.ev_id == bindparam("ev_id")))
_STATION_QUERY = (select(_STATIONS.c.station_id, _STATIONS.c.max_power_kw, _LOCATIONS.c.premise_number,
                         _LOCATIONS.c.usage_point_id, _LOCATIONS.c.meter_number, _LOCATIONS.c.transformer_id,
                         _ACCOUNTS.c.account_id, _ACCOUNTS.c.customer_id, _ACCOUNTS.c.status, _ACCOUNTS.c.tariff_id)
                  .join(_LOCATIONS, _LOCATIONS.c.premise_number == _STATIONS.c.premise_number)
                  .join(_ACCOUNTS, _ACCOUNTS.c.account_id == _LOCATIONS.c.account_id)
                  .where(_STATIONS.c.station_id == bindparam("station_id")))


def _tariff_query(*where: Any) -> Select[Any]:
    """The tariff ``where`` selects, joined with its intervals in their order."""
    return (select(_TARIFFS.c.tariff_id, _TARIFFS.c.name, _TARIFFS.c.currency, _TARIFFS.c.timezone,
                   _TARIFFS.c.third_party_price_per_kwh, _TARIFFS.c.plain_price_per_kwh, _INTERVALS.c.sequence,
                   _INTERVALS.c.label, _INTERVALS.c.start_local, _INTERVALS.c.end_local, _INTERVALS.c.price_per_kwh,
                   _INTERVALS.c.ev_night)
            .outerjoin(_INTERVALS, _INTERVALS.c.tariff_id == _TARIFFS.c.tariff_id)
            .where(*where).order_by(_INTERVALS.c.sequence))


_TARIFF_QUERY = _tariff_query(_TARIFFS.c.tariff_id == bindparam("tariff_id"))
_DEFAULT_TARIFF_QUERY = _tariff_query(_TARIFFS.c.tariff_id == select(_TARIFFS.c.tariff_id).order_by(
    _TARIFFS.c.is_default.desc(), _TARIFFS.c.imported_at.desc()).limit(1).scalar_subquery())


def _active_probe(key: Any, reference: Any) -> tuple[Select[Any], Select[Any]]:
    """Hold the row whose ``key`` is ``:key``; an active session of it (``reference`` is ``:key``)."""
    hold = select(key).where(key == bindparam("key")).with_for_update(key_share=True)
    probe = select(_SESSIONS.c.session_id).where(reference == bindparam("key"), _SESSIONS.c.state.in_(_ACTIVE)).limit(1)
    return hold, probe


_EV_ACTIVE = _active_probe(_EVS.c.ev_id, _SESSIONS.c.ev_id)
_STATION_ACTIVE = _active_probe(_STATIONS.c.station_id, _SESSIONS.c.station_id)
_FIELDS = {  # domain Session field -> ChargingSession column, where the names differ
    "plugged_in_utc": "plugged_in_at", "departure_utc": "departure_at", "planned_start_utc": "planned_start",
    "planned_end_utc": "planned_end", "started_utc": "started_at", "completed_utc": "completed_at",
}
_COPIED = ("requested_wh", "reachable_wh", "max_power_kw", "tariff_id", "planned_wh", "start_register_wh",
           "end_register_wh", "consumed_wh")


def _new_row(session: Session) -> dict[str, object]:
    """The ``charging_sessions`` row of a new session (its first version)."""
    row: dict[str, object] = {name: getattr(session, name) for name in _COPIED}
    row.update({column: getattr(session, name) for name, column in _FIELDS.items()})
    row.update(session_id=session.session_id, request_mrid=session.request_mrid, ev_id=session.ev_id,
               station_id=session.station_id, premise_number=session.premise_number,
               owner_account_id=session.owner_account_id, host_account_id=session.host_account_id,
               kind=session.kind.value, state=session.state.value, rate=session.rate.value if session.rate else None,
               version=1)
    return row


class SqlSessions:
    """Sessions port: every save writes the row and its transition.

    With ``lock_rows`` the reads a handler changes a session after (``get``,
    ``active_for_ev``, ``starting_on_meter``) lock the row until the transaction ends.

    A session made in this transaction, its transitions and slot allocations are kept here
    and written by :meth:`write`, which the unit of work calls before it commits: a new
    session is one INSERT with its last state instead of an INSERT and an UPDATE a step,
    the transitions and allocations a statement each. A query of sessions here writes
    what is kept first, as the ORM's autoflush would; the planner reads scheduled and
    charging sessions only, which a session becomes as its request's last step.
    """

    def __init__(self, db: DbSession, lock_rows: bool = False) -> None:
        self.db = db
        self.lock_rows = lock_rows
        self._added: set[str] = set()  # sessions made in this transaction: no allocations stored yet
        self._new: dict[str, Session] = {}  # of those, the ones not written yet, at their last state
        self._transitions: list[dict[str, object]] = []
        self._slots: dict[str, list[dict[str, object]]] = {}

    def _row(self, session_id: str, *, lock: bool = False) -> m.ChargingSession:
        if lock and self.lock_rows:
            row = self.db.get(m.ChargingSession, session_id, with_for_update=True, populate_existing=True)
        else:
            row = self.db.get(m.ChargingSession, session_id)
        if row is None:
            raise UnknownReference(f"unknown charging session {session_id}", mrid=session_id)
        return _kept(self.db, row)

    def _first(self, query: Select[tuple[m.ChargingSession]]) -> m.ChargingSession | None:
        self._write_new()
        if self.lock_rows:
            query = query.with_for_update(of=m.ChargingSession).execution_options(populate_existing=True)
        row = self.db.scalars(query.limit(1)).first()
        return _kept(self.db, row) if row is not None else None

    def get(self, session_id: str) -> Session:
        new = self._new.get(session_id)
        return new if new is not None else self._domain(self._row(session_id, lock=True))

    def active_for_ev(self, ev_id: str) -> Session | None:
        if not self._any_active(_EV_ACTIVE, ev_id):
            return None
        row = self._first(select(m.ChargingSession).where(
            m.ChargingSession.ev_id == ev_id, m.ChargingSession.state.in_(_ACTIVE)))
        return self._domain(row) if row else None

    def active_at_station(self, station_id: str) -> Session | None:
        if not self._any_active(_STATION_ACTIVE, station_id):
            return None
        row = self.db.scalars(select(m.ChargingSession).where(
            m.ChargingSession.station_id == station_id, m.ChargingSession.state.in_(_ACTIVE)).limit(1)).first()
        return self._domain(row) if row else None

    def _any_active(self, queries: tuple[Select[Any], Select[Any]], key: str) -> bool:
        """Whether an EV's or a station's ``key`` has an active session; with ``lock_rows`` its row is held first.

        Held till the end of the transaction: "no active session yet" is then still true
        when the new one commits: two requests for one EV, or one station, reaching two
        workers at once are taken one after the other (within one process the units of
        work's lock did that). ``FOR NO KEY UPDATE``: rows that merely refer to it (foreign
        keys) are not held up. The lock is a statement of its own: the next one sees what
        the transaction it waited for committed. A yes is read again as a session
        (locked, if a handler changes it after).
        """
        self._write_new()
        self.db.flush()  # the sessions as this transaction changed them, as the ORM's autoflush would
        hold, probe = queries
        connection = self.db.connection()
        if self.lock_rows:
            connection.execute(hold, {"key": key})
        return connection.execute(probe, {"key": key}).scalar() is not None

    def starting_on_meter(self, meter_number: str) -> Session | None:
        return self._on_meter(meter_number, SessionState.SCHEDULED, m.ChargingSession.planned_start)

    def charging_on_meter(self, meter_number: str) -> Session | None:
        return self._on_meter(meter_number, SessionState.CHARGING, m.ChargingSession.started_at.desc())

    def _on_meter(self, meter_number: str, state: SessionState, order: object) -> Session | None:
        row = self._first(
            select(m.ChargingSession)
            .join(m.ServiceLocation, m.ServiceLocation.premise_number == m.ChargingSession.premise_number)
            .where(m.ServiceLocation.meter_number == meter_number, m.ChargingSession.state == state.value)
            .order_by(order))  # type: ignore[arg-type]
        return self._domain(row) if row else None

    def add(self, session: Session, transition: Transition) -> None:
        """A new session; a duplicate (a session id taken) fails when it is written."""
        self._new[session.session_id] = session
        self._added.add(session.session_id)
        self._write_transition(transition)

    def save(self, session: Session, transition: Transition) -> None:
        if session.session_id in self._new:
            self._new[session.session_id] = session
        else:
            row = self._row(session.session_id)
            row.state, row.kind = session.state.value, session.kind.value
            row.rate = session.rate.value if session.rate else None
            for name in _COPIED:
                setattr(row, name, getattr(session, name))
            for name, column in _FIELDS.items():
                setattr(row, column, getattr(session, name))
        self._write_transition(transition)

    def allot(self, allotment: Allotment) -> None:
        """The session's allocations from now on: these, replacing those stored and any allotted before."""
        if allotment.session_id not in self._added:
            self.db.connection().execute(delete(_SLOTS).where(_SLOTS.c.session_id == allotment.session_id))
        self._slots[allotment.session_id] = [{"session_id": allotment.session_id, "slot_start": start, "power_kw": kw}
                                             for start, kw in allotment.slots]

    def write(self) -> None:
        """Write the sessions, transitions and allocations kept so far (the unit of work calls it before committing)."""
        self._write_new()
        slots = [row for rows in self._slots.values() for row in rows]
        transitions, self._transitions, self._slots = self._transitions, [], {}
        connection = self.db.connection()
        if transitions:
            connection.execute(insert(_TRANSITIONS), transitions)
        if slots:
            connection.execute(insert(_SLOTS), slots)

    def _write_new(self) -> None:
        """Insert the new sessions kept so far; a later change of one is an UPDATE of its row."""
        if self._new:
            new, self._new = self._new, {}
            self.db.connection().execute(insert(_SESSIONS), [_new_row(session) for session in new.values()])

    def _write_transition(self, transition: Transition) -> None:
        self._transitions.append({
            "session_id": transition.session_id,
            "from_state": transition.from_state.value if transition.from_state else None,
            "to_state": transition.to_state.value, "at": transition.at_utc, "message_id": transition.message_id,
            "detail": transition.detail})

    def _domain(self, row: m.ChargingSession) -> Session:
        location = self.db.get_one(m.ServiceLocation, row.premise_number)
        fields: dict[str, object] = {name: getattr(row, name) for name in _COPIED}
        fields.update({name: getattr(row, column) for name, column in _FIELDS.items()})
        return Session(
            session_id=row.session_id, request_mrid=row.request_mrid, ev_id=row.ev_id,
            station_id=row.station_id, premise_number=row.premise_number, meter_number=location.meter_number,
            transformer_id=location.transformer_id, owner_account_id=row.owner_account_id,
            host_account_id=row.host_account_id, kind=ChargingKind(row.kind), state=SessionState(row.state),
            rate=Rate(row.rate) if row.rate else None,
            **fields,  # type: ignore[arg-type]
        )


class SqlLedger:
    """Ledger port: register readings, settlement records, bills."""

    def __init__(self, db: DbSession, register_type: str) -> None:
        self.db = db
        self.register_type = register_type

    def record_register(self, meter_number: str, at_utc: datetime, value_wh: int, session_id: str | None,
                        message_id: str | None) -> None:
        # The same register value can arrive twice (as MeterReadings at 2.3.3 and inside the
        # ChargingCompletion at 2.3.4): kept once. A different value for the same instant is a conflict.
        known = self.db.scalar(select(m.MeterReading).where(
            m.MeterReading.meter_number == meter_number, m.MeterReading.reading_type == self.register_type,
            m.MeterReading.timestamp == at_utc))
        if known is not None:
            if known.value_wh != value_wh:
                raise InvalidParameter(f"meter {meter_number} read {known.value_wh} Wh at {at_utc.isoformat()}, "
                                       f"not {value_wh} Wh")
            if known.session_id is None:
                known.session_id = session_id
            return
        self.db.add(m.MeterReading(meter_number=meter_number, reading_type=self.register_type, timestamp=at_utc,
                                   value_wh=value_wh, session_id=session_id, kind="register",
                                   source_message_id=message_id))

    def last_register(self, meter_number: str, before_utc: datetime) -> tuple[datetime, int] | None:
        row = self.db.execute(select(m.MeterReading.timestamp, m.MeterReading.value_wh).where(
            m.MeterReading.meter_number == meter_number, m.MeterReading.kind == "register",
            m.MeterReading.timestamp < before_utc).order_by(m.MeterReading.timestamp.desc()).limit(1)).first()
        return (row[0], int(row[1])) if row else None

    def record_base_load(self, transformer_id: str, base_kw: dict[datetime, float]) -> None:
        """Kept as the slots' forecast (a later reading or forecast import replaces it)."""
        if not base_kw:
            return
        self.db.execute(delete(m.BaseLoadForecast).where(m.BaseLoadForecast.transformer_id == transformer_id,
                                                         m.BaseLoadForecast.slot_start.in_(list(base_kw))))
        self.db.add_all(m.BaseLoadForecast(transformer_id=transformer_id, slot_start=slot,
                                           kw=Decimal(repr(round(kw, 3)))) for slot, kw in base_kw.items())

    def record_interval(self, meter_number: str, end_utc: datetime, value_wh: int, session_id: str | None,
                        message_id: str | None) -> None:
        reading_type = codes.INTERVAL_15MIN_WH
        known = self.db.scalar(select(m.MeterReading).where(
            m.MeterReading.meter_number == meter_number, m.MeterReading.reading_type == reading_type,
            m.MeterReading.timestamp == end_utc))
        if known is not None:
            if known.value_wh != value_wh:
                raise InvalidParameter(f"meter {meter_number}: interval {end_utc.isoformat()} was {known.value_wh} "
                                       f"Wh, not {value_wh} Wh (an overlapping or duplicate interval)")
            return
        self.db.add(m.MeterReading(meter_number=meter_number, reading_type=reading_type, timestamp=end_utc,
                                   value_wh=value_wh, session_id=session_id, kind="interval",
                                   source_message_id=message_id))

    def settle(self, session_id: str, from_account_id: str, to_account_id: str, energy_wh: int,
               at_utc: datetime) -> None:
        self.db.add(m.SettlementRecord(settlement_id=f"SET-{session_id}", session_id=session_id,
                                       from_account_id=from_account_id, to_account_id=to_account_id,
                                       energy_wh=energy_wh, created_at=at_utc))

    def record_bill(self, bill: object) -> None:
        assert isinstance(bill, events.BillInformation)
        # The statement's text; a line priced from metered intervals also says how many (and
        # how many of them MDM estimated). evgrid.sim.demo.report.charge_lines reads it back.
        lines = "; ".join(f"{line.label}: {line.energy_wh} Wh x {line.price_per_kwh} = {line.amount}"
                          + (f" ({line.intervals} intervals, {line.estimated} estimated)" if line.intervals else "")
                          for line in bill.lines)
        self.db.add(m.Bill(bill_id=bill.bill_id, session_id=bill.session_id, account_id=bill.account_id,
                           currency=bill.currency, energy_wh=bill.energy_wh, amount=bill.amount,
                           issued_at=bill.issued_utc, body=lines))


class SqlOutbox:
    """Outbox port: events rendered to 61968-100 messages, stored for delivery.

    The outbox is delivery machinery, so its times are wall time (``queued_at``), not the
    core's clock: the worker compares them with wall time for "due" and backoff, and a
    message written under an accelerated clock, whose simulated date may be days away
    from today, is due at once.
    """

    def __init__(self, db: DbSession, registry: SqlRegistry, codec: Codec, source: str,
                 queued_at: datetime, unrouted: frozenset[str] = frozenset()) -> None:
        self.db, self.registry, self.codec, self.source, self.queued_at = db, registry, codec, source, queued_at
        self.unrouted = unrouted
        self.events: list[object] = []  # for what has to happen after the commit (dispatch jobs)

    def put(self, event: object) -> None:
        if getattr(event, "destination", None) in self.unrouted:
            return
        self.events.append(event)
        owner_premise = None
        if isinstance(event, events.BillInformation):
            owner_premise = self.registry.premise_of_account(event.account_id)
        message = render(event, self.codec, source=self.source, owner_premise=owner_premise)
        # The same event again (a duplicate start, say) is queued once: the row kept is the first.
        connection = self.db.connection()
        connection.execute(_QUEUE[connection.dialect.name], {
            "message_id": message.message_id, "destination": message.destination, "verb": message.verb,
            "noun": message.noun, "body": message.body, "status": "pending", "attempts": 0,
            "next_attempt_at": self.queued_at, "created_at": self.queued_at})


_REPLY_QUERY = select(_INBOUND.c.source, _INBOUND.c.reply, _INBOUND.c.verb, _INBOUND.c.noun,
                      _INBOUND.c.payload_digest).where(_INBOUND.c.message_id == bindparam("message_id"))


class SqlInboundJournal:
    """Inbound MessageIDs, the message each is bound to (verb, noun, digest) and their replies."""

    def __init__(self, db: DbSession) -> None:
        self.db = db

    def reply_for(self, message_id: str) -> tuple[str | None, bytes, str, str, str | None] | None:
        row = self.db.connection().execute(_REPLY_QUERY, {"message_id": message_id}).first()
        return (row.source, bytes(row.reply), row.verb, row.noun, row.payload_digest) if row else None

    def remember(self, message_id: str, verb: str, noun: str, source: str | None, reply: bytes,
                 digest: str | None = None) -> None:
        self.db.connection().execute(insert(_INBOUND), {
            "message_id": message_id, "verb": verb, "noun": noun, "source": source, "reply": reply,
            "payload_digest": digest})


class SqlUnitOfWork:
    """One transaction over every port (see the module docstring)."""

    def __init__(self, factory: sessionmaker[DbSession], planner: PartitionedPlanner, codec: Codec, clock: Clock, *,
                 register_type: str, lock: threading.Lock | None, source: str = "evgrid-evos",
                 default_tariff: str | None = None,
                 after_commit: Callable[[list[object]], None] | None = None,
                 wall_clock: Callable[[], datetime] = _wall_now, plan_log: PlanLog | None = None,
                 lock_rows: bool = False, unrouted: frozenset[str] = frozenset()) -> None:
        """``clock`` is the core's (maybe simulated) time; ``wall_clock`` times the outbox rows.

        Events for a destination in ``unrouted`` (one not configured: ``mdm`` without an
        ``[mdm]`` section) are not queued.

        ``lock`` serialises whole units of work (one process, SQLite); None for scale-out
        workers on PostgreSQL, which give ``plan_log`` and ``lock_rows`` instead (see the
        module docstring).
        """
        self._factory, self._planner, self._codec, self._clock = factory, planner, codec, clock
        self.planner: PartitionedPlanner | SharedPlan = planner
        self._wall_clock = wall_clock
        self._register_type, self._source, self._tariff = register_type, source, default_tariff
        self._after_commit = after_commit
        self._lock = lock  # shared by every unit of work over this planner
        self._plan_log, self._lock_rows = plan_log, lock_rows
        self._unrouted = unrouted

    def __enter__(self) -> SqlUnitOfWork:
        if self._lock is not None:
            self._lock.acquire()
        try:
            self.now = self._clock.now()
            self.db = self._factory()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        try:
            # The registry is live: one cheap read per unit of work; a planner operation
            # later in it (under the partition's lock) reads that partition afresh if it moved.
            registry_at = getattr(self._planner, "registry_at", None)
            if registry_at is not None:
                registry_at(m.registry_version(self.db))
        except BaseException:
            self.db.close()
            if self._lock is not None:
                self._lock.release()
            raise
        self.planner = self._plan_log.bind(self.db) if self._plan_log is not None else self._planner
        self.registry = SqlRegistry(self.db, self._tariff)
        self.sessions = SqlSessions(self.db, self._lock_rows)
        self.ledger = SqlLedger(self.db, self._register_type)
        self.outbox = SqlOutbox(self.db, self.registry, self._codec, self._source, self._wall_clock(),
                                self._unrouted)
        self.inbound = SqlInboundJournal(self.db)
        return self

    def commit(self) -> None:
        self.sessions.write()
        self.db.commit()
        self.planner.commit()
        if self._after_commit is not None:
            self._after_commit(self.outbox.events)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.db.rollback()  # a no-op after commit
            self.db.close()
        finally:
            try:
                self.planner.discard()  # a shared plan also lets the worker's other threads at it
            finally:
                if self._lock is not None:
                    self._lock.release()

