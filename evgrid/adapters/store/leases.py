"""Station leases: exactly one of several ``serve`` workers dispatches a given station.

Each worker calls :meth:`StationLeases.renew` every ``ttl / 3`` seconds. One renewal is
one transaction:

1. the worker's heartbeat (``workers.seen_at``); the *live* workers are those seen
   within the lease time (``ttl``);
2. each station's owner is its rendezvous-hash (HRW) winner among the live workers:
   every worker computes the same owner from the same table, and a worker joining or
   leaving moves only the stations it wins or held (about 1/n of them);
3. its own leases it still wins are renewed (``expires_at = now + ttl``); those another
   live worker now wins are handed over, the row rewritten to the winner with a fresh
   expiry, so the station always has a holder (a new worker gets stations only once it
   is live, i.e. once it heartbeats);
4. stations it wins whose lease expired (a dead worker's) or that have none are claimed.

Rows are locked while they change (``FOR UPDATE``; leases of others with ``SKIP
LOCKED``, so a renewal never waits for another's), and claims of new rows are
``INSERT ... ON CONFLICT DO NOTHING`` in station order: two workers can never both
hold a station. The fence of the dispatch, :meth:`StationLeases.holds`, reads the lease
row locked, in the transaction that issues the order.

Takeover time: a dead worker's leases expire at most ``ttl`` after its last renewal,
and a survivor's next renewal (every ``ttl / 3``) takes them: within ``ttl + ttl / 3``
of the death (20 s with the default 15 s). A worker that stops gracefully calls
:meth:`StationLeases.release_all`; the others take its stations at their next renewal.

On SQLite, which serves one process, the locking clauses are left out by SQLAlchemy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import translate_errors
from evgrid.adapters.store.models import StationLease, Worker

DEFAULT_TTL_SECONDS = 15.0
# Workers not seen for this many lease times are forgotten (their rows only cost reads).
FORGET_AFTER_TTLS = 20
CHUNK = 1000  # station ids per statement


def wall() -> datetime:
    """Wall-clock UTC: the default clock of leases."""
    return datetime.now(UTC)


def hrw_winner(station_id: str, workers: Collection[str]) -> str:
    """The worker that owns ``station_id`` among ``workers`` (highest rendezvous hash).

    A stable hash (not Python's salted ``hash``): every process computes the same owner.
    """
    return max(workers, key=lambda worker: (_score(worker, station_id), worker))


def chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    """``items`` in slices of ``size``: IN lists and multi-row INSERTs stay below driver limits."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _score(worker: str, station_id: str) -> int:
    digest = hashlib.blake2b(f"{worker}\x00{station_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True, slots=True)
class LeaseChange:
    """What a renewal found: the stations held now, and which of them are new or gone."""

    held: frozenset[str]
    gained: frozenset[str]
    lost: frozenset[str]


class StationLeases:
    """One worker's leases on the stations (see the module docstring).

    Args:
        sessions: the store's session factory.
        worker_id: this worker's id, unique among the workers of the database.
        ttl_seconds: how long a lease lasts without renewal; renew every third of it.
        clock: wall-clock UTC (injected for tests).
    """

    def __init__(self, sessions: sessionmaker[DbSession], worker_id: str, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 clock: Callable[[], datetime] = wall) -> None:
        if ttl_seconds <= 0:
            raise ValueError("the lease time must be positive")
        self._sessions, self.worker_id, self._clock = sessions, worker_id, clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self.renew_seconds = ttl_seconds / 3
        self._held: frozenset[str] = frozenset()

    @property
    def takeover_seconds(self) -> float:
        """The longest a dead worker's stations go without a holder: ttl + renew interval."""
        return self.ttl.total_seconds() + self.renew_seconds

    def held(self) -> frozenset[str]:
        """The stations held at the last renewal."""
        return self._held

    def renew(self) -> LeaseChange:
        """Heartbeat, renew, hand over and claim (one transaction); what changed.

        Raises:
            StoreError: the database failed; nothing changed (leases run out on their own).
        """
        now = self._clock()
        expires = now + self.ttl
        me = self.worker_id
        with translate_errors(), self._sessions.begin() as db:
            self._heartbeat(db, now)
            live = set(db.scalars(select(Worker.worker_id).where(Worker.seen_at > now - self.ttl))) | {me}
            stations = sorted(db.scalars(select(m.ChargingStation.station_id)))
            owner = {station: hrw_winner(station, live) for station in stations}

            for lease in db.scalars(select(StationLease).where(StationLease.worker_id == me)
                                    .with_for_update().execution_options(populate_existing=True)):
                # Another live worker wins it now (it joined): its holder hands it over.
                lease.worker_id, lease.expires_at = owner.get(lease.station_id, me), expires
            lapsed = (StationLease.worker_id != me, StationLease.expires_at <= now)
            # Its holder is gone: taken over. Only the rows this worker wins are locked, so
            # workers taking over a dead one's stations at the same time never skip each other's.
            wanted = [s for s in db.scalars(select(StationLease.station_id).where(*lapsed)) if owner.get(s) == me]
            for chunk in chunks(wanted):
                for lease in db.scalars(select(StationLease).where(StationLease.station_id.in_(chunk), *lapsed)
                                        .with_for_update(skip_locked=True)
                                        .execution_options(populate_existing=True)):
                    lease.worker_id, lease.expires_at = me, expires
            db.flush()
            leased = set(db.scalars(select(StationLease.station_id)))
            free = [station for station in stations if station not in leased and owner[station] == me]
            for chunk in chunks(free):
                db.execute(_insert(db, StationLease).values(
                    [{"station_id": station, "worker_id": me, "expires_at": expires} for station in chunk]
                ).on_conflict_do_nothing(index_elements=["station_id"]))
            held = frozenset(db.scalars(select(StationLease.station_id).where(
                StationLease.worker_id == me, StationLease.expires_at > now)))
        return self._changed(held)

    def release_all(self) -> LeaseChange:
        """Give up every lease and the heartbeat (graceful stop): others take over at once."""
        with translate_errors(), self._sessions.begin() as db:
            db.execute(delete(StationLease).where(StationLease.worker_id == self.worker_id))
            db.execute(delete(Worker).where(Worker.worker_id == self.worker_id))
        return self._changed(frozenset())

    def forget(self) -> LeaseChange:
        """Count nothing as held (renewals failed for a lease time: the leases may be gone).

        The next successful renewal then reports every station held as gained.
        """
        return self._changed(frozenset())

    def holds(self, db: DbSession, station_id: str) -> bool:
        """Whether this worker holds ``station_id``'s unexpired lease, the row locked till ``db`` ends.

        The fence of a dispatch: called in the transaction that puts the order in the
        outbox, so a takeover (which locks the same row) comes before or after it, never
        in between.
        """
        lease = db.scalars(select(StationLease).where(StationLease.station_id == station_id)
                           .with_for_update().execution_options(populate_existing=True)).first()
        return lease is not None and lease.worker_id == self.worker_id and lease.expires_at > self._clock()

    def _heartbeat(self, db: DbSession, now: datetime) -> None:
        db.execute(_insert(db, Worker).values(worker_id=self.worker_id, seen_at=now)
                   .on_conflict_do_update(index_elements=["worker_id"], set_={"seen_at": now}))
        db.execute(delete(Worker).where(Worker.seen_at < now - FORGET_AFTER_TTLS * self.ttl))

    def _changed(self, held: frozenset[str]) -> LeaseChange:
        before, self._held = self._held, held
        return LeaseChange(held, held - before, before - held)


def _insert(db: DbSession, table: type[m.Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with ON CONFLICT for the session's database (PostgreSQL or SQLite)."""
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"station leases need PostgreSQL or SQLite, not {dialect}")

