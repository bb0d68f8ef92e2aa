"""`evgrid serve --config` in its own process: GET /health, a portal's request over HTTPS,
JSON-lines logs, and a clean stop on SIGTERM or ^C; the health endpoint and the log
format on their own; the ESB binding when a RabbitMQ is configured."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from evgrid import __version__
from evgrid.adapters.soap.client import ServiceClient
from evgrid.adapters.soap.server import serve_in_thread
from evgrid.adapters.soap.tls import client_context
from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import make_engine, session_factory
from evgrid.apps.evos.health import HealthApp
from evgrid.apps.logs import configure_logging
from evgrid.apps.processes import first_line
from evgrid.clock import AcceleratedClock
from evgrid.errors import StoreError
from tests.conftest import free_port
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import codec, request_message
from tests.integration.workers import wait_for

PORTAL = ("portal-1001", "pw-1001")
USERS = """
[[users]]
user = "portal-1001"
password_env = "PORTAL_1001_PASSWORD"
kind = "portal"
customer = "C-1001"
usage_point = "UP-1001"
"""


def write_config(folder: Path, database: str, text: str, clock: str = "speed = 1\nstart = 2026-11-26T17:40:00Z") -> Path:
    config = folder / "evgrid.toml"
    # By default the core's clock at 17:40 on the requests' night, in real time: the tests
    # run on any date.
    config.write_text(f'[database]\nurl = "{database}"\n[planning]\nstart = 2026-11-26T17:00:00Z\n'
                      f'[clock]\n{clock}\n{USERS}{text}', encoding="utf-8")
    return config


def environment(**extra: str) -> dict[str, str]:
    """This environment without EVGRID_* (a CI database or broker must not leak in), plus ``extra``."""
    return {name: value for name, value in os.environ.items() if not name.startswith("EVGRID_")} | {
        "PORTAL_1001_PASSWORD": PORTAL[1], **extra}


@pytest.fixture
def stderr_file(tmp_path: Path) -> Path:
    return tmp_path / "serve.stderr"


def start_serve(config: Path, stderr: Path, env: dict[str, str],
                timeout_s: float = 60.0) -> tuple[subprocess.Popen[bytes], str]:
    """``evgrid serve --config`` until its ready line; the process and the service URL."""
    with stderr.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "evgrid", "serve", "--config", str(config)],
                                   stdout=subprocess.PIPE, stderr=sink, env=env)
    line = first_line(process, timeout_s)
    if not line.startswith("ready "):
        process.kill()
        process.communicate(timeout=10)
        pytest.fail(f"evgrid serve did not start: {line!r} {stderr.read_text()[-3000:]}")
    return process, line.split("url=", 1)[1].strip()


def stop(process: subprocess.Popen[bytes], signum: int) -> int:
    process.send_signal(signum)
    try:
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    return int(process.returncode)


def json_lines(stderr: Path) -> list[dict[str, Any]]:
    """Every stderr line, parsed: each must be one JSON object."""
    return [json.loads(line) for line in stderr.read_text(encoding="utf-8").splitlines()]


def pending_outbox(url: str) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            return int(db.scalar(select(func.count()).select_from(m.OutboxMessage)
                                 .where(m.OutboxMessage.status == "pending")))
    finally:
        engine.dispose()


def test_serve_from_a_config_file_reports_health_answers_and_stops_on_sigterm(
        tmp_path: Path, examples: Path, stderr_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'evgrid.db'}"
    seed_store(url, examples)
    config = write_config(tmp_path, url, '[soap]\nport = 0\ntls_dir = "pki"\n[worker]\nid = "worker-a"\n'
                                         '[log]\nlevel = "INFO"\nformat = "json"\n')
    process, service_url = start_serve(config, stderr_file, environment())
    try:
        base = service_url.rsplit("/", 1)[0]
        assert base.startswith("https://")  # tls_dir: a demo CA and certificate made in ./pki
        verify = client_context(tmp_path / "pki" / "ca.pem")
        health = httpx.get(f"{base}/health", verify=verify, timeout=10)
        assert health.status_code == 200 and health.headers["content-type"] == "application/json"
        assert health.json() == {
            "status": "ok", "worker": "worker-a", "version": __version__,
            "checks": {"database": {"status": "ok"}, "dispatcher": {"status": "ok", "jobs": 0},
                       "outbox": {"status": "ok", "pending": 0},
                       "planner": {"status": "ok", "partitions": 0, "sessions": 0}}}

        with ServiceClient("EVOperationSystem", base, credentials=PORTAL, verify=tmp_path / "pki" / "ca.pem") as portal:
            assert codec.decode(portal.send(request_message("EV-1001", "S-1001", "C-1001", "UP-1001"))).result == "OK"
        checks = httpx.get(f"{base}/health", verify=verify, timeout=10).json()["checks"]
        assert checks["dispatcher"] == {"status": "ok", "jobs": 2}  # the session's start and stop
        assert checks["planner"] == {"status": "ok", "partitions": 1, "sessions": 1}
        # No portal host is configured here: the slot allotment waits in the outbox.
        assert checks["outbox"] == {"status": "ok", "pending": pending_outbox(url)} and checks["outbox"]["pending"] > 0
        assert stop(process, signal.SIGTERM) == 0
    finally:
        if process.poll() is None:
            stop(process, signal.SIGKILL)
    lines = json_lines(stderr_file)
    assert all({"ts", "level", "logger", "message", "worker"} <= line.keys() for line in lines)
    assert all(line["worker"] == "worker-a" and line["ts"].endswith("Z") for line in lines)
    messages = [line["message"] for line in lines]
    assert f"serving EVOperationSystem at {base}" in messages
    # In order: the SOAP server closed, then the dispatcher stopped, and last the final line.
    stopping = messages.index("stopping: SOAP server closed; stopping the dispatcher and the outbox worker")
    assert stopping < messages.index("Scheduler has been shut down") < len(messages) - 1
    assert lines[-1]["message"] == "stopped" and lines[-1]["logger"] == "evgrid.apps.evos.worker"
    engine = make_engine(url)
    with session_factory(engine)() as db:
        assert [(s.ev_id, s.state) for s in db.scalars(select(m.ChargingSession))] == [("EV-1001", "scheduled")]
    engine.dispose()


def test_health_on_its_own_port_and_a_clean_stop_on_ctrl_c(tmp_path: Path, examples: Path,
                                                           stderr_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'evgrid.db'}"
    seed_store(url, examples)
    health_port = free_port()
    config = write_config(tmp_path, url, f'[soap]\nport = 0\ntls = false\n[health]\nport = {health_port}\n'
                                         '[log]\nformat = "text"\n')
    process, service_url = start_serve(config, stderr_file, environment(EVGRID_WORKER_ID="worker-b"))
    try:
        health = httpx.get(f"http://127.0.0.1:{health_port}/health", timeout=10)
        assert health.status_code == 200 and health.json()["worker"] == "worker-b"
        # Not on the SOAP port as well: that one may face the outside.
        assert httpx.get(service_url.rsplit("/", 1)[0] + "/health", timeout=10).status_code == 404
        assert stop(process, signal.SIGINT) == 0
    finally:
        if process.poll() is None:
            stop(process, signal.SIGKILL)
    assert stderr_file.read_text(encoding="utf-8").splitlines()[-1].endswith(" INFO evgrid.apps.evos.worker: stopped")


@pytest.mark.slow
def test_an_unreachable_broker_stops_the_start_without_showing_its_password(tmp_path: Path, examples: Path,
                                                                           stderr_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'evgrid.db'}"
    seed_store(url, examples)
    config = write_config(tmp_path, url, '[soap]\nport = 0\ntls = false\n[log]\nformat = "json"\n')
    broker = f"amqp://evgrid:amqp-s3cret@127.0.0.1:{free_port()}/%2F"  # nothing listens there
    with stderr_file.open("wb") as sink:
        result = subprocess.run([sys.executable, "-m", "evgrid", "serve", "--config", str(config)], stdout=subprocess.PIPE,
                                stderr=sink, env=environment(EVGRID_AMQP_URL=broker), timeout=90, check=False)
    assert result.returncode == 2 and b"ready " not in result.stdout
    errors = [line for line in json_lines(stderr_file) if line["level"] == "ERROR"]
    assert errors and errors[-1]["message"].startswith("cannot start: cannot consume from the ESB at 127.0.0.1:")
    assert "amqp-s3cret" not in stderr_file.read_text(encoding="utf-8")


@pytest.mark.amqp
def test_serve_consumes_from_the_esb_when_amqp_is_configured(tmp_path: Path, examples: Path, stderr_file: Path,
                                                             amqp_url: str) -> None:
    from evgrid.adapters.esb.binding import AmqpRequester
    from tests.integration.test_amqp import Broker

    url = f"sqlite:///{tmp_path / 'evgrid.db'}"
    seed_store(url, examples)
    prefix = f"evgrid-test-{uuid.uuid4().hex[:12]}"
    config = write_config(tmp_path, url, f'[soap]\nport = 0\ntls = false\n[amqp]\nprefix = "{prefix}"\n')
    broker = Broker(amqp_url, prefix)
    process, service_url = start_serve(config, stderr_file, environment(EVGRID_AMQP_URL=amqp_url))
    try:
        health = httpx.get(service_url.rsplit("/", 1)[0] + "/health", timeout=10).json()
        assert health["checks"]["amqp"] == {"status": "ok"}
        with AmqpRequester(amqp_url, prefix=prefix) as requester:
            reply = requester.request("ChargingRequest", request_message("EV-1001", "S-1001", "C-1001", "UP-1001"))
        assert codec.decode(reply).result == "OK"
        assert stop(process, signal.SIGTERM) == 0
    finally:
        if process.poll() is None:
            stop(process, signal.SIGKILL)
        broker.close()


# ------------------------------------------------------------ the pieces on their own
def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"inner"]


def test_health_answers_503_with_no_secret_when_a_check_fails_or_hangs() -> None:
    hung = threading.Event()

    def database() -> None:
        raise StoreError("database error: connection to postgresql://evgrid:s3cret@db.internal failed")

    checks = {"database": database, "outbox": lambda: {"pending": 3}, "amqp": hung.wait}
    app = HealthApp(checks, worker="w-1", version="9.9", inner=inner, timeout_s=0.5)
    try:
        with serve_in_thread(app) as base:
            started = time.monotonic()
            answer = httpx.get(f"{base}/health", timeout=10)
            assert time.monotonic() - started < 5  # the hung check did not hold the probe
            assert answer.status_code == 503 and answer.headers["cache-control"] == "no-store"
            assert answer.json() == {"status": "unavailable", "worker": "w-1", "version": "9.9", "checks": {
                "database": {"status": "unavailable", "error": "StoreError"},
                "outbox": {"status": "ok", "pending": 3}, "amqp": {"status": "unavailable", "error": "timeout"}}}
            assert "s3cret" not in answer.text
            assert httpx.post(f"{base}/health", timeout=10).status_code == 405
            assert httpx.get(f"{base}/EVOperationSystem", timeout=10).text == "inner"
    finally:
        hung.set()


def test_json_lines_carry_the_fields_the_extra_and_the_traceback() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        configure_logging("INFO", "json", "w-1", stream=stream)
        log = logging.getLogger("evgrid.test")
        log.debug("not shown")
        log.info("session %s planned", "S-1", extra={"session": "S-1", "at": datetime(2026, 11, 26, tzinfo=UTC)})
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            log.exception("it failed", extra={"level": "overridden?"})
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first.keys() == {"ts", "level", "logger", "message", "worker", "session", "at"}
    assert (first["level"], first["logger"], first["message"], first["worker"]) == (
        "INFO", "evgrid.test", "session S-1 planned", "w-1")
    assert first["session"] == "S-1" and first["at"] == "2026-11-26 00:00:00+00:00"
    assert datetime.fromisoformat(first["ts"]).tzinfo is not None and first["ts"].endswith("Z")
    # The caller's extra never replaces a field; the traceback stays inside its line.
    assert second["level"] == "ERROR" and second["message"] == "it failed"
    assert second["exc"].startswith("Traceback") and second["exc"].endswith("ValueError: bad\nvalue")


def test_serve_moves_a_partition_to_the_next_window_at_the_roll(tmp_path: Path, examples: Path,
                                                                stderr_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'evgrid.db'}"
    seed_store(url, examples)
    # Windows start every 6 h from 17:00 (17, 23, 05, 11); the clock is at 10:50 and runs
    # 20x, so the roll at 11:00 comes 30 s from now: time for serve to start and place one.
    epoch = time.time()
    second = '[[users]]\nuser = "portal-1002"\npassword = "pw-1002"\nkind = "portal"\ncustomer = "C-1002"\n' \
             'usage_point = "UP-1002"\n'
    config = write_config(tmp_path, url, second + '[soap]\nport = 0\ntls = false\n[log]\nformat = "json"\n',
                          clock=f"speed = 20\nstart = 2026-11-27T10:50:00Z\nepoch = {epoch}")
    # serve's clock, read here too: one epoch, one timeline (evgrid.clock)
    clock = AcceleratedClock(20, datetime(2026, 11, 27, 10, 50, tzinfo=UTC), epoch=epoch)
    roll = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    process, service_url = start_serve(config, stderr_file, environment())
    try:
        base = service_url.rsplit("/", 1)[0]

        def planner() -> dict[str, object]:
            return httpx.get(f"{base}/health", timeout=10).json()["checks"]["planner"]

        with ServiceClient("EVOperationSystem", base, credentials=PORTAL) as portal:
            reply = portal.send(request_message("EV-1001", "S-1001", "C-1001", "UP-1001", day=1))
            assert codec.decode(reply).result == "OK"
            assert clock.now() < roll, "placed after the roll: the machine was too slow for this test's clock"
            assert planner() == {"status": "ok", "partitions": 1, "sessions": 1}
        wait_for(lambda: clock.now() > roll, 60, "serve's clock past 11:00: the next window is open")
        with ServiceClient("EVOperationSystem", base, credentials=("portal-1002", "pw-1002")) as portal:
            reply = portal.send(request_message("EV-1002", "S-1002", "C-1002", "UP-1002", day=1))
        assert codec.decode(reply).result == "OK"
        assert planner() == {"status": "ok", "partitions": 1, "sessions": 2}
        assert stop(process, signal.SIGTERM) == 0
    finally:
        if process.poll() is None:
            stop(process, signal.SIGKILL)
    messages = [line["message"] for line in json_lines(stderr_file)]
    assert ("partition feeder:F-01: planning the window from 2026-11-27T11:00:00+00:00 (1 sessions restored)"
            in messages)
