"""Faults around two real ``evgrid serve --config`` workers on one PostgreSQL schema and one
RabbitMQ prefix: the broker restarted, the database cut and restored, a poison message,
a worker killed just before its starts are due. Each test reads its verdict from the
replies, the queues and the tables, never from the workers' word alone.

Every test has a schema and a prefix of its own (queues and exchanges deleted at the
end); every worker process is killed at the end, whatever happened.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pika
import pytest
from pika.exceptions import AMQPError
from sqlalchemy import Engine, func, make_url, select, text

from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import make_engine
from evgrid.adapters.store.leases import hrw_winner
from evgrid.adapters.store.models import DispatchOrder, StationLease
from evgrid.adapters.store.testing import scratch_schema
from evgrid.cim.codec import Codec
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import request_message, result
from tests.integration.workers import Esb, Relay, Worker, home_request, reply_of, start_all, wait_for, write_config
from tests.unit.adapters.store.conftest import write_registry

pytestmark = [pytest.mark.postgres, pytest.mark.amqp, pytest.mark.slow]

STATIONS = 60
SLACK = 5.0  # seconds of scheduling noise on two shared cores, on top of any stated bound
# The core's clock at 17:40 on the requests' night, in real time: no start comes due in these tests.
REAL_TIME = (1.0, "2026-11-26T17:40:00Z")
codec = Codec()


@dataclass
class Cluster:
    """One schema, one prefix, the workers started on them."""

    url: str
    prefix: str
    amqp_url: str
    folder: Path
    esb: Esb
    engine: Engine
    workers: list[Worker] = field(default_factory=list)
    replies: dict[str, list[bytes]] = field(default_factory=dict)

    def worker(self, name: str, *, database: str | None = None, lease_seconds: float = 15, max_tries: int = 5,
               clock: tuple[float, str] | None = REAL_TIME, epoch: float | None = None) -> Worker:
        speed, start = clock or REAL_TIME
        config = write_config(self.folder / f"{name}.toml", database=database or self.url, amqp=self.amqp_url,
                              prefix=self.prefix, worker=name, lease_seconds=lease_seconds, max_tries=max_tries,
                              clock=(speed, start, time.time() if epoch is None else epoch))
        self.workers.append(Worker(name, config))
        return self.workers[-1]

    def scalar(self, query: object) -> object:
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()  # type: ignore[call-overload]

    def rows(self, query: object) -> list[tuple[object, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query)]  # type: ignore[call-overload]

    def sessions_per_ev(self) -> Counter[str]:
        return Counter(ev for (ev,) in self.rows(select(m.ChargingSession.ev_id)))

    def inbound(self) -> Counter[str]:
        return Counter(mid for (mid,) in self.rows(select(m.InboundMessage.message_id)))

    def answers(self, count: int, seconds: float) -> dict[str, list[bytes]]:
        """Replies from the test's reply queue, by correlation id, once ``count`` requests have one."""
        def collect() -> bool:
            for properties, body in self.esb.take(self.esb.replies):
                self.replies.setdefault(properties.correlation_id, []).append(body)
            return len(self.replies) >= count

        wait_for(collect, seconds, f"a reply to {count} ESB requests")
        return self.replies


@pytest.fixture
def cluster(database_url: str, amqp_url: str, tmp_path: Path, examples: Path) -> Iterator[Cluster]:
    """A fresh schema with 60 premises (S-n, EV-n) on a 1 MW transformer, and a fresh prefix."""
    write_registry(tmp_path / "registry.csv", STATIONS, transformer_kw=1000.0)
    shutil.copy(examples / "tariff.toml", tmp_path / "tariff.toml")
    with scratch_schema(database_url) as url:
        seed_store(url, tmp_path)
        esb = Esb(amqp_url, f"evgrid-test-{uuid.uuid4().hex[:12]}")
        made = Cluster(url, esb.topology.prefix, amqp_url, tmp_path, esb, make_engine(url))
        try:
            yield made
        finally:
            for worker in made.workers:
                worker.kill()
            made.engine.dispose()
            esb.close()


def healthy_amqp(worker: Worker) -> bool:
    return worker.check("amqp")["status"] == "ok"


# ------------------------------------------------------------------ broker restart
def rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=180, check=False)


def broker_accepts(url: str) -> bool:
    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
    except AMQPError:
        return False
    return True


