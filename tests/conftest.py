"""Shared fixtures: loopback-only sockets, free ports, reference schemas, services."""

from __future__ import annotations

import importlib
import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference"

_real_connect = socket.socket.connect


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and the like never leave the machine
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise RuntimeError(f"tests may only connect to loopback, not {address!r}")
    _real_connect(self, address)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse any connection that would leave the machine."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    yield


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port() -> int:
    """A free loopback port, picked at run time."""
    return free_port()


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The public standard schemas (the test oracle): ``$EVGRID_REFERENCE_DIR`` or
    ../shared/reference beside the checkout. They are not part of the project; without
    them the oracle tests skip, except in CI (EVGRID_REQUIRE_SERVICES=1), where they fail."""
    reference = Path(os.environ.get("EVGRID_REFERENCE_DIR") or REFERENCE)
    if not reference.is_dir():
        message = f"reference schemas not found at {reference} (set EVGRID_REFERENCE_DIR)"
        if os.environ.get("EVGRID_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return reference


def _service_url(variable: str, what: str) -> str:
    url = os.environ.get(variable)
    if url:
        return url
    if os.environ.get("EVGRID_REQUIRE_SERVICES") == "1":
        pytest.fail(f"EVGRID_REQUIRE_SERVICES=1 but {variable} is not set")
    pytest.skip(f"{what} not configured: set {variable} to run this test")


@pytest.fixture(scope="session")
def database_url() -> str:
    """The PostgreSQL URL from EVGRID_DATABASE_URL; skips (or fails in CI) without it."""
    return _service_url("EVGRID_DATABASE_URL", "PostgreSQL")


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The RabbitMQ URL from EVGRID_AMQP_URL; skips (or fails in CI) without it."""
    return _service_url("EVGRID_AMQP_URL", "RabbitMQ")


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` for testing its helpers, as the script itself runs."""
    sys.path.insert(0, str(BENCHMARKS))  # the scripts import their neighbours as the benchmarks do
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))
