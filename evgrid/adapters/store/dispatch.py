"""Once-only dispatch across scale-out workers, and what each worker must schedule.

Each worker keeps its start and stop jobs in memory; the store is the truth they come
from and the judge of whether a fired job may act:

- :func:`admit` is the fence of a fired job, inside the transaction that would put the
  order in the outbox: the worker must hold the station's unexpired lease (row locked)
  and the order must not have been issued yet. :func:`record_order` writes the
  ``dispatch_orders`` row (primary key: session and action) in the same transaction, so
  a second fire, here or on the worker that took the station over, finds it.
- :func:`pending` lists the sessions that need jobs, for the stations a worker gained;
  :func:`changes_since` feeds the sweep that picks up sessions another worker placed:
  incremental on each partition's plan log ``seq`` (gap-free, see :mod:`.plan_log`),
  never a scan of the sessions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import translate_errors
from evgrid.adapters.store.leases import StationLeases, chunks
from evgrid.adapters.store.models import PLACE, DispatchOrder, PlanChange
from evgrid.adapters.store.plan_log import heads
from evgrid.operations.session import SessionState

# States in which a session may still need a start or stop order.
DISPATCHABLE = (SessionState.SCHEDULED.value, SessionState.CHARGING.value)
PARTITIONS_PER_QUERY = 50


@dataclass(frozen=True, slots=True)
class Pending:
    """A session that needs jobs: when to start it and (if known) to stop it."""

    session_id: str
    station_id: str
    start_utc: datetime
    stop_utc: datetime | None


@dataclass(frozen=True, slots=True)
class PlanEvent:
    """One plan log entry as the sweep sees it: placed (with its jobs) or released."""

    partition_id: str
    seq: int
    session_id: str
    station_id: str | None
    pending: Pending | None  # None for a release, or a session no longer dispatchable


def admit(db: DbSession, leases: StationLeases, session_id: str, action: str) -> bool:
    """Whether this worker may issue ``action`` for ``session_id`` now (see the module docstring)."""
    station_id = db.scalar(select(m.ChargingSession.station_id).where(m.ChargingSession.session_id == session_id))
    if station_id is None or not leases.holds(db, station_id):
        return False
    return db.get(DispatchOrder, (session_id, action)) is None


def record_order(db: DbSession, session_id: str, action: str, worker_id: str) -> None:
    """The order was put in the outbox (same transaction): it is never issued again."""
    db.add(DispatchOrder(session_id=session_id, action=action, worker_id=worker_id, ordered_at=datetime.now(UTC)))
    db.flush()


def plan_heads(sessions: sessionmaker[DbSession]) -> dict[str, int]:
    """Each partition's newest plan log ``seq``: where a sweep starts."""
    with translate_errors(), sessions() as db:
        return heads(db)


def pending(sessions: sessionmaker[DbSession], stations: Collection[str] | None = None) -> list[Pending]:
    """Every scheduled or charging session (at ``stations``, when given) with its start and stop."""
    query = select(m.ChargingSession).where(m.ChargingSession.state.in_(DISPATCHABLE))
    with translate_errors(), sessions() as db:
        if stations is None:
            return [_pending(row) for row in db.scalars(query)]
        return [_pending(row) for chunk in chunks(sorted(stations))
                for row in db.scalars(query.where(m.ChargingSession.station_id.in_(chunk)))]


def changes_since(sessions: sessionmaker[DbSession], seen: Mapping[str, int]) -> list[PlanEvent]:
    """The plan log entries after ``seen`` (partition -> seq; a partition not in it: from its start).

    O(partitions) for the heads, then O(entries) by primary key for the partitions that
    moved; each partition's entries oldest first.
    """
    with translate_errors(), sessions() as db:
        moved = sorted((key, seen.get(key, 0)) for key, seq in heads(db).items() if seq > seen.get(key, 0))
        events = []
        for start in range(0, len(moved), PARTITIONS_PER_QUERY):
            after = or_(*(and_(PlanChange.partition_id == key, PlanChange.seq > seq)
                          for key, seq in moved[start:start + PARTITIONS_PER_QUERY]))
            rows = db.execute(
                select(PlanChange.partition_id, PlanChange.seq, PlanChange.kind, PlanChange.session_id,
                       m.ChargingSession)
                .outerjoin(m.ChargingSession, m.ChargingSession.session_id == PlanChange.session_id)
                .where(after).order_by(PlanChange.partition_id, PlanChange.seq))
            for partition_id, seq, kind, session_id, row in rows:
                live = kind == PLACE and row is not None and row.state in DISPATCHABLE
                events.append(PlanEvent(partition_id, seq, session_id, row.station_id if row is not None else None,
                                        _pending(row) if live else None))
        return events


def _pending(row: m.ChargingSession) -> Pending:
    start = row.planned_start or row.plugged_in_at
    stop = row.planned_end or row.departure_at
    return Pending(row.session_id, row.station_id, start, stop if stop and stop > start else None)