def test_a_broker_restart_loses_no_request_and_applies_none_twice(cluster: Cluster) -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not available here: the broker cannot be restarted from the test")
    if (status := rabbitmqctl("status")).returncode != 0:
        pytest.skip(f"rabbitmqctl may not control this broker: {status.stderr.strip()[:200]}")
    workers = start_all([cluster.worker("A"), cluster.worker("B")])
    esb = cluster.esb
    esb.declare_replies()
    before, after = range(1, 41), range(41, 51)
    for n in before:
        esb.publish(home_request(n, f"B-{n}"), f"B-{n}")
    queued = esb.depth(esb.topology.queue("ChargingRequest"))
    assert queued > 0, "the workers took every request before the restart: publish more"
    try:  # whatever happens, the broker is started again
        stopped = rabbitmqctl("stop_app")
        assert stopped.returncode == 0, stopped.stderr
        esb.forget_connection()
        # Both notice: /health says the ESB is unavailable while the broker is away.
        for worker in workers:
            wait_for(lambda w=worker: w.health()[0] == 503 and not healthy_amqp(w), 30, f"{worker.name} sees it")
    finally:
        started = rabbitmqctl("start_app")
        assert started.returncode == 0, started.stderr
    wait_for(lambda: broker_accepts(cluster.amqp_url), 60, "the broker accepts connections again")
    returned = time.monotonic()
    for n in after:
        esb.publish(home_request(n, f"B-{n}"), f"B-{n}")
    answers = cluster.answers(len(before) + len(after), 90)
    for worker in workers:
        wait_for(lambda w=worker: healthy_amqp(w), 60, f"{worker.name} consumes again")
    back = time.monotonic() - returned

    ids = {f"B-{n}" for n in (*before, *after)}
    assert answers.keys() == ids  # nothing lost, nothing foreign
    # A request applied but not acked before the restart is delivered again: the stored reply, again.
    assert all(len(set(bodies)) == 1 and result(bodies[0]) == ("OK", None) for bodies in answers.values())
    assert cluster.sessions_per_ev() == Counter({f"EV-{n:04d}": 1 for n in (*before, *after)})
    assert cluster.inbound() == Counter(ids)
    assert esb.depth(esb.topology.dead_letter_queue) == 0
    assert esb.depth(esb.topology.queue("ChargingRequest")) == 0
    print(f"\n{queued} of {len(before)} requests still queued at the restart; "
          f"{sum(len(b) > 1 for b in answers.values())} answered twice (stored reply); "
          f"all answered and both consuming {back:.1f} s after the broker returned")


# ---------------------------------------------------------------- database restart
def test_a_database_outage_fails_soap_cleanly_holds_amqp_and_both_recover(cluster: Cluster) -> None:
    target = make_url(cluster.url)
    relay = Relay((target.host or "127.0.0.1", target.port or 5432))
    try:
        through = target.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
        workers = start_all([cluster.worker("A", database=through), cluster.worker("B", database=through)])
        esb = cluster.esb
        esb.declare_replies()
        assert [worker.health()[0] for worker in workers] == [200, 200]

        relay.cut()
        for worker in workers:
            wait_for(lambda w=worker: w.health()[0] == 503, 30, f"{worker.name} reports the outage")
            assert worker.check("database") == {"status": "unavailable", "error": "StoreError"}
        # SOAP: a clean FAILED reply, code 5.x, HTTP 200; no stack trace in it.
        for n, worker in enumerate(workers, start=1):
            response = worker.post(home_request(n))
            reply = reply_of(response)
            codec.validate(codec.parse(reply))
            outcome, code = result(reply)
            assert response.status_code == 200 and outcome == "FAILED" and code is not None and code.startswith("5.")
            assert b"Traceback" not in response.content and b"psycopg" not in response.content
        # AMQP: held and tried again in place, neither answered nor dead-lettered.
        queued = range(3, 9)
        for n in queued:
            esb.publish(home_request(n), f"D-{n}")

        def retries() -> int:
            return sum(line["message"].startswith("transient failure") for w in workers for line in w.lines())

        wait_for(lambda: retries() >= 3, 30, "the ESB binding tries the held message again")
        assert esb.depth(esb.topology.dead_letter_queue) == 0 and esb.depth(esb.replies) == 0
        assert all(worker.alive for worker in workers)

        relay.restore()
        for worker in workers:
            wait_for(lambda w=worker: w.health()[0] == 200, 30, f"{worker.name} healthy again")
        # The same SOAP requests (same MessageIDs) now succeed: the failures were not stored as answers.
        for n, worker in enumerate(workers, start=1):
            assert worker.request(n) == ("OK", None)
        answers = cluster.answers(len(queued), 60)
        assert {cid: [result(body) for body in bodies] for cid, bodies in answers.items()} == {
            f"D-{n}": [("OK", None)] for n in queued}
        assert cluster.sessions_per_ev() == Counter({f"EV-{n:04d}": 1 for n in range(1, 9)})
        assert esb.depth(esb.topology.dead_letter_queue) == 0
    finally:
        relay.close()


