"""Composition root: settings -> store -> planner -> units of work -> router -> outbox delivery.

The only place that knows every concrete adapter. Everything it builds is passed down;
nothing reads the environment or opens a connection at import time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from evgrid.adapters.inbound import Router
from evgrid.adapters.routes import ROUTES
from evgrid.adapters.scheduler_inbound import scheduler_deliverer
from evgrid.adapters.soap.outbox import Deliverer, OutboxWorker, SqlOutboxStore
from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import make_engine, session_factory, upgrade
from evgrid.adapters.store.uow import SqlRegistry, SqlUnitOfWork
from evgrid.cim.codec import Codec
from evgrid.mappings import codes
from evgrid.operations import events, handlers
from evgrid.operations.events import SlotAllotted
from evgrid.operations.model import ChargingKind
from evgrid.operations.ports import Clock
from evgrid.operations.rates import windows
from evgrid.operations.session import SessionState
from evgrid.scheduler.jobs import Dispatcher
from evgrid.scheduler.model import Feeder, Horizon, Problem, SessionRequest, Transformer
from evgrid.scheduler.planner import NightPlanner

SLOT_MINUTES = 15
# Unmet energy costs more than any tariff price: the planner never leaves energy on the
# table to save money, only when a limit or the departure forces it.
UNMET_PENALTY_PER_KWH = 1.0


class SystemClock:
    """Wall-clock UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class OperationSystem:
    """The EV Operation System wired to its store: route messages with ``router.handle``."""

    router: Router
    planner: NightPlanner
    sessions: object  # sessionmaker, for reports and tests
    engine: object
    unit_of_work: Callable[[], SqlUnitOfWork]
    _listeners: list[Callable[[list[object]], None]] = field(default_factory=list)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()  # type: ignore[attr-defined]

    def on_commit(self, listener: Callable[[list[object]], None]) -> None:
        """Call ``listener`` with the events of every committed unit of work (under its lock)."""
        self._listeners.append(listener)

    def start_session(self, session_id: str) -> None:
        """A start job fired (step 2.3 / 3.3)."""
        self._run(handlers.start_due, session_id)

    def stop_session(self, session_id: str) -> None:
        """A stop job fired."""
        self._run(handlers.stop_due, session_id)

    def _run(self, handler: Callable[..., object], session_id: str) -> None:
        with self.unit_of_work() as uow:
            handler(session_id, uow, uow.now)
            uow.commit()

    def pending_dispatch(self) -> list[tuple[str, datetime, datetime | None]]:
        """(session, start, stop) of every session a dispatcher must have jobs for.

        Called when a dispatcher starts: jobs lost between a commit and their scheduling
        (a crash in between) are added again; stable ids make the others no-ops.
        """
        with self.sessions() as db:  # type: ignore[operator]
            rows = db.scalars(select(m.ChargingSession).where(
                m.ChargingSession.state.in_([SessionState.SCHEDULED.value, SessionState.CHARGING.value])))
            return [(r.session_id, r.planned_start or r.plugged_in_at, r.planned_end or r.departure_at)
                    for r in rows]


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


def night_problem(sessions: object, start_utc: datetime, slot_count: int) -> Problem:
    """The night's empty planning problem from the registry: transformers, feeders, prices."""
    horizon = Horizon(start_utc, slot_count, SLOT_MINUTES)
    with sessions() as db:  # type: ignore[operator]
        tariff = SqlRegistry(db, None).tariff()
        feeders = tuple(Feeder(f.feeder_id, float(f.capacity_kw)) for f in db.scalars(select(m.Feeder)))
        transformers = tuple(
            Transformer(t.transformer_id, float(t.capacity_kw), _base_load(t.base_load_kw, horizon), t.feeder_id)
            for t in db.scalars(select(m.Transformer).order_by(m.Transformer.transformer_id))
        )
    prices = []
    for slot in range(slot_count):
        start = horizon.slot_start_utc(slot)
        (window,) = windows(tariff, ChargingKind.HOME, start, start + timedelta(minutes=1))
        prices.append(float(window.price_per_kwh))
    return Problem(horizon, (), transformers, tuple(prices), UNMET_PENALTY_PER_KWH, feeders)


def _base_load(hourly_kw: list[float] | None, horizon: Horizon) -> tuple[float, ...]:
    """Per-slot base load from 24 hourly values (UTC hours); none known: zero."""
    if not hourly_kw:
        return tuple([0.0] * horizon.slot_count)
    return tuple(float(hourly_kw[horizon.slot_start_utc(slot).hour % 24]) for slot in range(horizon.slot_count))


def planned_sessions(sessions: object, horizon: Horizon) -> list[tuple[SessionRequest, list[float]]]:
    """Every scheduled or charging session with the power per slot it was allotted (from the store)."""
    def aware(moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    index = {horizon.slot_start_utc(slot): slot for slot in range(horizon.slot_count)}
    planned = []
    with sessions() as db:  # type: ignore[operator]
        rows = db.execute(
            select(m.ChargingSession, m.ServiceLocation.transformer_id)
            .join(m.ServiceLocation, m.ServiceLocation.premise_number == m.ChargingSession.premise_number)
            .where(m.ChargingSession.state.in_([SessionState.SCHEDULED.value, SessionState.CHARGING.value])))
        for session, transformer_id in rows:
            power = [0.0] * horizon.slot_count
            for allocation in db.scalars(select(m.SlotAllocation).where(
                    m.SlotAllocation.session_id == session.session_id)):
                slot = index.get(aware(allocation.slot_start))
                if slot is not None:
                    power[slot] = float(allocation.power_kw)
            request = SessionRequest(
                session_id=session.session_id,
                arrival_utc=max(aware(session.plugged_in_at), horizon.start_utc),
                departure_utc=aware(session.departure_at), energy_wh=session.planned_wh or 0,
                max_power_kw=float(session.max_power_kw), transformer_id=transformer_id,
                third_party=session.kind != ChargingKind.HOME.value)
            planned.append((request, power))
    return planned


def operation_system(database_url: str, *, night_start_utc: datetime, slot_count: int,
                     clock: Clock | None = None, codec: Codec | None = None, source: str = "evgrid-evos",
                     after_commit: Callable[[list[object]], None] | None = None) -> OperationSystem:
    """Build the operation system on the database at ``database_url`` (migrated first)."""
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    planner = NightPlanner(night_problem(sessions, night_start_utc, slot_count))
    # After a restart the night goes on: the sessions already given slots keep them, and
    # new ones are placed around them (an empty plan would overload the transformers).
    planner.restore(planned_sessions(sessions, planner.problem.horizon))
    codec = codec or Codec()
    clock = clock or SystemClock()
    lock = threading.Lock()
    listeners: list[Callable[[list[object]], None]] = [after_commit] if after_commit else []

    def notify(committed: list[object]) -> None:
        for listener in listeners:
            listener(committed)

    def unit_of_work() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, planner, codec, clock, register_type=codes.REGISTER_WH, lock=lock,
                             source=source, after_commit=notify)

    router = Router(ROUTES, codec=codec, source=source, unit_of_work=unit_of_work)
    return OperationSystem(router, planner, sessions, engine, unit_of_work, listeners)
