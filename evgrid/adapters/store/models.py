"""SQLAlchemy 2 declarative models of the evgrid store (see DESIGN.md, "Data").

Conventions, held by every table:

- money is ``Numeric(14, 6)`` read back as :class:`~decimal.Decimal`;
- energy is an integer number of Wh (``BigInteger``), power kW as ``Numeric``;
- times are aware UTC (:class:`UtcDateTime`), on SQLite as well as on PostgreSQL;
- constraint and index names follow :data:`NAMING_CONVENTION`, so that Alembic's batch
  mode on SQLite can find them again and the migrations name them identically.

The migrations in ``migrations/versions`` are written out by hand; a test checks that
upgrading an empty database yields exactly this metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.orm import Session as DbSession

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 64  # mRIDs, premise and meter numbers: a UUID (36) with room to spare
MESSAGE_ID_LENGTH = 128  # 61968-100 MessageID is a free string; senders use UUIDs or longer
DIGEST_LENGTH = 64  # SHA-256, hex
STATE_LENGTH = 32

MONEY = Numeric(14, 6)
POWER_KW = Numeric(10, 3)
SLOT_POWER_KW = Numeric(8, 3)
# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not a BIGINT one.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def utc_now() -> datetime:
    """Wall-clock now, aware UTC: the default of created/updated timestamps."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    PostgreSQL keeps ``timestamptz`` but hands values back in the session's time zone;
    SQLite keeps no zone at all. So values are converted to UTC on the way in (a naive
    value is refused: guessing its zone is how billing goes wrong) and come back
    with ``tzinfo=UTC``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC (naive UTC on SQLite, which drops zones)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; evgrid stores aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach (SQLite) or convert to (PostgreSQL) UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), Decimal: MONEY}


def _ids(*columns: str) -> str:
    """``'a', 'b'`` for a CHECK ... IN (...) constraint."""
    return ", ".join(f"'{column}'" for column in columns)


# --- registry ---------------------------------------------------------------------------


class Customer(Base):
    """A customer (CIM Customer)."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class CustomerAccount(Base):
    """A customer account (CIM CustomerAccount); a closed account may not be charged.

    ``tariff_id`` NULL: the account pays the default tariff (:attr:`Tariff.is_default`).
    """

    __tablename__ = "customer_accounts"
    __table_args__ = (CheckConstraint(f"status IN ({_ids('open', 'closed')})", name="status"),)

    account_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    status: Mapped[str] = mapped_column(String(8))
    tariff_id: Mapped[str | None] = mapped_column(ForeignKey("tariffs.tariff_id"), index=True)


class Feeder(Base):
    """A distribution feeder; its capacity bounds the sum over its transformers."""

    __tablename__ = "feeders"

    feeder_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    capacity_kw: Mapped[Decimal] = mapped_column(POWER_KW)


class Transformer(Base):
    """A distribution transformer with its capacity and its daily base-load profile (kW, UTC).

    The profile is 24 hourly or 96 quarter-hourly values; a forecast for a slot
    (:class:`BaseLoadForecast`) beats it.
    """

    __tablename__ = "transformers"

    transformer_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    capacity_kw: Mapped[Decimal] = mapped_column(POWER_KW)
    feeder_id: Mapped[str | None] = mapped_column(ForeignKey("feeders.feeder_id"), index=True)
    # None until a load study provides one; the registry CSV does not carry it.
    base_load_kw: Mapped[list[float] | None] = mapped_column(JSON)
    # The meter on the transformer itself: its readings are the transformer's live load.
    meter_number: Mapped[str | None] = mapped_column(String(ID_LENGTH), unique=True)


class BaseLoadForecast(Base):
    """A transformer's base load (kW) in one 15-minute slot, from a forecast: it beats the daily profile."""

    __tablename__ = "base_load_forecasts"

    transformer_id: Mapped[str] = mapped_column(ForeignKey("transformers.transformer_id"), primary_key=True)
    slot_start: Mapped[datetime] = mapped_column(primary_key=True)
    kw: Mapped[Decimal] = mapped_column(POWER_KW)


class ServiceLocation(Base):
    """A premise: usage point, meter, the account billed there and its transformer."""

    __tablename__ = "service_locations"

    premise_number: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    usage_point_id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    meter_number: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("customer_accounts.account_id"), index=True)
    transformer_id: Mapped[str] = mapped_column(ForeignKey("transformers.transformer_id"), index=True)