# ----------------------------------------------------------------------- poison
def test_a_poison_message_is_dead_lettered_after_max_tries_across_both_workers(cluster: Cluster) -> None:
    # A real serve worker has no test hook to make its handler raise on purpose. What does
    # it from outside is a fault in the utility's own database: a trigger that refuses
    # EV-0001's session with an error (not an outage, so not retried in place), on every
    # delivery. Bad input (a MessageID or mRID longer than the store keeps) is no poison:
    # it is refused up front with a FAILED reply (2.6), see the test after this one.
    with cluster.engine.begin() as connection:
        connection.execute(text(
            "CREATE FUNCTION refuse_ev_0001() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.ev_id = 'EV-0001' THEN RAISE EXCEPTION 'refused by the site''s trigger'; END IF; "
            "RETURN NEW; END $$"))
        connection.execute(text("CREATE TRIGGER refuse_ev_0001 BEFORE INSERT ON charging_sessions "
                                "FOR EACH ROW EXECUTE FUNCTION refuse_ev_0001()"))
    max_tries = 3
    workers = start_all([cluster.worker("A", max_tries=max_tries), cluster.worker("B", max_tries=max_tries)])
    esb = cluster.esb
    esb.declare_replies()
    poison = home_request(1)
    esb.publish(poison, "poison")
    for n in (2, 3):
        esb.publish(home_request(n), f"G-{n}")
    wait_for(lambda: esb.depth(esb.topology.dead_letter_queue) == 1, 60, "the poison message is dead-lettered")
    # The requests behind the poison message are answered, and so is the poison message
    # itself, FAILED 5.0 on its last try: no caller waits forever.
    answers = cluster.answers(3, 30)
    assert {cid: [result(body) for body in bodies] for cid, bodies in answers.items()} == {
        "G-2": [("OK", None)], "G-3": [("OK", None)], "poison": [("FAILED", "5.0")]}
    ((properties, body),) = esb.take(esb.topology.dead_letter_queue)
    assert body == poison and properties.correlation_id == "poison"
    assert (properties.headers["x-first-death-reason"], properties.headers["x-first-death-queue"]) == (
        "delivery_limit", esb.topology.queue("ChargingRequest"))
    failures = [(worker.name, line) for worker in workers for line in worker.lines()
                if line["message"].startswith("unexpected error while handling an ESB message")]
    assert len(failures) == max_tries, failures  # exactly max_tries deliveries, whichever worker took them
    assert all("refused by the site's trigger" in line["exc"] for _, line in failures)
    assert cluster.sessions_per_ev() == Counter({"EV-0002": 1, "EV-0003": 1})  # nothing of the poison stored
    assert all(worker.alive and healthy_amqp(worker) for worker in workers)


def test_ids_longer_than_the_store_keeps_are_refused_up_front_not_dead_lettered(cluster: Cluster) -> None:
    (worker,) = start_all([cluster.worker("A", max_tries=2)])
    esb = cluster.esb
    esb.declare_replies()
    esb.publish(home_request(1, "P" * 200), "long-message-id")
    # The profile caps an mRID at 64 (2.4, schema-invalid); a session id adds "S-", so 63-64 are 2.6.
    esb.publish(request_message("EV-0002", "S-0002", "C-0002", "UP-0002", mrid="R" * 70), "long-mrid")
    esb.publish(request_message("EV-0003", "S-0003", "C-0003", "UP-0003", mrid="R" * 64), "mrid-64")
    answers = cluster.answers(3, 30)
    assert {cid: [result(body) for body in bodies] for cid, bodies in answers.items()} == {
        "long-message-id": [("FAILED", "2.6")], "long-mrid": [("FAILED", "2.4")], "mrid-64": [("FAILED", "2.6")]}
    assert esb.depth(esb.topology.dead_letter_queue) == 0 and not cluster.sessions_per_ev()
    assert worker.alive and healthy_amqp(worker)


# ------------------------------------------------------- worker killed mid-dispatch
SPEED = 600.0  # a simulated 15-minute slot in 1.5 s
LEAD_S = 25.0  # wall seconds from the epoch to 22:00 (the first home start): for start-up and placing
TTL = 3.0
SESSIONS = 12


