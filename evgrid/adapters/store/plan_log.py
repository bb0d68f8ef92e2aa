"""The plan across scale-out workers: per grid partition, a change log and a lock row.

Every worker keeps its own :class:`~evgrid.scheduler.partitions.PartitionedPlanner` in
memory (placing a session reads only its partition there: fast). So that two workers
never place against different plans of a partition, and so overload a transformer:

- a unit of work that uses a partition first locks the partition's ``plan_partitions``
  row (``SELECT ... FOR UPDATE``; made on first use), and then brings that partition up
  to date with the changes the others logged since it last looked (``plan_changes`` of
  the partition with ``seq`` above what it has seen: their placements adopted with the
  power they were given, their releases);
- each placement or release is logged, in the same transaction as the allotment, with
  the partition's next ``seq``; the lock is held until the commit, so a partition's log
  is written in ``seq`` order and a reader that sees its entry n sees every entry below
  it (the dispatch sweep relies on that too).

Requests on different partitions (different feeders) take different locks: they never
wait for each other, in one worker or across workers. Units of work that never touch the
planner (meter readings, events, bills) take no plan lock. Within one worker, the
partition's in-process lock, taken before its row lock, keeps the worker's threads off
its staged state. A partition is opened (or moved to a new window) inside the unit of
work that holds its lock: its sessions are restored from the slot allocations read in
that transaction, exactly the plan at the log's ``seq`` then.

The log is pruned (:func:`prune`): entries older than a retention (two days) are deleted,
oldest first, per partition. A worker that finds a partition's log pruned past what it
has seen (idle for that long), or an entry placed in another window than its own,
reopens that partition from the slot allocations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import aliased, sessionmaker

from evgrid.adapters.store.database import translate_errors
from evgrid.adapters.store.models import LOAD, PLACE, RELEASE, PlanChange, PlanPartition
from evgrid.operations.ports import Allotment, LoadChange
from evgrid.operations.session import Session
from evgrid.scheduler.model import Horizon, SessionRequest
from evgrid.scheduler.partitions import Partition, PartitionedPlanner, Planned, base_in, observe_in, reshape_in

log = logging.getLogger(__name__)

# How long plan log entries are kept: far longer than any worker goes without using its planner.
RETENTION = timedelta(days=2)

# Core statements on the unit of work's connection: on the hot path of every placement,
# where the ORM's bookkeeping cost more than the statements.
_PARTITIONS, _CHANGES = PlanPartition.__table__, PlanChange.__table__
_LOCK = select(_PARTITIONS.c.seq).where(_PARTITIONS.c.partition_id == bindparam("key")).with_for_update()
_MAKE = {name: dialect.insert(_PARTITIONS).on_conflict_do_nothing()
         for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}
_SINCE = (select(_CHANGES).where(_CHANGES.c.partition_id == bindparam("key"), _CHANGES.c.seq > bindparam("seen"))
          .order_by(_CHANGES.c.seq))
_ADVANCE = (update(_PARTITIONS).where(_PARTITIONS.c.partition_id == bindparam("key"))
            .values(seq=bindparam("new_seq")))


def heads(db: DbSession) -> dict[str, int]:
    """The newest ``seq`` of every partition's log (O(partitions): a few hundred for a million meters)."""
    return {key: seq for key, seq in db.execute(select(PlanPartition.partition_id, PlanPartition.seq))}


def prune(sessions: sessionmaker[DbSession], older_than: datetime) -> int:
    """Delete each partition's entries up to its newest one written before ``older_than``; returns how many.

    By ``seq``, not by time alone: the workers' clocks may disagree a little, and a log
    must never get a hole in the middle.
    """
    older = aliased(PlanChange)
    last = (select(func.max(older.seq)).where(older.partition_id == PlanChange.partition_id, older.at < older_than)
            .scalar_subquery())
    with translate_errors(), sessions.begin() as db:
        return db.execute(delete(PlanChange).where(PlanChange.seq <= last)).rowcount


