"""The registry is live: an import reaches the running operation system without a restart.

Over the real operation system (SQLite and PostgreSQL, one process and two scale-out
workers): a premise on a new transformer and feeder is planned (not FAILED 5.0), a
changed transformer capacity and a new tariff are planned with, a closed account's new
requests are refused (6.3) while its session in progress finishes, and a transformer the
planner has not seen yet is a clear refusal (2.7), never an internal error.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evgrid.adapters.store import models as m
from evgrid.adapters.store.registry import import_registry
from evgrid.adapters.store.tariff import import_tariff
from evgrid.apps.evos.system import OperationSystem, operation_system
from evgrid.scheduler.model import Problem
from evgrid.scheduler.partitions import RollingHorizon
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import (
    NIGHT,
    Clock,
    completion,
    event_message,
    register,
    request_message,
    result,
)
from tests.unit.adapters.store.conftest import engine, examples, sessions, store_url  # noqa: F401

HEADER = ("customer_id,customer_name,account_id,account_status,premise_number,usage_point_id,meter_number,"
          "transformer_id,transformer_capacity_kw,feeder_id,feeder_capacity_kw,station_id,station_max_kw,"
          "ev_id,ev_battery_kwh,ev_max_kw")
# Two premises on a transformer (and feeder) the running planner has never seen.
NEW_TRANSFORMER = [
    "C-2001,Gijs Mulder,A-2001,open,P-2001,UP-2001,M-2001,T-09,22,F-09,100,S-2001,7.2,EV-2001,60,11",
    "C-2002,Hanna Bos,A-2002,open,P-2002,UP-2002,M-2002,T-09,22,F-09,100,S-2002,7.2,EV-2002,60,11",
]


@pytest.fixture
def seeded(store_url: str, examples: Path) -> str:  # noqa: F811
    seed_store(store_url, examples)
    return store_url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["one process", "two workers"])
def workers(request: pytest.FixtureRequest, seeded: str,
            clock: Clock) -> Iterator[tuple[OperationSystem, OperationSystem]]:
    """The running system: one process (twice the same), or two scale-out workers on one database."""
    if request.param == "one process":
        system = operation_system(seeded, horizon=RollingHorizon(NIGHT), clock=clock)
        yield system, system
        system.close()
        return
    a = operation_system(seeded, horizon=RollingHorizon(NIGHT), clock=clock, worker_id="A")
    b = operation_system(seeded, horizon=RollingHorizon(NIGHT), clock=clock, worker_id="B")
    yield a, b
    b.close()
    a.close()


def import_rows(system: OperationSystem, tmp_path: Path, rows: list[str], name: str = "change.csv") -> None:
    """A registry import while the system runs (what ``evgrid registry import`` does)."""
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    with system.sessions.begin() as db:  # type: ignore[attr-defined]
        import_registry(db, path)


def slot_power(system: OperationSystem, session_id: str) -> list[float]:
    with system.sessions() as db:  # type: ignore[operator]
        return [float(kw) for kw in db.scalars(select(m.SlotAllocation.power_kw)
                                                .where(m.SlotAllocation.session_id == session_id))]


def test_a_premise_on_a_new_transformer_is_planned_without_a_restart(
        workers: tuple[OperationSystem, OperationSystem], tmp_path: Path) -> None:
    a, b = workers
    assert result(a.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
    import_rows(a, tmp_path, NEW_TRANSFORMER)
    # Before: FAILED 5.0 "internal error" (ValueError: unknown transformer) until a restart.
    assert result(a.router.handle(request_message("EV-2001", "S-2001", "C-2001", "UP-2001"))) == ("OK", None)
    assert result(b.router.handle(request_message("EV-2002", "S-2002", "C-2002", "UP-2002"))) == ("OK", None)
    with a.unit_of_work() as uow:  # A follows B's placement at its next use of that partition
        uow.planner.release("S-nobody", "T-09")
        uow.commit()
    for system in {id(a): a, id(b): b}.values():
        grid = {t.transformer_id: t for t in problem(system, "feeder:F-09").transformers}
        assert grid["T-09"].capacity_kw == 22.0 and grid["T-09"].feeder_id == "F-09"
        assert {f.feeder_id for f in problem(system, "feeder:F-09").feeders} == {"F-09"}
        assert set(system.planner.planned()) >= {"S-R-EV-2001", "S-R-EV-2002"}
    # Nothing planned before the import was lost.
    assert set(a.planner.planned()) == {"S-R-EV-1001", "S-R-EV-2001", "S-R-EV-2002"}
    assert max(slot_power(a, "S-R-EV-2001")) > 0


def problem(system: OperationSystem, partition: str) -> Problem:
    """The problem ``system`` plans ``partition`` with (opened there)."""
    window = system.planner.partition(partition).window
    assert window is not None
    return window.problem


def test_a_changed_transformer_capacity_is_planned_with(
        workers: tuple[OperationSystem, OperationSystem], tmp_path: Path) -> None:
    a, b = workers
    # T-01: 37.5 kW -> 2 kW (no base load known: 2 kW for every EV on it together).
    import_rows(a, tmp_path, ["C-1001,Anna de Vries,A-1001,open,P-1001,UP-1001,M-1001,T-01,2,F-01,400,"
                              "S-1001,7.2,EV-1001,64,11"])
    assert result(b.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001", wh=4_000))) \
        == ("OK", None)
    power = slot_power(b, "S-R-EV-1001")
    assert power and max(power) <= 2.0  # before: 7.2 kW a slot, on the capacity read at start
    assert {t.transformer_id: t.capacity_kw for t in problem(b, "feeder:F-01").transformers}["T-01"] == 2.0


def test_a_tariff_import_reaches_the_running_planner(
        workers: tuple[OperationSystem, OperationSystem], tmp_path: Path, examples: Path) -> None:  # noqa: F811
    a, b = workers
    text = (examples / "tariff.toml").read_text(encoding="utf-8")
    changed = tmp_path / "tariff.toml"
    changed.write_text(text.replace('id = "NL-EV-TOU-2025"', 'id = "NL-EV-TOU-2026"')
                       .replace('price_per_kwh = "0.09"', 'price_per_kwh = "0.07"'), encoding="utf-8")
    with a.sessions.begin() as db:  # type: ignore[attr-defined]
        import_tariff(db, changed)
    assert result(b.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
    prices = problem(b, "feeder:F-01").prices_per_kwh
    assert 0.07 in prices and 0.09 not in prices


def test_a_closed_account_is_refused_new_requests_and_its_session_finishes(
        workers: tuple[OperationSystem, OperationSystem], tmp_path: Path, clock: Clock) -> None:
    a, b = workers
    # EV-1002 (account A-1002) charges at once as a third party at P-1003.
    assert result(a.router.handle(request_message("EV-1002", "S-1003", "C-1003", "UP-1003", wh=8_000)))[0] == "OK"
    import_rows(a, tmp_path, ["C-1002,Bram Jansen,A-1002,closed,P-1002,UP-1002,M-1002,T-01,37.5,F-01,400,"
                              "S-1002,7.2,EV-1003,40,7.4"])
    # A new request of the closed account: 6.3, at once, on either worker.
    assert result(b.router.handle(request_message("EV-1003", "S-1002", "C-1002", "UP-1002"))) == ("FAILED", "6.3")
    # The session in progress finishes: start reading, completion.
    start, end = NIGHT + timedelta(minutes=45), NIGHT + timedelta(minutes=115)
    with a.sessions() as db:  # type: ignore[operator]
        session_id = db.scalar(select(m.ChargingSession.session_id).where(m.ChargingSession.ev_id == "EV-1002"))
    clock.moment = start
    assert result(b.router.handle(event_message("MeterReadings", register("M-1003", start, 500_000), "r1")))[0] \
        == "OK"
    clock.moment = end
    done = completion(session_id, "S-1003", "EV-1002", "M-1003", start, end, 500_000, 508_000)
    assert result(b.router.handle(event_message("ChargingCompletion", done, "c1")))[0] == "OK"
    with a.sessions() as db:  # type: ignore[operator]
        assert db.get(m.ChargingSession, session_id).state == "completed"
        assert db.scalar(select(func.count()).select_from(m.ChargingSession)
                         .where(m.ChargingSession.ev_id == "EV-1003")) == 0


def test_a_transformer_the_planner_has_not_seen_is_refused_2_7_not_an_internal_error(
        workers: tuple[OperationSystem, OperationSystem]) -> None:
    a, b = workers
    # B plans feeder F-01 already (opened by a request there).
    assert result(b.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
    # Written behind the import's back (no registry version bump): as if the planner had
    # not caught up with it yet.
    with a.sessions.begin() as db:  # type: ignore[attr-defined]
        db.add(m.Transformer(transformer_id="T-77", capacity_kw=Decimal(50), feeder_id="F-01"))
        db.flush()
        db.add(m.ServiceLocation(premise_number="P-3001", usage_point_id="UP-3001", meter_number="M-3001",
                                 account_id="A-1004", transformer_id="T-77"))
        db.flush()
        db.add(m.ChargingStation(station_id="S-3001", premise_number="P-3001", max_power_kw=Decimal("7.2")))
    reply = b.router.handle(request_message("EV-1004", "S-3001", "C-1004", "UP-3001"))
    assert result(reply) == ("FAILED", "2.7")  # before: ("FAILED", "5.0"), internal error
    assert b"T-77" in reply and b"P-3001" in reply
    with a.sessions() as db:  # type: ignore[operator]
        assert db.scalar(select(func.count()).select_from(m.ChargingSession)
                         .where(m.ChargingSession.ev_id == "EV-1004")) == 0