def test_a_worker_killed_before_its_starts_are_due_is_taken_over_and_every_start_goes_out_once(
        cluster: Cluster) -> None:
    epoch = time.time()
    first_start = datetime(2026, 11, 26, 22, tzinfo=UTC)
    clock_start = first_start - timedelta(seconds=LEAD_S * SPEED)

    def wall(moment: datetime) -> float:  # when (Unix time) the shared clock reaches ``moment``
        return epoch + (moment - clock_start).total_seconds() / SPEED

    clock = (SPEED, clock_start.isoformat())
    a, b = (cluster.worker(name, lease_seconds=TTL, clock=clock, epoch=epoch) for name in ("A", "B"))
    start_all([a, b])
    stations = {f"S-{n:04d}" for n in range(1, STATIONS + 1)}
    owner = {station: hrw_winner(station, {"A", "B"}) for station in stations}
    wait_for(lambda: dict(cluster.rows(select(StationLease.station_id, StationLease.worker_id))) == owner,
             2 * TTL + SLACK, "the stations shared between the two live workers")
    for n in range(1, SESSIONS + 1):  # placed through either worker, whoever holds the station
        assert (a if n % 2 else b).request(n) == ("OK", None)
    sessions = {sid: (station, start) for sid, station, start in cluster.rows(
        select(m.ChargingSession.session_id, m.ChargingSession.station_id, m.ChargingSession.planned_start))}
    assert len(sessions) == SESSIONS
    # The victim: the worker with the most sessions at the first start (22:00).
    earliest = min(start for _, start in sessions.values())
    victim, survivor = sorted((a, b), key=lambda w: -sum(
        owner[station] == w.name and start == earliest for station, start in sessions.values()))
    mine = {sid for sid, (station, _) in sessions.items() if owner[station] == victim.name}
    assert mine and len(mine) < SESSIONS
    # Both have the jobs of their stations' sessions (a start each, and a stop).
    for worker in (a, b):
        count = sum(owner[station] == worker.name for station, _ in sessions.values())
        wait_for(lambda w=worker, c=count: w.check("dispatcher")["jobs"] >= c, SLACK, f"{worker.name}'s jobs")

    kill_at = wall(earliest) - 1.0
    assert time.time() < kill_at, f"the set-up overran the first start by {time.time() - kill_at:.1f} s: raise LEAD_S"
    time.sleep(kill_at - time.time())  # the fault's moment, not an assertion
    victim.kill()
    killed = time.monotonic()
    # None of its starts was due yet (the survivor's own may be going out by now).
    assert cluster.scalar(select(func.count()).select_from(DispatchOrder).where(DispatchOrder.session_id.in_(mine))) == 0

    everything = {station: survivor.name for station in stations}
    wait_for(lambda: dict(cluster.rows(select(StationLease.station_id, StationLease.worker_id))) == everything,
             TTL + TTL / 3 + SLACK, "the survivor takes over every station")
    taken_over = time.monotonic() - killed
    assert survivor.check("leases")["held"] == STATIONS

    def orders() -> dict[str, str]:
        return dict(cluster.rows(select(DispatchOrder.session_id, DispatchOrder.worker_id)
                                 .where(DispatchOrder.action == "start")))

    latest = max(start for _, start in sessions.values())
    wait_for(lambda: len(orders()) == SESSIONS, max(0.0, wall(latest) - time.time()) + SLACK,
             "a start order for every session")
    assert set(orders().values()) == {survivor.name}  # the victim died before any of its starts
    closes = Counter(mid for (mid,) in cluster.rows(select(m.OutboxMessage.message_id).where(
        m.OutboxMessage.noun == "EndDeviceControls")) if mid.endswith(":start"))
    assert closes == Counter({f"EndDeviceControls:{sid}:start": 1 for sid in sessions})

    # The killed worker comes back (same id): it gets its stations again and, finding their
    # starts past due, fires them at once; the fence stops every one of them.
    victim.launch().wait_ready()
    wait_for(lambda: dict(cluster.rows(select(StationLease.station_id, StationLease.worker_id))) == owner,
             2 * TTL + SLACK, "the restarted worker gets its stations back")

    def fired_after_restart() -> bool:
        ran = sum(line["message"].endswith(("executed successfully", "raised an exception"))
                  for line in victim.lines(last_start=True) if line["logger"].startswith("apscheduler"))
        # Its jobs: every start (all past due) and the stops due by now; so many runs means every start ran.
        stops_due = sum(1 for sid in mine if wall(_stop(cluster, sid)) <= time.time())
        return ran >= len(mine) + stops_due

    share = sum(w == victim.name for w in owner.values())
    wait_for(lambda: victim.check("leases")["held"] == share, TTL + SLACK, "the restarted worker renews them")
    wait_for(fired_after_restart, 2 * SLACK, "the restarted worker fires the starts of its sessions")
    assert orders() == {sid: survivor.name for sid in sessions}
    assert Counter(mid for (mid,) in cluster.rows(select(m.OutboxMessage.message_id).where(
        m.OutboxMessage.noun == "EndDeviceControls")) if mid.endswith(":start")) == closes
    assert not [line for line in victim.lines() if line["level"] == "ERROR"]
    assert taken_over < TTL + TTL / 3 + SLACK
    print(f"\ntaken over {taken_over:.1f} s after the kill (bound {TTL + TTL / 3:g} s + slack)")


def _stop(cluster: Cluster, session_id: str) -> datetime:
    return cluster.scalar(select(m.ChargingSession.planned_end).where(
        m.ChargingSession.session_id == session_id))  # type: ignore[return-value]
