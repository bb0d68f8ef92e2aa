"""The reference Meter Data Management system's store: readings in Wh, on SQLite or PostgreSQL.

The MDM stands in for an external system, so it keeps its own database: an SQLite file
(or memory) or any SQLAlchemy URL (``postgresql+psycopg://...``, ``sqlite:///...``),
its tables made on first use (``CREATE TABLE IF NOT EXISTS``; no migrations: nothing
else reads them). Three tables, SQLAlchemy Core:

- ``registers``: one register read per meter and timestamp (energy register, integer Wh);
- ``intervals``: one 15-minute interval per meter and end time (integer Wh), ``quality``
  NULL for an actual reading or the IEC 61968-9 ReadingQualityType of an estimate;
- ``inbound``: the Router's journal of applied MessageIDs and their replies.

Both reading tables keep the usage point, the ReadingType the value came in and the
MessageID that last wrote it. Times are aware UTC (:class:`~.models.UtcDateTime`).

Concurrency: a unit of work is one transaction. On SQLite it is ``BEGIN IMMEDIATE``
under a process lock (one writer, as SQLite allows anyway); on PostgreSQL the MDM takes
transaction-scoped advisory locks on the meters, usage points and MessageIDs it reads
(:meth:`MdmUnitOfWork.lock`, and :meth:`MdmJournal.reply_for`), so two messages about one
meter, or the same message twice, are applied one after the other and each validates
against what the other committed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.pool import StaticPool

from evgrid.adapters.store.database import make_engine
from evgrid.adapters.store.models import DIGEST_LENGTH, ID_LENGTH, MESSAGE_ID_LENGTH, UtcDateTime

MEMORY = ":memory:"
QUALITY_LENGTH = 16
# Rows per INSERT statement: 7 columns x 100 stays under SQLite's smallest limit of 999 parameters.
INSERT_BATCH = 100

metadata = MetaData()

registers = Table(
    "registers", metadata,
    Column("meter", String(ID_LENGTH), primary_key=True),
    Column("time_stamp", UtcDateTime(), primary_key=True),
    Column("usage_point", String(ID_LENGTH), nullable=False),
    Column("reading_type", String(ID_LENGTH), nullable=False),
    Column("value_wh", BigInteger(), nullable=False),
    Column("message_id", String(MESSAGE_ID_LENGTH)),
    Index("ix_registers_usage_point_time_stamp", "usage_point", "time_stamp"),
    sqlite_with_rowid=False,
)

intervals = Table(
    "intervals", metadata,
    Column("meter", String(ID_LENGTH), primary_key=True),
    Column("end_time", UtcDateTime(), primary_key=True),
    Column("usage_point", String(ID_LENGTH), nullable=False),
    Column("reading_type", String(ID_LENGTH), nullable=False),
    Column("value_wh", BigInteger(), nullable=False),
    Column("quality", String(QUALITY_LENGTH)),  # NULL: actual
    Column("message_id", String(MESSAGE_ID_LENGTH)),
    # No index by usage point: a usage point's meter comes from ``registers`` (every span
    # has its reads there), and each index more is one more B-tree write per interval.
    sqlite_with_rowid=False,  # SQLite: the table is its primary key's B-tree, one write per row
)

inbound = Table(
    "inbound", metadata,
    Column("message_id", String(MESSAGE_ID_LENGTH), primary_key=True),
    Column("verb", String(16), nullable=False),
    Column("noun", String(ID_LENGTH), nullable=False),
    Column("source", String(128)),
    Column("reply", LargeBinary(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("payload_digest", String(DIGEST_LENGTH)),
)


class StoredRegister(NamedTuple):
    """A register read as the MDM keeps it: Wh at an instant (a tuple: a day of a meter makes 98 of these)."""

    meter: str
    usage_point: str
    reading_type: str
    at_utc: datetime
    wh: int


class StoredInterval(NamedTuple):
    """A 15-minute interval as the MDM keeps it, stamped with its end; ``quality`` None when actual."""

    meter: str
    usage_point: str
    reading_type: str
    end_utc: datetime
    wh: int
    quality: str | None = None


def database_url(database: str | Path) -> str:
    """The SQLAlchemy URL of ``database``: a URL as given, a path as an SQLite file, :data:`MEMORY` as memory."""
    text_ = str(database)
    if "://" in text_:
        return text_
    return "sqlite://" if text_ == MEMORY else f"sqlite:///{Path(text_).resolve()}"


def _engine(url: str) -> Engine:
    if url in ("sqlite://", "sqlite:///:memory:"):
        # One connection for the process: a new one would be another, empty, database.
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        # pysqlite begins a transaction only at the first write, after this unit of work
        # has read what it validates against: BEGIN IMMEDIATE takes the write lock first.
        event.listen(engine, "connect", _no_implicit_transactions)
        event.listen(engine, "begin", _begin_immediate)
    return engine


def _no_implicit_transactions(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    # On the driver's connection: the statement needs none of SQLAlchemy's execution machinery.
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]


def _aware(moment: datetime) -> datetime:
    return moment


def _from_postgresql(moment: datetime) -> datetime:
    """A ``timestamptz`` as psycopg hands it back (in the session's time zone) as UTC."""
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _from_sqlite(text_: str) -> datetime:
    """What :func:`_sqlite_text` (and SQLAlchemy's SQLite DATETIME) stored, as an aware UTC datetime."""
    return datetime.fromisoformat(text_).replace(tzinfo=UTC)


# A whole minute of the day as the tail of :func:`_sqlite_text` (" 00:15:00.000000"), and the
# days met so far (a few thousand at most between two clears): a day of a meter is 96 times,
# and datetime.isoformat costs three times as much as the two look-ups.
_MINUTE_TEXTS = tuple(f" {h:02d}:{m:02d}:00.000000" for h in range(24) for m in range(60))
_DAY_TEXTS: dict[date, str] = {}


def _sqlite_text(moment: datetime) -> str:
    """UTC as SQLAlchemy's SQLite DATETIME stores it (what :class:`UtcDateTime` reads back): 2026-01-01 00:15:00.000000."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.second or moment.microsecond:
        return moment.isoformat(" ", "microseconds")[:26]  # without "+00:00"
    day = moment.date()
    text_ = _DAY_TEXTS.get(day)
    if text_ is None:
        if len(_DAY_TEXTS) >= 4096:
            _DAY_TEXTS.clear()
        text_ = _DAY_TEXTS[day] = day.isoformat()
    return text_ + _MINUTE_TEXTS[moment.hour * 60 + moment.minute]


class MdmStore:
    """The MDM's database: its tables, units of work and the reads a report needs."""

    def __init__(self, database: str | Path = MEMORY) -> None:
        """Open (and on first use create) the database ``database``: a path, :data:`MEMORY` or a URL."""
        self.url = database_url(database)
        self.engine = _engine(self.url)
        self.postgresql = self.engine.dialect.name == "postgresql"
        # SQLite has one writer anyway; memory is one shared connection.
        self._lock: threading.Lock | None = None if self.postgresql else threading.Lock()
        with self.engine.begin() as connection:
            metadata.create_all(connection)
        # The inserts go to the driver directly, with times as the dialect stores them:
        # SQLAlchemy's per-row parameter processing would cost more than the insert. So do
        # the other statements every message runs (the journal, the meter's reads): the same
        # SQL as Core's, times converted here.
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._mark = mark
        self._inserts: dict[tuple[str, int], str] = {}
        self.sql = {name: statement.format(mark) for name, statement in _DRIVER_SQL.items()}
        self.db_time: Callable[[datetime], object] = _aware if self.postgresql else _sqlite_text
        self.from_db_time: Callable[[Any], datetime] = _from_postgresql if self.postgresql else _from_sqlite

    def close(self) -> None:
        """Close every connection."""
        self.engine.dispose()

    def insert_rows_sql(self, table: Table, count: int) -> str:
        """One INSERT of ``count`` rows into ``table`` (multi-row VALUES: one statement, not ``count``)."""
        sql = self._inserts.get((table.name, count))
        if sql is None:
            row = f"({', '.join([self._mark] * len(table.columns))})"
            sql = self._inserts[table.name, count] = (
                f"INSERT INTO {table.name} ({', '.join(c.name for c in table.columns)}) VALUES "
                + ", ".join([row] * count))
        return sql

    def unit_of_work(self) -> MdmUnitOfWork:
        """A new unit of work (enter it to begin the transaction)."""
        return MdmUnitOfWork(self)

    @contextlib.contextmanager
    def _reading(self) -> Any:
        with self._lock or contextlib.nullcontext(), self.engine.connect() as connection:
            yield connection

    def stored_messages(self) -> int:
        """How many messages stored a reading (a replay or a refused message stores none)."""
        ids = union(select(registers.c.message_id), select(intervals.c.message_id)).subquery()
        with self._reading() as connection:
            return int(connection.scalar(select(func.count(ids.c.message_id.distinct()))) or 0)

    def count(self, table: Table, *where: Any) -> int:
        """Rows of ``table`` (``registers``, ``intervals``, ``inbound``) matching ``where``."""
        with self._reading() as connection:
            return int(connection.scalar(select(func.count()).select_from(table).where(*where)) or 0)

    def registers(self, usage_point: str, start: datetime | None = None,
                  end: datetime | None = None) -> list[StoredRegister]:
        """One usage point's register reads in ``[start, end]`` (both inclusive), oldest first."""
        with self._reading() as connection:
            return _registers(connection, (usage_point,), (), (), start, end)

    def intervals(self, usage_point: str, start: datetime | None = None,
                  end: datetime | None = None) -> list[StoredInterval]:
        """One usage point's intervals whose end lies in ``[start, end]`` (both inclusive), oldest first."""
        with self._reading() as connection:
            return _intervals(connection, (usage_point,), (), (), start, end)


class MdmJournal:
    """The Router's InboundJournal on the ``inbound`` table (on the driver's connection: it runs for every message)."""

    def __init__(self, driver: Any, store: MdmStore, now: datetime) -> None:
        self._driver, self._store, self._now = driver, store, now

    def reply_for(self, message_id: str) -> tuple[str | None, bytes, str, str, str | None] | None:
        cursor = self._driver.cursor()
        try:
            if self._store.postgresql:  # the same message twice at once: the second waits for the first's reply
                cursor.execute(self._store.sql["advisory_lock"], ("mdm-message:" + message_id,))
            cursor.execute(self._store.sql["reply_for"], (message_id,))
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        source, reply, verb, noun, digest = row
        return source, bytes(reply), verb, noun, digest

    def remember(self, message_id: str, verb: str, noun: str, source: str | None, reply: bytes,
                 digest: str | None = None) -> None:
        cursor = self._driver.cursor()
        try:
            cursor.execute(self._store.insert_rows_sql(inbound, 1), (
                message_id, verb, noun, source, reply, self._store.db_time(self._now), digest))
        finally:
            cursor.close()


# unnest scans the array in order, and the locks are taken as the rows come.
_ADVISORY_LOCKS = text("SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest(CAST(:keys AS text[])) AS k")


class MdmUnitOfWork:
    """One transaction: the Router's ``inbound`` journal and ``commit``, and the MDM's reads and writes."""

    def __init__(self, store: MdmStore) -> None:
        self._store = store
        self.now = datetime.now(UTC)
        self.db: Connection | None = None
        self.driver: Any = None  # the DBAPI connection under ``db``
        self.inbound: MdmJournal | None = None

    def __enter__(self) -> MdmUnitOfWork:
        lock = self._store._lock
        if lock is not None:
            lock.acquire()
        try:
            self.now = datetime.now(UTC)
            self.db = self._store.engine.connect()
            self.db.begin()
            self.driver = self.db.connection.driver_connection
            self.inbound = MdmJournal(self.driver, self._store, self.now)
        except BaseException:
            if self.db is not None:
                self.db.close()
            if lock is not None:
                lock.release()
            raise
        return self

    def commit(self) -> None:
        """Commit the transaction."""
        self._connection.commit()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self.db is not None:
                self.db.close()  # rolls back what was not committed
        finally:
            if self._store._lock is not None:
                self._store._lock.release()

    @property
    def _connection(self) -> Connection:
        if self.db is None:
            raise RuntimeError("enter the unit of work first")
        return self.db

    def _cursor(self) -> Any:
        """A cursor of the driver's connection, in this transaction."""
        if self.driver is None:
            raise RuntimeError("enter the unit of work first")
        return self.driver.cursor()

    def _execute(self, sql: str, parameters: Sequence[object]) -> list[Any]:
        """The rows of one statement run on the driver's connection."""
        cursor = self._cursor()
        try:
            cursor.execute(sql, parameters)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _insert(self, table: Table, rows: Sequence[tuple[object, ...]]) -> None:
        """Insert ``rows`` (in ``table``'s column order).

        SQLite: up to :data:`INSERT_BATCH` rows per statement, a day of a meter (96
        intervals) in one, a quarter cheaper than ``executemany`` of the same rows (one
        statement step, not 96). PostgreSQL: psycopg's ``executemany`` (pipelined), which
        is the cheaper one there.
        """
        store = self._store
        cursor = self._cursor()
        try:
            if store.postgresql:
                cursor.executemany(store.insert_rows_sql(table, 1), rows)
                return
            for start in range(0, len(rows), INSERT_BATCH):
                batch = rows[start:start + INSERT_BATCH]
                cursor.execute(store.insert_rows_sql(table, len(batch)), list(chain.from_iterable(batch)))
        finally:
            cursor.close()

    # ------------------------------------------------------------------ reads
    def lock(self, keys: Iterable[str]) -> None:
        """Serialise the messages about these meters and usage points (PostgreSQL; SQLite has one writer)."""
        if self._store.postgresql:  # one round trip; in one order everywhere: no deadlock between two messages
            self._connection.execute(_ADVISORY_LOCKS, {"keys": ["mdm:" + key for key in sorted(set(keys))]})

    def other_pairing(self, meter: str, usage_point: str) -> tuple[str, str] | None:
        """A stored (meter, usage point) that pairs ``meter`` or ``usage_point`` with another one, if any."""
        row = self._connection.execute(_OTHER_PAIRING, {"meter": meter, "usage_point": usage_point}).first()
        return (row.meter, row.usage_point) if row else None

    def registers_around(self, meter: str, first: datetime, last: datetime) -> list[StoredRegister]:
        """The meter's register reads in ``[first, last]``, with the one before and the one after, oldest first."""
        store, when = self._store, self._store.db_time
        rows = self._execute(store.sql["registers_around"], (meter, meter, when(first), when(first), meter, when(last),
                                                             when(last)))
        aware = store.from_db_time
        return [StoredRegister(m, u, t, aware(at), wh) for m, u, t, at, wh in rows]

    def intervals_between(self, meter: str, first_end: datetime, last_end: datetime) -> dict[datetime, StoredInterval]:
        """The meter's intervals whose end lies in ``[first_end, last_end]``, by end."""
        rows = self._connection.execute(_INTERVALS_BETWEEN, {"meter": meter, "first": first_end, "last": last_end})
        return {row.end_time: StoredInterval(*row) for row in rows}

    def select(self, usage_points: Sequence[str], meters: Sequence[str], reading_types: Sequence[str],
               start: datetime | None, end: datetime | None) -> tuple[list[StoredRegister], list[StoredInterval]]:
        """Registers and intervals matching a selection (empty: any), both ends inclusive, by meter then time."""
        return (_registers(self._connection, usage_points, meters, reading_types, start, end),
                _intervals(self._connection, usage_points, meters, reading_types, start, end))

    # ----------------------------------------------------------------- writes
    def add_registers(self, reads: Sequence[StoredRegister], message_id: str | None) -> None:
        """Insert new register reads."""
        if reads:
            when = self._store.db_time
            self._insert(registers, [
                (r.meter, when(r.at_utc), r.usage_point, r.reading_type, r.wh, message_id) for r in reads])

    def replace_registers(self, reads: Sequence[StoredRegister], message_id: str | None) -> None:
        """Overwrite stored register reads (same meter and timestamp)."""
        if reads:
            self._connection.execute(_UPDATE_REGISTER, [
                {"k_meter": r.meter, "k_time": r.at_utc, "reading_type": r.reading_type, "value_wh": r.wh,
                 "message_id": message_id} for r in reads])

    def add_intervals(self, rows: Sequence[StoredInterval], message_id: str | None) -> None:
        """Insert new intervals (a day of a meter is 96: on SQLite one statement, see :meth:`_insert`)."""
        if rows:
            when = self._store.db_time
            self._insert(intervals, [(meter, when(end), usage_point, reading_type, wh, quality, message_id)
                                     for meter, usage_point, reading_type, end, wh, quality in rows])

    def replace_intervals(self, rows: Sequence[StoredInterval], message_id: str | None) -> None:
        """Overwrite stored intervals (same meter and end): value, quality and ReadingType."""
        if rows:
            self._connection.execute(_UPDATE_INTERVAL, [
                {"k_meter": i.meter, "k_end": i.end_utc, "reading_type": i.reading_type, "value_wh": i.wh,
                 "quality": i.quality, "message_id": message_id} for i in rows])


# Built once: a unit of work runs them for every message.
_r, _i = registers.c, intervals.c
_first, _last = bindparam("first", type_=UtcDateTime()), bindparam("last", type_=UtcDateTime())
_OTHER_PAIRING = (
    select(_r.meter, _r.usage_point)
    .where(or_(and_(_r.meter == bindparam("meter"), _r.usage_point != bindparam("usage_point")),
               and_(_r.usage_point == bindparam("usage_point"), _r.meter != bindparam("meter"))))
    .limit(1))
# Run on the driver (MdmStore.sql, "{0}" the driver's parameter mark), every message.
_DRIVER_SQL = {
    "advisory_lock": "SELECT pg_advisory_xact_lock(hashtext({0}))",
    "reply_for": "SELECT source, reply, verb, noun, payload_digest FROM inbound WHERE message_id = {0}",
    # [first, last] widened to the read just before and the one just after (their times, by the primary key).
    "registers_around": (
        "SELECT meter, usage_point, reading_type, time_stamp, value_wh FROM registers "
        "WHERE meter = {0} AND time_stamp >= coalesce((SELECT max(time_stamp) FROM registers "
        "WHERE meter = {0} AND time_stamp < {0}), {0}) AND time_stamp <= coalesce((SELECT min(time_stamp) "
        "FROM registers WHERE meter = {0} AND time_stamp > {0}), {0}) ORDER BY time_stamp"),
}
_INTERVALS_BETWEEN = (
    select(_i.meter, _i.usage_point, _i.reading_type, _i.end_time, _i.value_wh, _i.quality)
    .where(_i.meter == bindparam("meter"), _i.end_time >= _first, _i.end_time <= _last))
_UPDATE_REGISTER = (update(registers)
                    .where(registers.c.meter == bindparam("k_meter"), registers.c.time_stamp == bindparam("k_time"))
                    .values(reading_type=bindparam("reading_type"), value_wh=bindparam("value_wh"),
                            message_id=bindparam("message_id")))
_UPDATE_INTERVAL = (update(intervals)
                    .where(intervals.c.meter == bindparam("k_meter"), intervals.c.end_time == bindparam("k_end"))
                    .values(reading_type=bindparam("reading_type"), value_wh=bindparam("value_wh"),
                            quality=bindparam("quality"), message_id=bindparam("message_id")))


def _filters(table: Table, time: Any, usage_points: Sequence[str], meters: Sequence[str],
             reading_types: Sequence[str], start: datetime | None, end: datetime | None) -> list[Any]:
    where = []
    if usage_points and table is intervals:  # by the primary key: the usage points' meters first
        where.append(table.c.meter.in_(select(registers.c.meter).where(registers.c.usage_point.in_(list(usage_points)))
                                       .distinct()))
    for column, values in ((table.c.usage_point, usage_points), (table.c.meter, meters),
                           (table.c.reading_type, reading_types)):
        if values:
            where.append(column.in_(list(values)))
    if start is not None:
        where.append(time >= start)
    if end is not None:
        where.append(time <= end)
    return where


def _registers(db: Connection, usage_points: Sequence[str], meters: Sequence[str], reading_types: Sequence[str],
               start: datetime | None, end: datetime | None) -> list[StoredRegister]:
    r = registers.c
    rows = db.execute(select(r.meter, r.usage_point, r.reading_type, r.time_stamp, r.value_wh)
                      .where(*_filters(registers, r.time_stamp, usage_points, meters, reading_types, start, end))
                      .order_by(r.meter, r.usage_point, r.time_stamp))
    return [StoredRegister(*row) for row in rows]


def _intervals(db: Connection, usage_points: Sequence[str], meters: Sequence[str], reading_types: Sequence[str],
               start: datetime | None, end: datetime | None) -> list[StoredInterval]:
    i = intervals.c
    rows = db.execute(select(i.meter, i.usage_point, i.reading_type, i.end_time, i.value_wh, i.quality)
                      .where(*_filters(intervals, i.end_time, usage_points, meters, reading_types, start, end))
                      .order_by(i.meter, i.usage_point, i.reading_type, i.end_time))
    return [StoredInterval(*row) for row in rows]
