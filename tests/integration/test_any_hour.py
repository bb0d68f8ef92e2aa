"""Any hour of the day, one feeder at a time: two real ``evgrid serve`` workers on PostgreSQL.

The workers' clock is at 13:00 UTC (real time) and their windows start every 6 hours from
17:00: a quick charge at 13:00 starts at once, a home request at 13:00 charges in the EV
night (23:00-07:00 Amsterdam time), a departure three days away is planned up to the
horizon and confirmed PARTIAL, and a request on one feeder never waits for the plan lock
of another, across workers.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select, text

from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import make_engine
from evgrid.adapters.store.testing import scratch_schema
from evgrid.cim.namespaces import MESSAGE as MSG
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import request_message
from tests.integration.workers import Esb, Worker, reply_of, start_all, write_config
from tests.unit.adapters.store.conftest import REGISTRY_HEADER

NOON = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)  # the workers' clock at start
# Premise n on transformer T-n; T-1 to T-5 on feeder F-1, T-6 to T-10 on F-2.
FEEDER = {n: "F-1" if n <= 5 else "F-2" for n in range(1, 11)}


def registry(path: Path) -> None:
    lines = [REGISTRY_HEADER]
    for n, feeder in FEEDER.items():
        tag, station_kw = f"{n:04d}", 2 if n == 3 else 11  # S-0003: a 2 kW socket
        lines.append(f"C-{tag},Customer {tag},A-{tag},open,P-{tag},UP-{tag},M-{tag},T-{n},100,{feeder},150,"
                     f"S-{tag},{station_kw},EV-{tag},80,11")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def workers(database_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory,
            examples: Path) -> Iterator[tuple[Worker, Worker, str]]:
    """Two workers on a schema of their own, for every test here (each uses premises of its own)."""
    tmp_path = tmp_path_factory.mktemp("any-hour")
    registry(tmp_path / "registry.csv")
    shutil.copy(examples / "tariff.toml", tmp_path / "tariff.toml")
    with scratch_schema(database_url) as url:
        seed_store(url, tmp_path)
        esb = Esb(amqp_url, f"evgrid-test-{uuid.uuid4().hex[:12]}")
        clock = (1.0, NOON.strftime("%Y-%m-%dT%H:%M:%SZ"), time.time())
        started = [Worker(name, write_config(tmp_path / f"{name}.toml", database=url, amqp=amqp_url,
                                             prefix=esb.topology.prefix, worker=name, clock=clock))
                   for name in ("A", "B")]
        try:
            start_all(started)
            yield started[0], started[1], url
        finally:
            for worker in started:
                worker.kill()
            esb.close()


def ask(worker: Worker, ev: int, station: int, *, hours: float, wh: int = 20_000) -> tuple[str, list[str]]:
    """EV-ev's ChargingRequest at station S-station, plugged in at 13:00: the result and the detail texts."""
    ev_tag, tag = f"{ev:04d}", f"{station:04d}"
    message = request_message(f"EV-{ev_tag}", f"S-{tag}", f"C-{tag}", f"UP-{tag}", wh=wh, hours=hours,
                              plugged_in=NOON, message_id=f"M-{ev_tag}-{uuid.uuid4().hex[:6]}",
                              mrid=f"R-{ev_tag}")
    reply = etree.fromstring(reply_of(worker.post(message)))
    errors = reply.findall(f"{{{MSG}}}Reply/{{{MSG}}}Error")
    return (reply.findtext(f"{{{MSG}}}Reply/{{{MSG}}}Result"),
            [" ".join(error.itertext()) for error in errors])


def session_of(url: str, ev: int) -> m.ChargingSession:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(m.ChargingSession).where(m.ChargingSession.ev_id == f"EV-{ev:04d}")).one()
    finally:
        engine.dispose()


def test_a_quick_charge_at_13_00_starts_at_once(workers: tuple[Worker, Worker, str]) -> None:
    a, _, url = workers
    # EV-0002 at its friend's station S-0001: a third-party quick charge until 16:00.
    assert ask(a, 2, 1, hours=3, wh=10_000) == ("OK", [])
    session = session_of(url, 2)
    assert session.kind == "thirdParty"
    assert session.planned_start.replace(tzinfo=UTC) == NOON
    assert session.planned_wh == 10_000


def test_a_home_request_at_13_00_charges_in_the_ev_night(workers: tuple[Worker, Worker, str]) -> None:
    _, b, url = workers
    assert ask(b, 6, 6, hours=18) == ("OK", [])  # leaves at 07:00 UTC
    session = session_of(url, 6)
    night_begins, night_ends = datetime(2026, 11, 27, 22, tzinfo=UTC), datetime(2026, 11, 28, 6, tzinfo=UTC)
    assert night_begins <= session.planned_start.replace(tzinfo=UTC)
    assert session.planned_end.replace(tzinfo=UTC) <= night_ends
    assert session.planned_wh == 20_000


def test_a_departure_three_days_away_is_planned_up_to_the_horizon_and_confirmed_partial(
        workers: tuple[Worker, Worker, str]) -> None:
    a, _, url = workers
    # 70 kWh at 2 kW: 35 hours, reachable by a departure 72 hours away, not within the horizon.
    result, details = ask(a, 3, 3, hours=72, wh=70_000)
    assert result == "PARTIAL", details
    (detail,) = details
    horizon_end = datetime(2026, 11, 27, 11, tzinfo=UTC) + timedelta(hours=30)  # the window from 11:00
    assert f"the plan reaches {horizon_end.isoformat()}" in detail
    session = session_of(url, 3)
    assert session.planned_end.replace(tzinfo=UTC) <= horizon_end
    assert 0 < session.planned_wh == session.reachable_wh < 70_000


def test_a_request_on_one_feeder_never_waits_for_the_plan_lock_of_another(
        workers: tuple[Worker, Worker, str]) -> None:
    a, b, url = workers
    engine = make_engine(url)

    def heads() -> dict[str, int]:
        with engine.connect() as connection:
            return dict(connection.execute(select(m.PlanPartition.partition_id, m.PlanPartition.seq)).all())

    assert ask(a, 4, 4, hours=18) == ("OK", [])  # F-1's partition row exists now
    assert ask(b, 7, 7, hours=18) == ("OK", [])  # and F-2's
    before = heads()
    held = threading.Event()
    release = threading.Event()

    def hold_f1() -> None:  # as a worker busy placing on F-1 would
        with engine.begin() as connection:
            connection.execute(text("SELECT seq FROM plan_partitions WHERE partition_id = 'feeder:F-1' FOR UPDATE"))
            held.set()
            release.wait(60)

    try:
        with ThreadPoolExecutor(2) as pool:
            holder = pool.submit(hold_f1)
            assert held.wait(30)
            on_f1 = pool.submit(ask, b, 5, 5, hours=18)  # T-5 is on F-1: waits for the lock
            started = time.monotonic()
            assert ask(a, 8, 8, hours=18) == ("OK", [])  # T-8 is on F-2: does not
            assert time.monotonic() - started < 30 and not on_f1.done()
            release.set()
            holder.result(60)
            assert on_f1.result(60) == ("OK", [])
        after = heads()
    finally:
        release.set()
        engine.dispose()
    assert {key: after[key] - before[key] for key in after} == {"feeder:F-1": 1, "feeder:F-2": 1}
