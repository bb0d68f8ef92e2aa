"""One night plan across scale-out workers: a change log and a lock row.

Every worker keeps its own :class:`~evgrid.scheduler.planner.NightPlanner` in memory
(placing a session reads only its transformer's load there: fast). So that two workers
never place against different plans, and so overload a transformer:

- a unit of work that uses the planner first locks the one ``plan_state`` row
  (``SELECT ... FOR UPDATE``), and then brings its planner up to date with the changes
  the others logged since it last looked (``plan_changes`` with ``seq`` above what it
  has seen: their placements adopted with the power they were given, their releases);
- each placement or release is logged, in the same transaction as the allotment, with
  the next ``seq``; the lock is held until the commit, so the log is written in ``seq``
  order and a reader that sees entry n sees every entry below it (the dispatch sweep
  relies on that too).

Units of work that never touch the planner (meter readings, events, bills) take no plan
lock. Within one worker, an in-process lock taken before the row lock keeps its threads
off the planner's staged state. A worker that starts (or restarts) mid-night restores
the plan from the slot allocations and starts reading the log from :func:`head`, read
in the same transaction.

The log is pruned (:func:`prune`): entries older than a retention (two days) are deleted,
oldest first. A worker that finds the log pruned past what it has seen (idle for that
long) restores its night from the slot allocations again, as at a start.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from evgrid.adapters.store.database import translate_errors
from evgrid.adapters.store.models import PLACE, PLAN_STATE_ID, RELEASE, PlanChange, PlanState
from evgrid.operations.ports import Allotment
from evgrid.operations.session import Session
from evgrid.scheduler.model import SessionRequest
from evgrid.scheduler.nights import RollingPlanner

log = logging.getLogger(__name__)

# How long plan log entries are kept: far longer than any worker goes without using its planner.
RETENTION = timedelta(days=2)


def head(db: DbSession, *, hold_writers: bool = False) -> int:
    """The newest ``seq`` of the plan log (0 when empty).

    With ``hold_writers`` the lock row is read ``FOR SHARE``: no planner change commits
    before ``db``'s transaction ends, so what else it reads (the slot allocations, for a
    restore) is exactly the plan at that ``seq``.
    """
    query = select(PlanState.seq).where(PlanState.id == PLAN_STATE_ID)
    return db.scalar(query.with_for_update(read=True) if hold_writers else query) or 0


def prune(sessions: sessionmaker[DbSession], older_than: datetime) -> int:
    """Delete the log's entries up to the newest one written before ``older_than``; returns how many.

    By ``seq``, not by time alone: the workers' clocks may disagree a little, and the log
    must never get a hole in the middle.
    """
    with translate_errors(), sessions.begin() as db:
        last = db.scalar(select(func.max(PlanChange.seq)).where(PlanChange.at < older_than))
        if last is None:
            return 0
        return db.execute(delete(PlanChange).where(PlanChange.seq <= last)).rowcount


class PlanLog:
    """One worker's side of the shared plan: its planner and the last change it applied.

    Args:
        planner: this worker's planner (restored at ``seen``).
        worker_id: written with each change (who placed what).
        seen: the ``seq`` the planner is at.
    """

    def __init__(self, planner: RollingPlanner, worker_id: str, seen: int) -> None:
        self.planner, self.worker_id, self.seen = planner, worker_id, seen
        self.lock = threading.Lock()  # this worker's threads, one at a time on the planner

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
        self._seq: int | None = None  # set once the plan lock is held

    def place(self, session: Session, now: datetime | None = None) -> Allotment:
        self._take_lock()
        planner = self._log.planner
        allotment = planner.place(session, now)
        request, power = planner.placed(session.session_id)
        self._append(PLACE, session.session_id, _request_fields(request), list(power))
        return allotment

    def release(self, session_id: str) -> None:
        self._take_lock()
        self._log.planner.release(session_id)
        self._append(RELEASE, session_id, None, None)

    def commit(self) -> None:
        """Keep the staged plan (the transaction committed): the planner is at our ``seq``."""
        if self._seq is not None:
            self._log.planner.commit()
            self._log.seen = self._seq

    def discard(self) -> None:
        """Forget what was staged and let the worker's other threads at the planner."""
        if self._seq is None:
            return  # never locked: the planner may be another thread's right now
        self._seq = None
        try:
            self._log.planner.discard()
        finally:
            self._log.lock.release()

    def _take_lock(self) -> None:
        if self._seq is not None:
            return
        self._log.lock.acquire()
        try:
            seq = self._db.scalar(select(PlanState.seq).where(PlanState.id == PLAN_STATE_ID).with_for_update())
            if seq is None:  # a database made from the models rather than the migrations
                self._db.add(PlanState(id=PLAN_STATE_ID, seq=0))
                self._db.flush()
                seq = 0
            self._catch_up(seq)
        except BaseException:
            self._log.planner.discard()
            self._log.lock.release()
            raise
        self._seq = seq

    def _catch_up(self, head: int) -> None:
        """Apply the others' changes since ours (up to ``head``): staged, so a rollback forgets them too."""
        planner = self._log.planner
        expected = self._log.seen + 1
        for change in self._db.scalars(select(PlanChange).where(PlanChange.seq > self._log.seen)
                                       .order_by(PlanChange.seq)):
            if change.seq != expected:
                # Pruned past what this worker has seen: the store's allocations are the plan
                # (no planner change commits while we hold the lock).
                log.warning("plan log pruned past %s: restoring the night from the store", self._log.seen)
                planner.reload()
                self._log.seen = head
                return
            expected += 1
            if change.kind == RELEASE:
                planner.release(change.session_id)
                continue
            assert change.request is not None and change.power_kw is not None
            try:
                planner.adopt(_request(change.session_id, change.request), change.power_kw)
            except ValueError as error:
                # A transformer this worker's night does not know (registry changed since
                # it started): it cannot plan that transformer anyway.
                log.warning("plan change %s not adopted: %s", change.seq, error)

    def _append(self, kind: str, session_id: str, request: dict[str, Any] | None,
                power: list[float] | None) -> None:
        assert self._seq is not None
        self._seq += 1
        self._db.add(PlanChange(seq=self._seq, kind=kind, session_id=session_id, request=request, power_kw=power,
                                worker_id=self._log.worker_id, at=datetime.now(UTC)))
        self._db.execute(update(PlanState).where(PlanState.id == PLAN_STATE_ID).values(seq=self._seq))


def _request_fields(request: SessionRequest) -> dict[str, Any]:
    return {"arrival_utc": request.arrival_utc.isoformat(), "departure_utc": request.departure_utc.isoformat(),
            "energy_wh": request.energy_wh, "max_power_kw": request.max_power_kw,
            "transformer_id": request.transformer_id, "third_party": request.third_party}


def _request(session_id: str, fields: dict[str, Any]) -> SessionRequest:
    return SessionRequest(
        session_id=session_id, arrival_utc=datetime.fromisoformat(fields["arrival_utc"]),
        departure_utc=datetime.fromisoformat(fields["departure_utc"]), energy_wh=int(fields["energy_wh"]),
        max_power_kw=float(fields["max_power_kw"]), transformer_id=str(fields["transformer_id"]),
        third_party=bool(fields["third_party"]),
    )
