"""The EV Operation System on its store: store -> planner -> units of work -> router -> outbox delivery.

Built by :func:`operation_system` (and, for a whole worker, by :mod:`evgrid.apps.evos.worker`).
Everything it builds is passed down; nothing reads the environment or opens a connection
at import time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from evgrid.adapters.store import dispatch as store_dispatch
from evgrid.adapters.store.database import make_engine, session_factory, unavailable, upgrade
from evgrid.adapters.store.leases import DEFAULT_TTL_SECONDS, StationLeases
from evgrid.adapters.store.models import registry_version
from evgrid.adapters.store.outbox import SqlOutboxStore
from evgrid.adapters.store.plan_log import PlanLog
from evgrid.adapters.store.planning import StoreGrid, planned_in
from evgrid.adapters.store.uow import SqlUnitOfWork
from evgrid.apps.evos.dispatch import SWEEP_SECONDS, WorkerDispatch
from evgrid.cim.codec import Codec
from evgrid.clock import SystemClock
from evgrid.mappings import codes
from evgrid.messaging.outbox import Deliverer, OutboxWorker
from evgrid.messaging.router import Router
from evgrid.messaging.routes import ROUTES, scheduler_deliverer
from evgrid.operations import events, handlers
from evgrid.operations.events import SlotAllotted
from evgrid.operations.ports import Clock
from evgrid.scheduler.jobs import START, STOP, Dispatcher
from evgrid.scheduler.partitions import PartitionedPlanner, RollingHorizon


@dataclass(frozen=True, slots=True)
class OperationSystem:
    """The EV Operation System wired to its store: route messages with ``router.handle``."""

    router: Router
    planner: PartitionedPlanner
    sessions: object  # sessionmaker, for reports and tests
    engine: object
    unit_of_work: Callable[[], SqlUnitOfWork]
    _listeners: list[Callable[[list[object]], None]] = field(default_factory=list)
    # Scale-out (``operation_system(worker_id=...)``): this worker's station leases, the
    # fence of every start and stop it fires.
    leases: StationLeases | None = None

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()  # type: ignore[attr-defined]

    def on_commit(self, listener: Callable[[list[object]], None]) -> None:
        """Call ``listener`` with the events of every committed unit of work (in its thread, before it ends)."""
        self._listeners.append(listener)

    def start_session(self, session_id: str) -> None:
        """A start job fired (step 2.3 / 3.3)."""
        self._run(handlers.start_due, session_id, START)

    def stop_session(self, session_id: str) -> None:
        """A stop job fired."""
        self._run(handlers.stop_due, session_id, STOP)

    def _run(self, handler: Callable[..., bool], session_id: str, action: str) -> None:
        with self.unit_of_work() as uow:
            # A scale-out worker acts only for a station it holds, and only once per
            # session and action, whoever fired first (the fence: see adapters.store.dispatch).
            if self.leases is not None and not store_dispatch.admit(uow.db, self.leases, session_id, action):
                return
            if handler(session_id, uow, uow.now) and self.leases is not None:
                store_dispatch.record_order(uow.db, session_id, action, self.leases.worker_id)
            uow.commit()

    def pending_dispatch(self, stations: Collection[str] | None = None) -> list[tuple[str, datetime, datetime | None]]:
        """(session, start, stop) of every session (at ``stations``) a dispatcher must have jobs for.

        Called when a dispatcher starts, or a scale-out worker gains stations: jobs lost
        between a commit and their scheduling (a crash in between) are added again;
        stable ids make the others no-ops. ``stop`` is None when it is not after ``start``.
        """
        return [(p.session_id, p.start_utc, p.stop_utc)
                for p in store_dispatch.pending(self.sessions, stations)]  # type: ignore[arg-type]


def schedule_jobs(dispatcher: Dispatcher) -> Callable[[list[object]], None]:
    """After a commit: a start and stop job for every session that got its slots."""
    def after_commit(committed: list[object]) -> None:
        for event in committed:
            if isinstance(event, SlotAllotted):
                allotment = event.allotment
                if allotment.start_utc is not None:
                    dispatcher.schedule(event.session.session_id, allotment.start_utc, allotment.end_utc)
    return after_commit


def outbox_worker(system: OperationSystem, deliverers: Mapping[str, Deliverer]) -> OutboxWorker:
    """The store-and-forward worker of ``system``'s outbox; run it with ``worker.running()``.

    ``deliverers`` maps destinations (``billing``, ``portal:*``) to their deliverers; the
    scheduler's (4.1.2, in-process) is added here. The worker is woken after every commit
    that queued something, so a message goes out at once rather than at the next tick:
    under an accelerated clock a one-second tick is minutes of simulated time.
    """
    routes: dict[str, Deliverer] = {events.SCHEDULER: scheduler_deliverer(system.unit_of_work,
                                                                           codec=system.router.codec)}
    routes.update(deliverers)
    # Portals, billing and the scheduler are independent destinations: served 8 at a time.
    worker = OutboxWorker(SqlOutboxStore(system.sessions), routes, concurrency=8)  # type: ignore[arg-type]

    def wake(committed: list[object]) -> None:
        if committed:
            worker.wake()

    system.on_commit(wake)
    return worker


def operation_system(database_url: str, *, horizon: RollingHorizon,
                     clock: Clock | None = None, codec: Codec | None = None, source: str = "evgrid-evos",
                     after_commit: Callable[[list[object]], None] | None = None, worker_id: str | None = None,
                     lease_ttl_seconds: float = DEFAULT_TTL_SECONDS, forward_readings: bool = False,
                     ) -> OperationSystem:
    """Build the operation system on the database at ``database_url`` (migrated first), planning over ``horizon``.

    With ``worker_id`` it is one of several scale-out workers on that database: planner
    changes go through the shared plan log (:mod:`evgrid.adapters.store.plan_log`), its
    fired starts and stops through the station leases (``system.leases``, lease time
    ``lease_ttl_seconds``) and the dispatch fence; run it with :func:`worker_dispatch`.
    Without, one process owns everything, as in the embedded default.

    With ``forward_readings`` every meter reading accepted is queued for meter data
    management (outbox destination ``mdm``); without, readings stay in this store only.
    """
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    codec = codec or Codec()
    clock = clock or SystemClock()
    # The registry version is read before any problem: an import in between is read again.
    with sessions() as db:
        version = registry_version(db)
    # Each partition of the grid is opened when first used, its sessions already given
    # slots restored from the store (after a restart they keep them, and new ones are
    # placed around them); a scale-out worker opens it holding the partition's plan lock.
    # A registry or tariff import reaches the running planner: see registry_at.
    planner = PartitionedPlanner(horizon, StoreGrid(sessions), version)
    listeners: list[Callable[[list[object]], None]] = [after_commit] if after_commit else []
    scale_out = worker_id is not None
    # One process on SQLite (or without workers): whole units of work one at a time. Workers
    # on PostgreSQL: concurrent, the plan lock taken by the units of work that need it.
    concurrent = scale_out and engine.dialect.name == "postgresql"
    lock = None if concurrent else threading.Lock()
    plan_log = PlanLog(planner, worker_id, planned_in) if worker_id is not None else None
    leases = StationLeases(sessions, worker_id, lease_ttl_seconds) if worker_id is not None else None

    def notify(committed: list[object]) -> None:
        for listener in listeners:
            listener(committed)

    def unit_of_work() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, planner, codec, clock, register_type=codes.REGISTER_WH, lock=lock,
                             source=source, after_commit=notify, plan_log=plan_log, lock_rows=concurrent,
                             unrouted=frozenset() if forward_readings else frozenset({events.MDM}))

    router = Router(ROUTES, codec=codec, source=source, unit_of_work=unit_of_work, unavailable=unavailable)
    return OperationSystem(router, planner, sessions, engine, unit_of_work, listeners, leases=leases)


@contextmanager
def worker_dispatch(system: OperationSystem, dispatcher: Dispatcher, leases: StationLeases | None = None, *,
                    sweep_seconds: float = SWEEP_SECONDS) -> Iterator[WorkerDispatch]:
    """Run a scale-out worker's dispatch (see :class:`WorkerDispatch`) inside ``dispatcher``.

    ``system`` comes from ``operation_system(..., worker_id=...)``; ``leases`` defaults to
    its own. ``dispatcher`` keeps its jobs in memory (``Dispatcher(None, ...)``), bound to
    ``system`` and entered by the caller first. On exit the leases are given up.
    """
    leases = leases or system.leases
    if leases is None:
        raise ValueError("worker_dispatch needs operation_system(..., worker_id=...)")
    worker = WorkerDispatch(system, dispatcher, leases, sweep_seconds)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
