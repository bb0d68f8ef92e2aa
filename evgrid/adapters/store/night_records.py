"""The simulated night's reads and writes of the store: what the demo and its report ask.

:func:`read_night` gathers what the report shows of a night (sessions, bills, settlements,
planned slots, the registry's names) as plain frozen dataclasses, so that the report
never handles ORM rows; :func:`set_base_load` seeds a transformer's hourly base load;
:func:`session_states` and :func:`pending_deliveries` are the polls the demo makes while
the operation system runs. The queries live here so that SQLAlchemy stays in this package.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.orm import Session

from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import make_engine, session_factory


@dataclass(frozen=True, slots=True)
class NightSession:
    """A charging session as the report shows it (the columns of ``charging_sessions`` it reads)."""

    session_id: str
    ev_id: str
    station_id: str
    premise_number: str
    owner_account_id: str
    host_account_id: str
    kind: str  # ChargingKind value
    state: str  # SessionState value
    tariff_id: str | None
    rate: str | None  # the rate told at 2.1 / 3.1.2 (evNight, plain, quickCharge)
    usage_point_id: str  # where the session was metered
    consumed_wh: int | None
    plugged_in_at: datetime
    departure_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class NightBill:
    """A stored bill (step 4.1.1); ``body`` holds its charge lines as text."""

    bill_id: str
    session_id: str
    account_id: str
    currency: str
    energy_wh: int
    amount: Decimal
    body: str


@dataclass(frozen=True, slots=True)
class NightSettlement:
    """A third-party session's settled energy (use-case 3.3.5)."""

    session_id: str
    energy_wh: int


@dataclass(frozen=True, slots=True)
class NightRecords:
    """What the store knows about a night: the sessions whose plug-in window overlaps it."""

    sessions: tuple[NightSession, ...]  # by plug-in, then session id
    bills: dict[str, NightBill]  # session_id -> bill
    settlements: tuple[NightSettlement, ...]
    planned: dict[str, tuple[datetime, ...]]  # session_id -> starts of slots with power, in order
    station_transformer: dict[str, str]  # station_id -> transformer_id (every station in the registry)
    customers: dict[str, tuple[str, str]]  # account_id -> (customer_id, name)
    zones: dict[str, str]  # tariff_id -> time zone
    currency: str  # of the newest tariff (the one the planner prices slots with); "" without a tariff
    outside: int  # sessions in the store that do not overlap the night


def read_night(database_url: str, start_utc: datetime, end_utc: datetime) -> NightRecords:
    """Read the night ``[start_utc, end_utc)`` from the store at ``database_url``, in one session.

    A session belongs to the night when it was plugged in before ``end_utc`` and departs
    after ``start_utc``; bills, settlements and slot allocations follow their session.
    Opens its own engine and disposes it before returning.
    """
    cs = m.ChargingSession
    in_night = and_(cs.plugged_in_at < end_utc, cs.departure_at > start_utc)
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as db:
            usage_points = {premise: usage_point for premise, usage_point in db.execute(
                select(m.ServiceLocation.premise_number, m.ServiceLocation.usage_point_id))}
            sessions = tuple(_session(row, usage_points.get(row.premise_number, "")) for row in db.scalars(
                select(cs).where(in_night).order_by(cs.plugged_in_at, cs.session_id)))
            bills = {b.session_id: _bill(b) for b in db.scalars(
                select(m.Bill).join(cs, cs.session_id == m.Bill.session_id).where(in_night))}
            settlements = tuple(NightSettlement(s.session_id, s.energy_wh) for s in db.scalars(
                select(m.SettlementRecord).join(cs, cs.session_id == m.SettlementRecord.session_id).where(in_night)))
            planned: dict[str, list[datetime]] = defaultdict(list)
            for allocation in db.scalars(select(m.SlotAllocation).join(
                    cs, cs.session_id == m.SlotAllocation.session_id)
                    .where(in_night, m.SlotAllocation.power_kw > 0).order_by(m.SlotAllocation.slot_start)):
                planned[allocation.session_id].append(allocation.slot_start)
            station_transformer = dict(db.execute(
                select(m.ChargingStation.station_id, m.ServiceLocation.transformer_id)
                .join(m.ServiceLocation, m.ServiceLocation.premise_number == m.ChargingStation.premise_number)).all())
            customers = {account: (customer, name) for account, customer, name in db.execute(
                select(m.CustomerAccount.account_id, m.Customer.customer_id, m.Customer.name)
                .join(m.Customer, m.Customer.customer_id == m.CustomerAccount.customer_id))}
            tariffs = db.execute(select(m.Tariff.tariff_id, m.Tariff.timezone, m.Tariff.currency)
                                 .order_by(m.Tariff.imported_at.desc())).all()
            outside = db.scalar(select(func.count()).select_from(cs).where(~in_night)) or 0
    finally:
        engine.dispose()
    return NightRecords(
        sessions=sessions, bills=bills, settlements=settlements,
        planned={session_id: tuple(starts) for session_id, starts in planned.items()},
        station_transformer=station_transformer, customers=customers,
        zones={tariff_id: zone for tariff_id, zone, _ in tariffs}, currency=tariffs[0][2] if tariffs else "",
        outside=outside)


def _session(row: m.ChargingSession, usage_point: str) -> NightSession:
    return NightSession(
        session_id=row.session_id, ev_id=row.ev_id, station_id=row.station_id, premise_number=row.premise_number,
        owner_account_id=row.owner_account_id, host_account_id=row.host_account_id, kind=row.kind, state=row.state,
        tariff_id=row.tariff_id, rate=row.rate, usage_point_id=usage_point, consumed_wh=row.consumed_wh,
        plugged_in_at=row.plugged_in_at,
        departure_at=row.departure_at, started_at=row.started_at, completed_at=row.completed_at)


def _bill(row: m.Bill) -> NightBill:
    return NightBill(bill_id=row.bill_id, session_id=row.session_id, account_id=row.account_id,
                     currency=row.currency, energy_wh=row.energy_wh, amount=row.amount, body=row.body)


def set_base_load(db: Session, transformer_id: str, hourly_kw: Sequence[float]) -> None:
    """Set a transformer's base load, 24 values in kW by UTC hour, in the caller's transaction."""
    db.execute(update(m.Transformer).where(m.Transformer.transformer_id == transformer_id)
               .values(base_load_kw=list(hourly_kw)))


# --- polls while the night runs -------------------------------------------------------------
# The demo polls every simulated minute or so: one engine per URL, kept for the process.

_engines: dict[str, Engine] = {}


def _engine(database_url: str) -> Engine:
    engine = _engines.get(database_url)
    if engine is None:
        engine = _engines[database_url] = make_engine(database_url)
    return engine


def pending_deliveries(database_url: str) -> int:
    """Outbox messages of the operation system not delivered yet (bills on their way to portals ...)."""
    with _engine(database_url).connect() as connection:
        return int(connection.execute(select(func.count()).select_from(m.OutboxMessage)
                                      .where(m.OutboxMessage.status == "pending")).scalar_one())


def session_states(database_url: str) -> dict[str, int]:
    """How many sessions are in each state now (a read; the operation system keeps writing)."""
    with _engine(database_url).connect() as connection:
        rows = connection.execute(select(m.ChargingSession.state, func.count()).group_by(m.ChargingSession.state))
        return dict(Counter({state: int(n) for state, n in rows}))