class ChargingStation(Base):
    """An EV charging station (IEC 61850-90-8 DESE) at a premise."""

    __tablename__ = "charging_stations"

    station_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    premise_number: Mapped[str] = mapped_column(ForeignKey("service_locations.premise_number"), index=True)
    max_power_kw: Mapped[Decimal] = mapped_column(POWER_KW)


class ElectricVehicle(Base):
    """An EV: the utility-assigned EV Id keyed to its owner's account.

    ``ev_rate``: enrolled in the EV rate (EV night prices at home); false: the plain price.
    """

    __tablename__ = "evs"

    ev_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    owner_account_id: Mapped[str] = mapped_column(ForeignKey("customer_accounts.account_id"), index=True)
    battery_wh: Mapped[int] = mapped_column(BigInteger)
    max_power_kw: Mapped[Decimal] = mapped_column(POWER_KW)
    ev_rate: Mapped[bool] = mapped_column(Boolean, server_default=true(), default=True)


# --- tariffs ----------------------------------------------------------------------------


class Tariff(Base):
    """A time-of-use tariff (CIM Tariff), its currency, local time zone and third-party rate.

    ``plain_price_per_kwh`` NULL: the highest price of the other intervals (see the domain
    ``Tariff.plain_price``). One tariff is the default (``is_default``), the tariff of
    accounts that name none; the imports keep exactly one marked.
    """

    __tablename__ = "tariffs"
    # At most one default, whatever two concurrent imports do (exactly one: the imports).
    __table_args__ = (Index("ix_tariffs_is_default", "is_default", unique=True,
                            sqlite_where=text("is_default"), postgresql_where=text("is_default")),)

    tariff_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(CHAR(3))
    timezone: Mapped[str] = mapped_column(String(64))
    third_party_price_per_kwh: Mapped[Decimal] = mapped_column(MONEY)
    imported_at: Mapped[datetime] = mapped_column(default=utc_now)
    plain_price_per_kwh: Mapped[Decimal | None] = mapped_column(MONEY)
    is_default: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)

    intervals: Mapped[list[TariffInterval]] = relationship(
        order_by="TariffInterval.sequence", cascade="all, delete-orphan"
    )


class TariffInterval(Base):
    """A time-of-use window in local 'HH:MM'; an end <= start wraps past midnight."""

    __tablename__ = "tariff_intervals"

    tariff_id: Mapped[str] = mapped_column(ForeignKey("tariffs.tariff_id"), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(64))
    start_local: Mapped[str] = mapped_column(String(5))
    end_local: Mapped[str] = mapped_column(String(5))
    price_per_kwh: Mapped[Decimal] = mapped_column(MONEY)
    ev_night: Mapped[bool] = mapped_column(Boolean)


# --- sessions ---------------------------------------------------------------------------


class ChargingSession(Base):
    """A charging session from plug-in to acknowledgment (one state per use-case step).

    ``version`` is an optimistic lock: an UPDATE carries ``WHERE version = <read>``, so
    of two writers working from the same read, the second gets ``StaleDataError``.
    """

    __tablename__ = "charging_sessions"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_ids('home', 'thirdParty')})", name="kind"),
        Index("ix_charging_sessions_ev_id_state", "ev_id", "state"),
        Index("ix_charging_sessions_station_id_state", "station_id", "state"),
    )

    session_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    request_mrid: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    ev_id: Mapped[str] = mapped_column(ForeignKey("evs.ev_id"))
    station_id: Mapped[str] = mapped_column(ForeignKey("charging_stations.station_id"))
    premise_number: Mapped[str] = mapped_column(ForeignKey("service_locations.premise_number"))
    owner_account_id: Mapped[str] = mapped_column(ForeignKey("customer_accounts.account_id"))
    host_account_id: Mapped[str] = mapped_column(ForeignKey("customer_accounts.account_id"))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(STATE_LENGTH))
    requested_wh: Mapped[int] = mapped_column(BigInteger)
    reachable_wh: Mapped[int | None] = mapped_column(BigInteger)
    max_power_kw: Mapped[Decimal] = mapped_column(POWER_KW)
    plugged_in_at: Mapped[datetime]
    departure_at: Mapped[datetime]
    tariff_id: Mapped[str | None] = mapped_column(ForeignKey("tariffs.tariff_id"))
    rate: Mapped[str | None] = mapped_column(String(16))  # evNight, plain, quickCharge (2.1 / 3.1.2)
    planned_start: Mapped[datetime | None]
    planned_end: Mapped[datetime | None]
    planned_wh: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime | None]
    start_register_wh: Mapped[int | None] = mapped_column(BigInteger)
    end_register_wh: Mapped[int | None] = mapped_column(BigInteger)
    consumed_wh: Mapped[int | None] = mapped_column(BigInteger)
    completed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read by SQLAlchemy, never mutated