class PlanLog:
    """One worker's side of the shared plan: its planner, each partition's log position kept on the partition.

    Args:
        planner: this worker's planner.
        worker_id: written with each change (who placed what).
        read_planned: a partition's planned sessions over a window, read in the given
            transaction (:func:`evgrid.adapters.store.planning.planned_in`).
    """

    def __init__(self, planner: PartitionedPlanner, worker_id: str,
                 read_planned: Callable[[DbSession, Horizon, str], Planned]) -> None:
        self.planner, self.worker_id, self.read_planned = planner, worker_id, read_planned

    def bind(self, db: DbSession) -> SharedPlan:
        """The Planner port for one unit of work on ``db``."""
        return SharedPlan(self, db)


class SharedPlan:
    """The Planner port of one unit of work in a scale-out worker (see the module docstring).

    The unit of work calls :meth:`commit` after its database commit and
    :meth:`discard` when it ends, whatever happened.
    """

    def __init__(self, plan_log: PlanLog, db: DbSession) -> None:
        self._log, self._db = plan_log, db
        self._held: dict[str, list[Any]] = {}  # partition key -> [partition, its seq in this transaction]

    def place(self, session: Session, now: datetime | None = None) -> Allotment:
        planner = self._log.planner
        part = planner.partition(planner.partition_of(session.transformer_id))
        self._hold(part, now or session.plugged_in_utc)
        window = planner.current(part, now or session.plugged_in_utc, self._planned)
        allotment = window.place(session, now)
        request, power = window.placed(session.session_id)
        self._append(part, PLACE, session.session_id, _request_fields(request, part.start_utc), list(power))
        return allotment

    def release(self, session_id: str, transformer_id: str) -> None:
        part = self._log.planner.releasing(session_id, transformer_id)
        if part is None:
            return  # on a transformer gone from the registry, in no partition open here
        self._hold(part, None)
        if part.window is not None:
            self._log.planner.refresh(part)
            part.window.release(session_id)
        # Logged even when not open here: the workers that have it open release it too.
        self._append(part, RELEASE, session_id, None, None)

    def observe_load(self, transformer_id: str, interval_start: datetime, measured_kw: float,
                     now: datetime) -> LoadChange:
        planner = self._log.planner
        part = planner.partition(planner.partition_of(transformer_id))
        self._hold(part, now)
        window = planner.current(part, now, self._planned)
        change = observe_in(window, transformer_id, interval_start, measured_kw, now)
        if change.base_kw:
            loads = {moment.isoformat(): kw for moment, kw in change.base_kw.items()}
            self._append(part, LOAD, transformer_id, {"transformer_id": transformer_id, "base_kw": loads}, None)
        return change

    def reshape(self, session: Session, from_utc: datetime) -> Allotment:
        planner = self._log.planner
        part = planner.partition(planner.partition_of(session.transformer_id))
        self._hold(part, from_utc)
        window = planner.current(part, from_utc, self._planned)
        allotment = reshape_in(window, session, from_utc)
        request, power = window.placed(session.session_id)
        # Logged as a placement: the others take the new power in place of the old.
        self._append(part, PLACE, session.session_id, _request_fields(request, part.start_utc), list(power))
        return allotment

    def commit(self) -> None:
        """Keep the staged plans (the transaction committed): each partition is at our ``seq``."""
        for part, seq in self._held.values():
            if part.window is not None:
                part.window.commit()
            part.seen = seq

    def discard(self) -> None:
        """Forget what was staged and let the worker's other threads at the partitions."""
        held, self._held = self._held, {}
        for part, _ in held.values():
            try:
                if part.window is not None:
                    part.window.discard()
            finally:
                part.lock.release()

    def _planned(self, key: str, horizon: Horizon) -> Planned:
        return self._log.read_planned(self._db, horizon, key)

    def _hold(self, part: Partition, moment: datetime | None) -> None:
        """Lock the partition (in process, then its row) and bring it up to the log's head."""
        if part.key in self._held:
            return
        part.lock.acquire()
        try:
            head = self._lock_row(part.key)
            self._catch_up(part, head, moment)
        except BaseException:
            if part.window is not None:
                part.window.discard()
            part.lock.release()
            raise
        self._held[part.key] = [part, head]

    def _lock_row(self, key: str) -> int:
        connection = self._db.connection()
        seq = connection.execute(_LOCK, {"key": key}).scalar()
        if seq is None:  # the partition's first change anywhere: make its row (a concurrent maker's wins)
            connection.execute(_MAKE[connection.dialect.name], {"partition_id": key, "seq": 0})
            seq = connection.execute(_LOCK, {"key": key}).scalar()
        return int(seq or 0)

    def _catch_up(self, part: Partition, head: int, moment: datetime | None) -> None:
        """Apply the others' changes of the partition since ours (up to ``head``): staged, so a rollback forgets them."""
        planner = self._log.planner
        if part.window is None:
            if moment is not None:  # first used here: the store's allocations, at the log's head
                planner.open(part, planner.horizon.start_at(moment), self._planned)
                part.seen = head
            return  # a release in a partition never opened here: nothing in memory to change
        if part.seen == head:
            return
        expected = part.seen + 1
        for change in self._db.connection().execute(_SINCE, {"key": part.key, "seen": part.seen}):
            placed_from = (datetime.fromisoformat(change.request["window_start"])
                           if change.kind == PLACE and change.request else None)
            if change.seq != expected or (placed_from is not None and placed_from != part.start_utc):
                # Pruned past what this worker has seen, or placed in another window: the
                # store's allocations are the plan (no change of it commits while we hold the lock).
                start = max(part.start_utc, placed_from or part.start_utc,  # type: ignore[type-var]
                            planner.horizon.start_at(moment) if moment else part.start_utc)
                if change.seq != expected:  # idle for the retention: worth an operator's eye
                    log.warning("partition %s: plan log at %s not followed from %s: reopened from the store",
                                part.key, change.seq, part.seen)
                planner.open(part, start, self._planned)
                part.seen = head
                return
            expected += 1
            if change.kind == RELEASE:
                part.window.release(change.session_id)
                continue
            if change.kind == LOAD:  # a base load read at another worker: times, so any window takes it
                assert change.request is not None
                base_in(part.window, change.request["transformer_id"],
                        {datetime.fromisoformat(moment): kw for moment, kw in change.request["base_kw"].items()})
                continue
            assert change.request is not None and change.power_kw is not None
            try:
                part.window.adopt(_request(change.session_id, change.request), change.power_kw)
            except ValueError as error:
                # A transformer this worker's partition does not know (the registry changed
                # since it was read): read it afresh, and adopt what it can.
                log.warning("plan change %s/%s not adopted: %s", part.key, change.seq, error)

    def _append(self, part: Partition, kind: str, session_id: str, request: dict[str, Any] | None,
                power: Sequence[float] | None) -> None:
        held = self._held[part.key]
        held[1] += 1
        connection = self._db.connection()
        connection.execute(_CHANGES.insert(), {
            "partition_id": part.key, "seq": held[1], "kind": kind, "session_id": session_id, "request": request,
            "power_kw": list(power) if power is not None else None, "worker_id": self._log.worker_id,
            "at": datetime.now(UTC)})
        connection.execute(_ADVANCE, {"key": part.key, "new_seq": held[1]})


def _request_fields(request: SessionRequest, window_start: datetime | None) -> dict[str, Any]:
    assert window_start is not None
    return {"window_start": window_start.isoformat(), "arrival_utc": request.arrival_utc.isoformat(),
            "departure_utc": request.departure_utc.isoformat(),
            "energy_wh": request.energy_wh, "max_power_kw": request.max_power_kw,
            "transformer_id": request.transformer_id, "third_party": request.third_party}


def _request(session_id: str, fields: dict[str, Any]) -> SessionRequest:
    return SessionRequest(
        session_id=session_id, arrival_utc=datetime.fromisoformat(fields["arrival_utc"]),
        departure_utc=datetime.fromisoformat(fields["departure_utc"]), energy_wh=int(fields["energy_wh"]),
        max_power_kw=float(fields["max_power_kw"]), transformer_id=str(fields["transformer_id"]),
        third_party=bool(fields["third_party"]),
    )
