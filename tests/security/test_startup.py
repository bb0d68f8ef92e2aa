"""`evgrid serve --config` that cannot start: one ``cannot start: ...`` line, exit 2, no
traceback; and nothing consumes (ESB, dispatcher, gateways) before the SOAP port is bound,
so a worker that cannot listen never takes a message it cannot serve."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker

from tests.conftest import free_port
from tests.integration.conftest import seed_store
from tests.integration.test_serve_config import environment, write_config

EXAMPLES = Path(__file__).parents[2] / "examples"
TEXT_LOG = '[log]\nlevel = "INFO"\nformat = "text"\n'


def serve_once(config: Path, stderr: Path, env: dict[str, str], timeout_s: float = 90) -> tuple[int, str, str]:
    """Run ``evgrid serve --config`` to its end: exit status, stdout and stderr."""
    with stderr.open("wb") as sink:
        try:
            result = subprocess.run([sys.executable, "-m", "evgrid", "serve", "--config", str(config)],
                                    stdout=subprocess.PIPE, stderr=sink, env=env, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            pytest.fail(f"evgrid serve did not stop by itself: {stderr.read_text()[-3000:]}")
    return result.returncode, result.stdout.decode(), stderr.read_text(encoding="utf-8")


def assert_cannot_start(status: int, stdout: str, stderr: str, *, reason: str) -> None:
    """Exit 2, exactly one ``cannot start:`` line (naming ``reason``), no traceback, never ready."""
    lines = [line for line in stderr.splitlines() if "cannot start:" in line]
    assert status == 2, stderr[-3000:]
    assert len(lines) == 1, stderr[-3000:]
    assert reason.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "ready " not in stdout


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'evgrid.db'}"
    seed_store(url, EXAMPLES)
    return url


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def declared(amqp_url: str, queue: str) -> bool:
    """Whether ``queue`` exists on the broker (a passive declare)."""
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        try:
            connection.channel().queue_declare(queue, passive=True)
        except ChannelClosedByBroker as error:
            if error.reply_code == 404:
                return False
            raise
        return True


# ----------------------------------------------------------------- the SOAP port
@pytest.mark.amqp
def test_a_taken_soap_port_stops_the_start_before_the_esb_consumes(
        tmp_path: Path, sqlite_url: str, taken_port: int, amqp_url: str) -> None:
    prefix = f"evgrid-test-{uuid.uuid4().hex[:12]}"
    config = write_config(tmp_path, sqlite_url, f'[soap]\nhost = "127.0.0.1"\nport = {taken_port}\ntls = false\n'
                                                f'[amqp]\nprefix = "{prefix}"\n{TEXT_LOG}')
    status, stdout, stderr = serve_once(config, tmp_path / "serve.stderr", environment(EVGRID_AMQP_URL=amqp_url))
    assert_cannot_start(status, stdout, stderr, reason=str(taken_port))
    # Nothing consumed: the binding never got as far as declaring its queues, let alone consuming.
    assert "consuming" not in stderr
    assert not declared(amqp_url, f"{prefix}.request.ChargingRequest")


def test_a_taken_soap_port_stops_the_start_before_the_dispatcher_starts(
        tmp_path: Path, sqlite_url: str, taken_port: int) -> None:
    config = write_config(tmp_path, sqlite_url, f'[soap]\nhost = "127.0.0.1"\nport = {taken_port}\ntls = false\n'
                                                f'{TEXT_LOG}')
    status, stdout, stderr = serve_once(config, tmp_path / "serve.stderr", environment())
    assert_cannot_start(status, stdout, stderr, reason=str(taken_port))
    assert "Scheduler started" not in stderr  # APScheduler's line when the dispatcher starts


def test_a_taken_soap_port_behind_tls_stops_the_start(tmp_path: Path, sqlite_url: str, taken_port: int) -> None:
    config = write_config(tmp_path, sqlite_url, f'[soap]\nhost = "127.0.0.1"\nport = {taken_port}\n'
                                                f'tls_dir = "pki"\n{TEXT_LOG}')
    status, stdout, stderr = serve_once(config, tmp_path / "serve.stderr", environment())
    assert_cannot_start(status, stdout, stderr, reason=str(taken_port))


def test_a_taken_soap_port_behind_tls_stops_the_start_before_the_dispatcher_starts(
        tmp_path: Path, sqlite_url: str, taken_port: int) -> None:
    config = write_config(tmp_path, sqlite_url, f'[soap]\nhost = "127.0.0.1"\nport = {taken_port}\n'
                                                f'tls_dir = "pki"\n{TEXT_LOG}')
    status, _stdout, stderr = serve_once(config, tmp_path / "serve.stderr", environment())
    assert status == 2 and "Scheduler started" not in stderr


def test_a_taken_soap_port_is_one_json_line_in_the_json_log(tmp_path: Path, sqlite_url: str,
                                                            taken_port: int) -> None:
    config = write_config(tmp_path, sqlite_url, f'[soap]\nhost = "127.0.0.1"\nport = {taken_port}\ntls = false\n'
                                                '[log]\nlevel = "INFO"\nformat = "json"\n')
    status, stdout, stderr = serve_once(config, tmp_path / "serve.stderr", environment())
    assert_cannot_start(status, stdout, stderr, reason=str(taken_port))
    records = [json.loads(line) for line in stderr.splitlines()]  # every line one JSON object
    (error,) = [record for record in records if "cannot start:" in record["message"]]
    assert error["level"] == "ERROR" and not any(key.startswith("exc") for key in error)


# --------------------------------------------------------- TLS, database, broker
def test_a_missing_certificate_is_a_configuration_problem(tmp_path: Path, sqlite_url: str) -> None:
    # Found by the settings' check, before the worker is composed: listed with the other problems.
    config = write_config(tmp_path, sqlite_url, f'[soap]\nport = 0\ncert = "{tmp_path / "absent.pem"}"\n'
                                                f'key = "{tmp_path / "absent.key"}"\n{TEXT_LOG}')
    status, stdout, stderr = serve_once(config, tmp_path / "serve.stderr", environment())
    assert status == 2 and "Traceback" not in stderr and "ready " not in stdout
    assert "soap.cert: no such file" in stderr and "absent.pem" in stderr


def test_an_unreadable_certificate_stops_the_start(tmp_path: Path, sqlite_url: str) -> None:
    from evgrid.adapters.soap.tls import create_demo_pki

    pki = create_demo_pki(tmp_path / "pki")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n", encoding="utf-8")
    config = write_config(tmp_path, sqlite_url, f'[soap]\nport = 0\ncert = "{garbage}"\n'
                                                f'key = "{pki.server.key_file}"\n{TEXT_LOG}')
    status, stdout, stderr = serve_once(config, tmp_path / "serve.stderr", environment())
    assert_cannot_start(status, stdout, stderr, reason="garbage.pem")
    assert "Scheduler started" not in stderr


def test_an_unreadable_key_stops_the_start(tmp_path: Path, sqlite_url: str) -> None:
    from evgrid.adapters.soap.tls import create_demo_pki

    pki = create_demo_pki(tmp_path / "pki")
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n", encoding="utf-8")
    config = write_config(tmp_path, sqlite_url, f'[soap]\nport = 0\ncert = "{pki.server.cert_file}"\n'
                                                f'key = "{garbage}"\n{TEXT_LOG}')
    status, stdout, stderr = serve_once(config, tmp_path / "serve.stderr", environment())
    assert_cannot_start(status, stdout, stderr, reason="garbage.key")


def test_an_unreachable_database_stops_the_start(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/evgrid"  # nothing listens there
    config = write_config(tmp_path, url, f'[soap]\nport = 0\ntls = false\n{TEXT_LOG}')
    status, stdout, stderr = serve_once(config, tmp_path / "serve.stderr", environment())
    assert_cannot_start(status, stdout, stderr, reason="database")


@pytest.mark.slow
def test_an_unreachable_broker_stops_the_start(tmp_path: Path, sqlite_url: str) -> None:
    broker = f"amqp://evgrid:amqp-s3cret@127.0.0.1:{free_port()}/%2F"  # nothing listens there
    config = write_config(tmp_path, sqlite_url, f'[soap]\nport = 0\ntls = false\n{TEXT_LOG}')
    status, stdout, stderr = serve_once(config, tmp_path / "serve.stderr", environment(EVGRID_AMQP_URL=broker))
    assert_cannot_start(status, stdout, stderr, reason="ESB")
    assert "amqp-s3cret" not in stderr
