"""Scale-out: several operation-system workers on one PostgreSQL database.

Each worker is an independent OperationSystem (its own engine, planner, in-memory
dispatcher and station leases) in this process, as ``evgrid serve`` runs one per
process. Death is simulated by stopping a worker's lease thread and dispatcher without
releasing anything: to the others that is what a killed process looks like.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evgrid.adapters.store import models as m
from evgrid.adapters.store.leases import hrw_winner
from evgrid.adapters.store.models import DispatchOrder, StationLease
from evgrid.adapters.store.plan_log import RETENTION, prune
from evgrid.adapters.store.testing import scratch_schema
from evgrid.apps.evos.system import OperationSystem, WorkerDispatch, operation_system, worker_dispatch
from evgrid.scheduler.jobs import Dispatcher, job_id
from evgrid.scheduler.partitions import RollingHorizon
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import (
    NIGHT,
    Clock,
    event_message,
    register,
    request_message,
    result,
    rounded_powers,
)
from tests.unit.adapters.store.conftest import write_registry

STATIONS = 40
TRANSFORMER_KW = 50.0
TTL = 2.0  # seconds: renewals every 2/3 s, a dead worker's stations taken within 2.67 s
FAR = timedelta(days=3650)  # jobs this far ahead never fire by themselves in a test
SLACK = 5.0  # seconds of scheduling noise on two shared cores, on top of any stated bound


def wait_for(predicate: Callable[[], bool], seconds: float, check: Callable[[], None] | None = None) -> bool:
    """Poll ``predicate`` until it holds or ``seconds`` pass; ``check`` asserts an invariant each time."""
    deadline = time.monotonic() + seconds
    while True:
        if check is not None:
            check()
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


class Shift:
    """Maps simulated instants to wall ones: far ahead, until :meth:`accelerate` (as the demo's clock)."""

    def __init__(self) -> None:
        self.anchor: tuple[datetime, datetime, float] | None = None

    def accelerate(self, speed: float) -> None:
        """From now on the core's now is wall now, and a simulated hour lasts 3600 / ``speed`` s."""
        self.anchor = (Clock().now(), datetime.now(UTC), speed)

    def __call__(self, moment: datetime) -> datetime:
        if self.anchor is None:
            return moment + FAR
        simulated, wall, speed = self.anchor
        return wall + (moment - simulated) / speed


class Worker:
    """One scale-out worker: ``operation_system(worker_id=...)``, a memory dispatcher, its lease thread."""

    def __init__(self, url: str, name: str, shift: Shift) -> None:
        self.name = name
        self.system: OperationSystem = operation_system(url, horizon=RollingHorizon(NIGHT), clock=Clock(),
                                                        worker_id=name, lease_ttl_seconds=TTL)
        self.dispatcher = Dispatcher(None, self.system, to_wall=shift)
        assert self.system.leases is not None
        self.dispatch = WorkerDispatch(self.system, self.dispatcher, self.system.leases, sweep_seconds=0.2)
        self.alive = False

    def start(self) -> Worker:
        self.dispatcher.__enter__()
        self.dispatch.start()
        self.alive = True
        return self

    def die(self) -> None:
        """Stop renewing and dispatching, release nothing: a crash, as the others see it."""
        self.dispatch.stop(release=False)
        self.dispatcher.__exit__(None, None, None)
        self.alive = False

    def close(self) -> None:
        if self.alive:
            self.dispatch.stop()
            self.dispatcher.__exit__(None, None, None)
        self.system.close()


@pytest.fixture
def url(database_url: str, tmp_path: Path, examples: Path) -> Iterator[str]:
    """A fresh schema with 40 premises (station S-n, EV EV-n) on one 50 kW transformer."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_registry(folder / "registry.csv", STATIONS, transformer_kw=TRANSFORMER_KW)
    shutil.copy(examples / "tariff.toml", folder / "tariff.toml")
    with scratch_schema(database_url) as scratch:
        seed_store(scratch, folder)
        yield scratch


@pytest.fixture
def workers(url: str) -> Iterator[Callable[[str], Worker]]:
    made: list[Worker] = []
    shift = Shift()

    def make(name: str) -> Worker:
        made.append(Worker(url, name, shift))
        return made[-1]

    make.shift = shift  # type: ignore[attr-defined]
    yield make
    for worker in reversed(made):
        worker.close()


ALL = frozenset(f"S-{i:04d}" for i in range(1, STATIONS + 1))


def request(system: OperationSystem, n: int, *, wh: int = 20_000) -> tuple[str, str | None]:
    """Home ChargingRequest of EV-n at S-n (its owner's premise); the reply's result and error code."""
    tag = f"{n:04d}"
    return result(system.router.handle(request_message(f"EV-{tag}", f"S-{tag}", f"C-{tag}", f"UP-{tag}", wh=wh)))


def start_orders(system: OperationSystem, session_id: str) -> int:
    """Start orders (close the contactor: EndDeviceControls ``...:start``) queued for ``session_id``."""
    with system.sessions() as db:  # type: ignore[operator]
        controls = db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.noun == "EndDeviceControls")).all()
    assert all(c.destination.startswith("portal:") for c in controls)
    return sum(1 for c in controls if c.message_id == f"EndDeviceControls:{session_id}:start")


def test_every_station_is_held_by_exactly_one_of_two_live_workers_and_rebalanced_when_the_second_joins(
        workers: Callable[[str], Worker]) -> None:
    a = workers("A").start()
    assert a.dispatch.held() == ALL  # alone: everything
    b = workers("B")
    expected_b = frozenset(s for s in ALL if hrw_winner(s, {"A", "B"}) == "B")

    def never_shared() -> None:
        assert not a.dispatch.held() & b.dispatch.held()

    with worker_dispatch(b.system, b.dispatcher.__enter__(), sweep_seconds=0.2) as joined:
        try:
            # A hands over at its next renewal, B takes them at its own: two renew intervals.
            assert wait_for(lambda: joined.held() == expected_b, 2 * TTL / 3 + SLACK, never_shared)
            assert wait_for(lambda: a.dispatch.held() == ALL - expected_b, SLACK, never_shared)
            with a.system.sessions() as db:  # type: ignore[operator]
                stored = dict(db.execute(select(StationLease.station_id, StationLease.worker_id)).all())
            assert {s for s, w in stored.items() if w == "B"} == expected_b and stored.keys() == ALL
        finally:
            b.dispatcher.__exit__(None, None, None)
    # B left gracefully: A has everything back at its next renewal, no expiry to wait for.
    assert wait_for(lambda: a.dispatch.held() == ALL, TTL / 3 + SLACK)


def test_a_dead_workers_stations_and_its_due_start_go_to_the_survivor_once(
        workers: Callable[[str], Worker]) -> None:
    a, b = workers("A").start(), workers("B").start()
    assert wait_for(lambda: a.dispatch.held() | b.dispatch.held() == ALL and b.dispatch.held(), 2 * TTL + SLACK)
    n = min(int(s[2:]) for s in a.dispatch.held())
    # A simulated hour per wall second: the home start (after 22:00 UTC, the core's clock
    # at 17:40) is due in a little over 4 s.
    workers.shift.accelerate(3600)  # type: ignore[attr-defined]
    # The request reaches B; the station is A's: A's sweep schedules the start, B does not.
    assert request(b.system, n) == ("OK", None)
    (session_id, start, _), = b.system.pending_dispatch([f"S-{n:04d}"])
    assert start >= NIGHT + timedelta(hours=5)
    assert wait_for(lambda: job_id("start", session_id) in a.dispatcher.pending(), SLACK)
    assert job_id("start", session_id) not in b.dispatcher.pending()

    died = time.monotonic()
    a.die()  # before its start is due
    assert start_orders(b.system, session_id) == 0
    assert wait_for(lambda: b.dispatch.held() == ALL, b.system.leases.takeover_seconds + SLACK)
    taken_over = time.monotonic() - died
    assert wait_for(lambda: start_orders(b.system, session_id) == 1, SLACK)
    with b.system.sessions() as db:  # type: ignore[operator]
        (order,) = db.scalars(select(DispatchOrder).where(DispatchOrder.session_id == session_id)).all()
    assert (order.action, order.worker_id) == ("start", "B")
    # Fired again, on the survivor or on what is left of A: still one order.
    b.system.start_session(session_id)
    a.system.start_session(session_id)
    assert start_orders(b.system, session_id) == 1
    assert taken_over < b.system.leases.takeover_seconds + SLACK


def test_two_workers_firing_the_same_start_at_once_send_one_order(workers: Callable[[str], Worker]) -> None:
    a, b = workers("A").start(), workers("B").start()
    assert wait_for(lambda: a.dispatch.held() | b.dispatch.held() == ALL and b.dispatch.held(), 2 * TTL + SLACK)
    n = min(int(s[2:]) for s in b.dispatch.held())
    assert request(a.system, n) == ("OK", None)
    (session_id, _, _), = a.system.pending_dispatch([f"S-{n:04d}"])

    systems = [a.system, b.system] * 3
    barrier = threading.Barrier(len(systems))

    def fire(system: OperationSystem) -> None:
        barrier.wait()
        system.start_session(session_id)

    with ThreadPoolExecutor(len(systems)) as pool:
        list(pool.map(fire, systems))
    assert start_orders(a.system, session_id) == 1

    # The station moves to A (B stops gracefully): A's fire finds the order already issued.
    b.dispatch.stop()
    assert wait_for(lambda: f"S-{n:04d}" in a.dispatch.held(), TTL / 3 + SLACK)
    a.system.start_session(session_id)
    assert start_orders(a.system, session_id) == 1
    with a.system.sessions() as db:  # type: ignore[operator]
        assert [o.worker_id for o in db.scalars(select(DispatchOrder))] == ["B"]


def test_two_workers_placing_40_requests_at_once_never_overload_the_transformer(
        workers: Callable[[str], Worker]) -> None:
    a, b = workers("A"), workers("B")  # planning needs no dispatch running
    jobs = [(a if n % 2 else b).system for n in range(1, STATIONS + 1)]
    barrier = threading.Barrier(4)

    def place(lane: int) -> list[tuple[str, str | None]]:
        barrier.wait()
        return [request(jobs[n - 1], n, wh=40_000) for n in range(lane + 1, STATIONS + 1, 4)]

    with ThreadPoolExecutor(4) as pool:
        replies = [reply for lane in pool.map(place, range(4)) for reply in lane]
    assert len(replies) == STATIONS
    assert all(reply in (("OK", None), ("FAILED", "6.1")) for reply in replies), replies
    assert replies.count(("OK", None)) >= 10  # 40 x 40 kWh asks for far more than 50 kW can give

    with a.system.sessions() as db:  # type: ignore[operator]
        per_slot = db.execute(select(m.SlotAllocation.slot_start, func.sum(m.SlotAllocation.power_kw))
                              .group_by(m.SlotAllocation.slot_start)).all()
        placed = db.scalar(select(func.count()).select_from(m.ChargingSession).where(
            m.ChargingSession.state == "scheduled"))
    assert placed == replies.count(("OK", None))
    # Each allotment is rounded to the watt: at most half a watt per session over.
    peak = max(float(kw) for _, kw in per_slot)
    assert peak <= TRANSFORMER_KW + STATIONS * 0.0005, f"transformer overloaded: {peak} kW"
    assert peak > TRANSFORMER_KW - 1  # it was contended: the limit, not the demand, decided

    # One plan: after catching up, both workers' planners hold the same sessions and power.
    for worker in (a, b):
        catch_up(worker.system, "T-1")
    assert powers(a.system) == powers(b.system) and len(powers(a.system)) == placed


def test_the_same_start_reading_at_two_workers_at_once_starts_the_session_once(
        workers: Callable[[str], Worker]) -> None:
    # No plan lock for readings: the session row is what serialises them (read FOR UPDATE).
    a, b = workers("A"), workers("B")
    assert request(a.system, 7) == ("OK", None)
    (session_id, _, _), = a.system.pending_dispatch(["S-0007"])
    # Read now (the fixed clock), not at the planned start: a reading from the future is refused.
    reading = register("M-0007", Clock().now(), 1_000_000)
    barrier = threading.Barrier(2)

    def send(pair: tuple[OperationSystem, str]) -> tuple[str, str | None]:
        barrier.wait()
        return result(pair[0].router.handle(event_message("MeterReadings", reading, pair[1])))

    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(send, [(a.system, "read-at-A"), (b.system, "read-at-B")]))
    assert replies == [("OK", None), ("OK", None)]
    with a.system.sessions() as db:  # type: ignore[operator]
        assert db.get(m.ChargingSession, session_id).state == "charging"
        to_charging = db.scalars(select(m.SessionTransition).where(
            m.SessionTransition.session_id == session_id, m.SessionTransition.to_state == "charging")).all()
        readings = db.scalars(select(m.MeterReading).where(m.MeterReading.meter_number == "M-0007")).all()
    assert len(to_charging) == 1
    assert [(r.value_wh, r.session_id) for r in readings] == [(1_000_000, session_id)]


def test_one_ev_requested_at_two_stations_via_two_workers_at_once_gets_one_session(
        workers: Callable[[str], Worker]) -> None:
    a, b = workers("A"), workers("B")
    # EV-0003 at its owner's station, and at a neighbour's (third party): two requests.
    asks = [(a.system, request_message("EV-0003", "S-0003", "C-0003", "UP-0003", message_id="M-1", mrid="R-1")),
            (b.system, request_message("EV-0003", "S-0004", "C-0004", "UP-0004", message_id="M-2", mrid="R-2"))]
    barrier = threading.Barrier(2)

    def send(ask: tuple[OperationSystem, bytes]) -> tuple[str, str | None]:
        barrier.wait()
        return result(ask[0].router.handle(ask[1]))

    with ThreadPoolExecutor(2) as pool:
        replies = sorted(pool.map(send, asks))
    assert replies == [("FAILED", "6.4"), ("OK", None)]  # the second finds the first: already charging
    with a.system.sessions() as db:  # type: ignore[operator]
        assert db.scalar(select(func.count()).select_from(m.ChargingSession)) == 1


def catch_up(system: OperationSystem, transformer_id: str) -> None:
    """Bring ``system``'s partition of ``transformer_id`` up to the plan log (any use of it does)."""
    with system.unit_of_work() as uow:
        uow.planner.release("S-nobody", transformer_id)
        uow.commit()


def powers(system: OperationSystem) -> dict[str, tuple[float, ...]]:
    """Each session ``system`` has planned, with its power per slot to the watt.

    To the watt: a worker that opens a partition after others placed in it restores
    their sessions from the slot allocations, which keep the watt.
    """
    return {session_id: tuple(round(kw, 3) for kw in power)
            for session_id, (_, power) in system.planner.planned().items()}


@pytest.fixture
def store_backed(store_url: str, examples: Path) -> str:
    seed_store(store_url, examples)
    return store_url


def test_a_worker_joining_mid_night_restores_the_plan_and_follows_the_others(store_backed: str) -> None:
    a = operation_system(store_backed, horizon=RollingHorizon(NIGHT), clock=Clock(), worker_id="A")
    try:
        assert result(a.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
        b = operation_system(store_backed, horizon=RollingHorizon(NIGHT), clock=Clock(), worker_id="B")
        try:
            assert b.planner.planned() == {}  # a partition is restored when first used
            # A places another; B's next request sees it before placing its own.
            assert result(a.router.handle(request_message("EV-1002", "S-1002", "C-1002", "UP-1002")))[0] == "OK"
            assert result(b.router.handle(request_message("EV-1004", "S-1004", "C-1004", "UP-1004")))[0] == "OK"
            assert set(b.planner.planned()) == {"S-R-EV-1001", "S-R-EV-1002", "S-R-EV-1004"}
            with a.unit_of_work() as uow:
                uow.planner.release("S-R-EV-1001", "T-01")  # A releases: B follows at its next use of F-01
                uow.commit()
            catch_up(b, "T-01")
            assert set(b.planner.planned()) == {"S-R-EV-1002", "S-R-EV-1004"}
            catch_up(a, "T-01")
            assert powers(a) == powers(b)
        finally:
            b.close()
    finally:
        a.close()


def test_workers_move_on_to_the_next_night_together(store_backed: str) -> None:
    clock = Clock()  # one time for both workers
    a = operation_system(store_backed, horizon=RollingHorizon(NIGHT), clock=clock, worker_id="A")
    b = operation_system(store_backed, horizon=RollingHorizon(NIGHT), clock=clock, worker_id="B")
    try:
        assert result(a.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
        tomorrow = NIGHT + timedelta(days=1)
        clock.moment = tomorrow + timedelta(minutes=40)
        # A moves on with the next night's first request; B with A's placement in its log.
        assert result(a.router.handle(request_message("EV-1002", "S-1002", "C-1002", "UP-1002", day=1)))[0] == "OK"
        assert result(b.router.handle(request_message("EV-1004", "S-1004", "C-1004", "UP-1004", day=1)))[0] == "OK"
        catch_up(a, "T-01")
        for system in (a, b):
            assert system.planner.windows() == {"feeder:F-01": tomorrow}
            assert set(system.planner.planned()) == {"S-R-EV-1002", "S-R-EV-1004"}
        assert powers(a) == powers(b)
    finally:
        b.close()
        a.close()


def test_a_worker_idle_longer_than_the_plan_log_is_kept_restores_its_night(
        store_backed: str, caplog: pytest.LogCaptureFixture) -> None:
    a = operation_system(store_backed, horizon=RollingHorizon(NIGHT), clock=Clock(), worker_id="A")
    b = operation_system(store_backed, horizon=RollingHorizon(NIGHT), clock=Clock(), worker_id="B")
    try:
        assert result(a.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
        assert result(b.router.handle(request_message("EV-1004", "S-1004", "C-1004", "UP-1004")))[0] == "OK"
        assert result(a.router.handle(request_message("EV-1002", "S-1002", "C-1002", "UP-1002")))[0] == "OK"
        # Nothing written before the cutoff: nothing pruned. Everything: the whole log so far.
        assert prune(a.sessions, datetime.now(UTC) - RETENTION) == 0
        assert prune(a.sessions, datetime.now(UTC) + timedelta(seconds=1)) == 3
        assert result(a.router.handle(request_message("EV-1003", "S-1003", "C-1003", "UP-1003")))[0] == "OK"
        # B did not use the partition meanwhile: its log goes on after a hole, so it reopens.
        catch_up(b, "T-01")
        assert "partition feeder:F-01: plan log at 4 not followed from 2: reopened from the store" in caplog.text
        catch_up(a, "T-01")
        assert rounded_powers(b) == rounded_powers(a) and len(rounded_powers(a)) == 4
    finally:
        b.close()
        a.close()
