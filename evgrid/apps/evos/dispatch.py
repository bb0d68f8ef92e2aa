"""A scale-out worker's dispatch: its station leases renewed, jobs kept for the stations it holds.

Built by :func:`evgrid.apps.evos.system.worker_dispatch` for a worker made with
``operation_system(..., worker_id=...)``; see :mod:`evgrid.adapters.store.leases` for
who holds which station and :mod:`evgrid.adapters.store.dispatch` for the fence that
makes every start and stop go out once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Protocol

from evgrid.adapters.store import dispatch as store_dispatch
from evgrid.adapters.store import plan_log
from evgrid.adapters.store.leases import LeaseChange, StationLeases
from evgrid.errors import StoreError
from evgrid.operations.events import SlotAllotted
from evgrid.scheduler.jobs import Dispatcher

log = logging.getLogger(__name__)

# How often a worker looks for sessions other workers placed at its stations.
SWEEP_SECONDS = 1.0
# How often a worker prunes the plan log (any worker may: the deletes are idempotent).
PRUNE_SECONDS = 3600.0


class DispatchedSystem(Protocol):
    """What a worker's dispatch needs of the operation system (:class:`evgrid.apps.evos.system.OperationSystem`)."""

    @property
    def sessions(self) -> object: ...  # noqa: D102

    def on_commit(self, listener: Callable[[list[object]], None]) -> None: ...  # noqa: D102

    def pending_dispatch(self, stations: Collection[str] | None = None  # noqa: D102
                         ) -> list[tuple[str, datetime, datetime | None]]: ...


class WorkerDispatch:
    """A scale-out worker's dispatch: leases renewed, jobs kept for the stations it holds.

    One thread renews the leases every ``ttl / 3`` and sweeps the plan log every
    ``sweep_seconds``. Stations gained get jobs for their pending sessions, stations
    lost lose theirs; the sweep adds jobs for sessions placed by other workers (a
    ChargingRequest may reach any worker) at stations held here, and this worker's own
    allotments get theirs at commit. What is scheduled needs no other bookkeeping: a job
    that fires where it should not (a lease lost meanwhile) or twice is stopped by the
    fence (:mod:`evgrid.adapters.store.dispatch`).
    """

    def __init__(self, system: DispatchedSystem, dispatcher: Dispatcher, leases: StationLeases,
                 sweep_seconds: float = SWEEP_SECONDS) -> None:
        self._system, self._dispatcher, self._leases = system, dispatcher, leases
        self._sweep_seconds = sweep_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[str, int] = {}  # partition -> plan log seq swept
        self._renewed = time.monotonic()
        self._stale: frozenset[str] = frozenset()  # stations whose jobs to cancel once the store answers

    def held(self) -> frozenset[str]:
        """The stations this worker dispatches (as of its last renewal)."""
        return self._leases.held()

    def start(self) -> None:
        """Take the leases this worker wins, schedule their jobs, then renew and sweep on a thread."""
        # The head first: what commits after it, the sweep sees; what before, the gain sees.
        self._seen = store_dispatch.plan_heads(self._system.sessions)  # type: ignore[arg-type]
        self._apply(self._leases.renew())
        self._renewed = time.monotonic()
        self._system.on_commit(self._after_commit)
        self._thread = threading.Thread(target=self._run, name=f"leases-{self._leases.worker_id}", daemon=True)
        self._thread.start()

    def stop(self, *, release: bool = True) -> None:
        """Stop renewing; with ``release`` give the stations up so that others take them at once.

        ``release=False`` is what a crash looks like to the others (for tests).
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if release:
            try:
                self._apply(self._leases.release_all())
            except StoreError as error:  # the leases run out by themselves: taken over after a ttl
                log.warning("worker %s could not release its leases: %s", self._leases.worker_id, error.reason)

    def _run(self) -> None:
        next_renewal = time.monotonic() + self._leases.renew_seconds
        next_sweep = time.monotonic() + self._sweep_seconds
        next_prune = time.monotonic()
        # Renewals on time (the takeover bound counts on them), sweeps in between.
        while not self._stop.wait(max(0.0, min(next_renewal, next_sweep) - time.monotonic())):
            now = time.monotonic()
            try:
                if now >= next_renewal:
                    next_renewal = now + self._leases.renew_seconds
                    if now - self._renewed > self._leases.ttl.total_seconds():
                        # Renewed too late (a stall): leases lapsed meanwhile and jobs fired then
                        # were fenced out; counting everything as gained again reschedules them.
                        self._stale |= self._leases.forget().lost
                    change = self._leases.renew()
                    self._renewed = time.monotonic()
                    try:
                        self._apply(change)
                    except StoreError:
                        # Jobs half rescheduled: the next renewal counts every station as gained again.
                        self._stale |= self._leases.forget().lost
                        raise
                if now >= next_sweep:
                    next_sweep = now + self._sweep_seconds
                    self._sweep()
                if now >= next_prune:
                    next_prune = now + PRUNE_SECONDS
                    self._prune()
            except StoreError as error:
                log.warning("worker %s: %s", self._leases.worker_id, error.reason)
                if time.monotonic() - self._renewed > self._leases.ttl.total_seconds():
                    # Unrenewed this long, the leases may be someone else's: start over as
                    # holding nothing, so the next renewal reschedules whatever is held
                    # (jobs that failed meanwhile included) and cancels the rest.
                    self._stale |= self._leases.forget().lost

    def _apply(self, change: LeaseChange) -> None:
        lost = change.lost | (self._stale - change.held)
        if lost:
            for session_id, _, _ in self._system.pending_dispatch(lost):
                self._dispatcher.cancel(session_id)
        self._stale = frozenset()
        if change.gained:
            for session_id, start, stop in self._system.pending_dispatch(change.gained):
                self._dispatcher.schedule(session_id, start, stop)
        if change.gained or lost:
            log.info("worker %s holds %d stations (+%d, -%d)", self._leases.worker_id, len(change.held),
                     len(change.gained), len(lost))

    def _sweep(self) -> None:
        events = store_dispatch.changes_since(self._system.sessions, self._seen)  # type: ignore[arg-type]
        held = self._leases.held()
        for event in events:
            self._seen[event.partition_id] = max(event.seq, self._seen.get(event.partition_id, 0))
            if event.station_id not in held:
                continue
            if event.pending is not None:
                self._dispatcher.schedule(event.session_id, event.pending.start_utc, event.pending.stop_utc)
            else:  # released (complete, cancelled): its jobs have nothing left to do
                self._dispatcher.cancel(event.session_id)

    def _prune(self) -> None:
        pruned = plan_log.prune(self._system.sessions, datetime.now(UTC) - plan_log.RETENTION)  # type: ignore[arg-type]
        if pruned:
            log.info("worker %s pruned %d plan log entries", self._leases.worker_id, pruned)

    def _after_commit(self, committed: list[object]) -> None:
        if self._stop.is_set():
            return
        held = self._leases.held()
        for event in committed:
            if isinstance(event, SlotAllotted) and event.session.station_id in held:
                allotment = event.allotment
                if allotment.start_utc is not None:
                    self._dispatcher.schedule(event.session.session_id, allotment.start_utc, allotment.end_utc)
