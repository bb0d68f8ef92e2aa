"""Idle and slow-header connections must not starve the service.

Several hundred clients that connect (and, over TLS, finish the handshake) and then send
nothing, plus a hundred sending their headers a byte at a time, are held open while a
fresh client makes a normal request: it must still answer within a second. Over the TLS
front, over plain waitress, and on the plain ``/health`` server. Then the timeouts
themselves, with the constants shortened: a trickling and an idle connection are closed.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from urllib.parse import urlsplit

import httpx
import pytest

from evgrid.adapters.soap import front, runner
from evgrid.adapters.soap.runner import SoapServer, serve_in_thread
from evgrid.adapters.soap.tls import DemoPki, client_context, create_demo_pki
from evgrid.apps.evos.health import HealthApp

IDLE = 300  # connections that send nothing
TRICKLING = 100  # connections sending their request headers one byte per second
ANSWER_WITHIN_S = 1.0  # the requirement: a normal request still answers this fast
_CLIENT_TIMEOUT_S = 5.0  # bounds the fresh request on a starved server (the test fails, not hangs)
_TRICKLE = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 64


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    return create_demo_pki(tmp_path_factory.mktemp("pki"))


def health_app() -> HealthApp:
    return HealthApp({}, worker="w-1", version="9.9")


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


@contextmanager
def held_open(url: str, context: ssl.SSLContext | None, *, idle: int = IDLE,
              trickling: int = TRICKLING) -> Iterator[list[socket.socket]]:
    """``idle`` silent connections and ``trickling`` slow-header ones to ``url``, open while inside."""
    address = _address(url)
    sockets: list[socket.socket] = []
    stop = threading.Event()

    def connect() -> socket.socket:
        sock = socket.create_connection(address, timeout=_CLIENT_TIMEOUT_S)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=address[0])  # the handshake completes here
        sockets.append(sock)
        return sock

    def trickle(slow: list[socket.socket]) -> None:
        for byte in range(len(_TRICKLE)):
            for sock in slow:
                with suppress(OSError):  # closed by the server: the point of its header timeout
                    sock.send(_TRICKLE[byte:byte + 1])
            if stop.wait(1.0):
                return

    try:
        for _ in range(idle):
            connect()
        slow = [connect() for _ in range(trickling)]
        sender = threading.Thread(target=trickle, args=(slow,), daemon=True)
        sender.start()
        time.sleep(1.5)  # a byte or two of every trickler's headers is in
        yield sockets
    finally:
        stop.set()
        for sock in sockets:
            sock.close()


def timed_request(url: str, verify: ssl.SSLContext | bool = True) -> float:
    """Seconds a fresh client takes for ``GET /health`` (connection included)."""
    started = time.monotonic()
    with httpx.Client(verify=verify, timeout=_CLIENT_TIMEOUT_S) as client:
        try:
            response = client.get(f"{url}/health")
        except httpx.TimeoutException:
            return time.monotonic() - started
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    return elapsed


def test_idle_and_slow_tls_clients_do_not_starve_a_normal_request(pki: DemoPki) -> None:
    server = SoapServer(health_app(), tls=pki.server)
    url = server.start()
    context = client_context(pki.ca_file)
    try:
        with held_open(url, context):
            elapsed = timed_request(url, context)
        assert elapsed < ANSWER_WITHIN_S, f"a normal HTTPS request took {elapsed:.2f} s"
    finally:
        server.stop()


def test_idle_and_slow_plain_clients_do_not_starve_a_normal_request() -> None:
    server = SoapServer(health_app())
    url = server.start()
    try:
        with held_open(url, None):
            elapsed = timed_request(url)
        assert elapsed < ANSWER_WITHIN_S, f"a normal HTTP request took {elapsed:.2f} s"
    finally:
        server.stop()


def test_idle_clients_do_not_starve_the_health_server() -> None:
    with serve_in_thread(health_app()) as url, held_open(url, None, trickling=0):
        elapsed = timed_request(url)
    assert elapsed < ANSWER_WITHIN_S, f"GET /health took {elapsed:.2f} s"


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` (reading, not sending)."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:  # reset, or a TLS error: closed as well
        return True


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
def test_idle_and_trickling_connections_are_closed(pki: DemoPki, monkeypatch: pytest.MonkeyPatch,
                                                   tls: bool) -> None:
    # Shortened so the test is quick; the defaults are documented in front.py and runner.py.
    monkeypatch.setattr(front, "IDLE_TIMEOUT_S", 1.0)
    monkeypatch.setattr(front, "HEADER_TIMEOUT_S", 1.0)
    monkeypatch.setattr(runner, "IDLE_TIMEOUT_S", 2)
    monkeypatch.setattr(runner, "HEADER_TIMEOUT_S", 1)
    monkeypatch.setattr(runner, "CLEANUP_INTERVAL_S", 1)
    context = client_context(pki.ca_file) if tls else None
    with ExitStack() as stack:
        server = SoapServer(health_app(), tls=pki.server if tls else None)
        url = server.start()
        stack.callback(server.stop)
        sockets = stack.enter_context(held_open(url, context, idle=1, trickling=1))
        idle, slow = sockets
        # Idle: closed after the idle timeout (+ waitress's cleanup interval); trickling likewise,
        # although it sends a byte a second.
        assert _closed_within(slow, 6.0)
        assert _closed_within(idle, 6.0)
        assert timed_request(url, context or True) < ANSWER_WITHIN_S


def test_a_keep_alive_client_is_served_across_requests(pki: DemoPki) -> None:
    server = SoapServer(health_app(), tls=pki.server)
    url = server.start()
    try:
        with httpx.Client(verify=client_context(pki.ca_file), timeout=_CLIENT_TIMEOUT_S) as client:
            for _ in range(3):
                assert client.get(f"{url}/health").status_code == 200
    finally:
        server.stop()
