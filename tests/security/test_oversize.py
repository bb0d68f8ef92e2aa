"""Oversize requests over the real waitress server on loopback: whatever their size, with
Content-Length or chunked, they get HTTP 413 and the SOAP reply (FAILED, 3.1), and the
server answers normally afterwards."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator

import httpx
import pytest
from lxml import etree

from evgrid.adapters.soap import wire
from evgrid.adapters.soap.evos import evos_endpoint
from evgrid.adapters.soap.runner import BODY_DRAIN_FACTOR
from evgrid.adapters.soap.server import SoapApp, make_app, serve_in_thread
from evgrid.apps.evos.system import OperationSystem
from evgrid.cim import namespaces as ns
from tests.integration.test_soap_server import (
    answer,
    evos,  # noqa: F401  (fixture)
    home_request,
    nothing_stored,
    post,
)
from tests.integration.test_soap_server import credentials as credentials  # noqa: F401  (fixture)
from tests.unit.adapters.store.conftest import examples, store_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

LIMIT = 1024 * 1024  # a small limit keeps 3x cheap; the sizes are relative to it
MSG = f"{{{ns.MESSAGE}}}"


@pytest.fixture
def app(evos: OperationSystem, credentials) -> SoapApp:  # type: ignore[no-untyped-def]  # noqa: F811
    return make_app([evos_endpoint(evos)], credentials, max_bytes=LIMIT)


@pytest.fixture
def base(app: SoapApp) -> Iterator[str]:
    with serve_in_thread(app) as url:
        yield url


def body_of(size: int) -> bytes:
    request = home_request()
    return request + b" " * (size - len(request))


def chunks_of(size: int) -> Iterator[bytes]:
    body = body_of(size)
    for start in range(0, size, 256 * 1024):
        yield body[start:start + 256 * 1024]


def assert_soap_413(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/xml")
    replied = answer(response)
    assert replied[:3] == (413, "FAILED", "3.1")
    assert "exceeds the limit" in (replied.root.findtext(f"{MSG}Reply/{MSG}Error/{MSG}reason") or "")


SIZES = {"limit+1": LIMIT + 1, "2x+1": 2 * LIMIT + 1, "3x": 3 * LIMIT}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_oversize_with_content_length_gets_the_soap_413(base: str, evos: OperationSystem, size: int) -> None:  # noqa: F811
    assert_soap_413(post(base, body_of(size)))
    assert nothing_stored(evos)
    assert answer(post(base, home_request())).result == "OK"


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_oversize_chunked_gets_the_soap_413(base: str, evos: OperationSystem, size: int) -> None:  # noqa: F811
    assert_soap_413(post(base, chunks_of(size)))  # type: ignore[arg-type]
    assert nothing_stored(evos)
    assert answer(post(base, home_request())).result == "OK"


def test_the_limit_itself_is_accepted(base: str) -> None:
    assert answer(post(base, body_of(LIMIT))).result == "OK"


def raw_post(base: str, headers: bytes, body: Iterable[bytes] = ()) -> bytes:
    """Send what the server reads of ``body`` (it may stop reading and close), then its answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /EVOperationSystem HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n" + headers + b"\r\n")
        try:
            for part in body:
                sock.sendall(part)
        except OSError:  # the server answered and closed before the end
            pass
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def assert_raw_soap_413(received: bytes) -> None:
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"text/xml" in head.lower()
    root = etree.fromstring(body)
    assert root.tag == wire.ENVELOPE
    assert root.findtext(f".//{MSG}Reply/{MSG}Error/{MSG}code") == "3.1"


def test_a_huge_declared_length_is_refused_at_the_headers_with_the_soap_reply(base: str) -> None:
    assert_raw_soap_413(raw_post(base, b"Content-Length: 1073741824\r\n"))
    assert answer(post(base, home_request())).result == "OK"


def test_a_chunked_body_beyond_what_waitress_reads_gets_the_soap_reply(base: str) -> None:
    piece = b" " * 65536
    chunks = (b"10000\r\n" + piece + b"\r\n" for _ in range((BODY_DRAIN_FACTOR + 2) * LIMIT // len(piece)))
    assert_raw_soap_413(raw_post(base, b"Transfer-Encoding: chunked\r\n", chunks))
    assert answer(post(base, home_request())).result == "OK"