class SessionTransition(Base):
    """One state change of a session: the state machine's audit trail."""

    __tablename__ = "session_transitions"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("charging_sessions.session_id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(STATE_LENGTH))
    to_state: Mapped[str] = mapped_column(String(STATE_LENGTH))
    at: Mapped[datetime]
    message_id: Mapped[str | None] = mapped_column(String(MESSAGE_ID_LENGTH))
    detail: Mapped[str | None] = mapped_column(Text)


class SlotAllocation(Base):
    """The power a session is given in one scheduler slot."""

    __tablename__ = "slot_allocations"

    session_id: Mapped[str] = mapped_column(ForeignKey("charging_sessions.session_id"), primary_key=True)
    slot_start: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    power_kw: Mapped[Decimal] = mapped_column(SLOT_POWER_KW)


# --- metering, settlement, billing ------------------------------------------------------


class MeterReading(Base):
    """A register or interval value of a meter (IEC 61968-9 Reading), in Wh."""

    __tablename__ = "meter_readings"
    __table_args__ = (
        UniqueConstraint("meter_number", "reading_type", "timestamp"),
        CheckConstraint(f"kind IN ({_ids('register', 'interval')})", name="kind"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    meter_number: Mapped[str] = mapped_column(String(ID_LENGTH))
    reading_type: Mapped[str] = mapped_column(String(128))
    timestamp: Mapped[datetime]
    value_wh: Mapped[int] = mapped_column(BigInteger)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("charging_sessions.session_id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    source_message_id: Mapped[str | None] = mapped_column(String(MESSAGE_ID_LENGTH))


class SettlementRecord(Base):
    """Use-case 3.3.5: a third-party session's energy moves from the host's account to the owner's."""

    __tablename__ = "settlement_records"

    settlement_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("charging_sessions.session_id"), unique=True)
    from_account_id: Mapped[str] = mapped_column(ForeignKey("customer_accounts.account_id"))
    to_account_id: Mapped[str] = mapped_column(ForeignKey("customer_accounts.account_id"))
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Bill(Base):
    """Bill information received from the billing system (step 4.1.1), kept as received."""

    __tablename__ = "bills"

    bill_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("charging_sessions.session_id"), unique=True)
    # The billing system's word, not a foreign key: billing is the authority here.
    account_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    currency: Mapped[str] = mapped_column(CHAR(3))
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    issued_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)


# --- messaging --------------------------------------------------------------------------


class OutboxMessage(Base):
    """A message waiting to be delivered (store-and-forward to billing, MDM, portals)."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(f"status IN ({_ids('pending', 'delivered', 'failed')})", name="status"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_LENGTH), unique=True)
    destination: Mapped[str] = mapped_column(String(ID_LENGTH))
    verb: Mapped[str] = mapped_column(String(16))
    noun: Mapped[str] = mapped_column(String(ID_LENGTH))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class InboundMessage(Base):
    """An applied inbound MessageID, the message it is bound to and the reply it got.

    A replay of the same message gets the same reply; the MessageID on another message
    (verb, noun or ``payload_digest`` differ) is refused. ``payload_digest``: SHA-256 hex
    of the message's verb, noun and body (``evgrid.messaging.router.message_digest``);
    NULL in rows from before revision 0003, which match on verb and noun.
    """

    __tablename__ = "inbound_messages"

    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_LENGTH), primary_key=True)
    verb: Mapped[str] = mapped_column(String(16))
    noun: Mapped[str] = mapped_column(String(ID_LENGTH))
    source: Mapped[str | None] = mapped_column(String(128))
    reply: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utc_now)
    payload_digest: Mapped[str | None] = mapped_column(String(DIGEST_LENGTH))


class AuditEntry(Base):
    """Who did what to which subject, and when."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(ID_LENGTH))
    action: Mapped[str] = mapped_column(String(ID_LENGTH))
    subject: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# ---------------------------------------------------------------- scale-out
# Several ``evgrid serve`` workers on one PostgreSQL database:
# - Worker: each worker's heartbeat; a worker is live while its ``seen_at`` is younger
#   than the lease time.
# - StationLease: which worker dispatches a station, until when (adapters.store.leases).
# - DispatchOrder: a start or stop order was issued for a session; at most one of each,
#   whichever worker fires the job (adapters.store.dispatch).
# - PlanPartition and PlanChange: each grid partition's plan change log; a partition's
#   row is the lock that serialises its planner changes across workers
#   (adapters.store.plan_log).

START_ORDER = "start"
STOP_ORDER = "stop"
PLACE = "place"
RELEASE = "release"
LOAD = "load"  # a transformer's base load read live
PARTITION_LENGTH = ID_LENGTH + 16  # "feeder:" or "transformer:" and the id
# The registry's version, bumped by every registry or tariff import (see registry_version).
REGISTRY_VERSION_ID = 2


class Worker(Base):
    """A ``serve`` worker and when it last renewed its leases."""

    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    seen_at: Mapped[datetime]


class StationLease(Base):
    """Which ``serve`` worker dispatches a station, until when (scale-out)."""

    __tablename__ = "station_leases"

    station_id: Mapped[str] = mapped_column(ForeignKey("charging_stations.station_id"), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    expires_at: Mapped[datetime]


class DispatchOrder(Base):
    """A session's start (or stop) order was put in the outbox: never a second one."""

    __tablename__ = "dispatch_orders"
    __table_args__ = (CheckConstraint(f"action IN ({_ids(START_ORDER, STOP_ORDER)})", name="action"),)

    session_id: Mapped[str] = mapped_column(ForeignKey("charging_sessions.session_id"), primary_key=True)
    action: Mapped[str] = mapped_column(String(8), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    ordered_at: Mapped[datetime]


class PlanState(Base):
    """Counters; row ``REGISTRY_VERSION_ID`` counts registry and tariff imports (:func:`registry_version`)."""

    __tablename__ = "plan_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)


class PlanPartition(Base):
    """A grid partition's newest ``plan_changes`` sequence number; its row is the partition's plan lock."""

    __tablename__ = "plan_partitions"

    partition_id: Mapped[str] = mapped_column(String(PARTITION_LENGTH), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class PlanChange(Base):
    """One change of a partition's plan: a session placed (its request and power), released, or a base load read.

    ``seq`` is given under the partition's lock, so a partition's entries commit in ``seq``
    order with no gaps still in flight: a reader that sees ``seq`` n of a partition has
    seen every entry of it below n.
    """

    __tablename__ = "plan_changes"
    __table_args__ = (CheckConstraint(f"kind IN ({_ids(PLACE, RELEASE, LOAD)})", name="kind"),)

    partition_id: Mapped[str] = mapped_column(String(PARTITION_LENGTH), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8))
    session_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    # Placements only: the SessionRequest as placed and its exact power per slot (floats:
    # JSON keeps them to the bit, unlike the kW rounded to the watt in slot_allocations).
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    power_kw: Mapped[list[float] | None] = mapped_column(JSON)
    worker_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    at: Mapped[datetime]


# Read by every unit of work: a Core statement, no ORM bookkeeping.
_REGISTRY_VERSION = select(PlanState.__table__.c.seq).where(PlanState.__table__.c.id == REGISTRY_VERSION_ID)


def registry_version(db: DbSession) -> int:
    """The registry's version (0 before any import): the ``plan_state`` row ``REGISTRY_VERSION_ID``."""
    return int(db.connection().execute(_REGISTRY_VERSION).scalar() or 0)


def bump_registry_version(db: DbSession) -> None:
    """A registry or tariff import changed the registry, in ``db``'s transaction: running planners read it again.

    The row is made by the first import (the schema is unchanged: no migration); an
    update takes its row lock, so concurrent imports each add one.
    """
    done = db.execute(update(PlanState).where(PlanState.id == REGISTRY_VERSION_ID).values(seq=PlanState.seq + 1))
    if not done.rowcount:  # type: ignore[attr-defined]
        db.add(PlanState(id=REGISTRY_VERSION_ID, seq=1))
        db.flush()
