"""The SOAP client's transport: keep-alive per thread, a connection the server closed replaced, errors as raised."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from evgrid.adapters.soap.transport import Transport, basic_auth


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.client_address[1], self.path, self.headers.get("Authorization"),  # type: ignore[attr-defined]
                                 self.headers.get("SOAPAction"), body))
        reply = b"<ok/>"
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(reply)))
        if self.server.close_after:  # type: ignore[attr-defined]
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    httpd.daemon_threads = True
    httpd.seen = []  # type: ignore[attr-defined]
    httpd.close_after = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url(httpd: ThreadingHTTPServer, path: str = "/MeterDataManagement") -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}{path}"


def test_posts_with_its_headers_on_one_kept_alive_connection(server: ThreadingHTTPServer) -> None:
    transport = Transport(url(server), timeout_s=5.0, headers={"Authorization": basic_auth("evos", "pé:w")})
    try:
        for n in range(3):
            response = transport.post(b"<m%d/>" % n, {"SOAPAction": '"a"'})
            assert (response.status_code, response.content) == (200, b"<ok/>")
            assert response.headers.get("Content-Type") == "text/xml"
    finally:
        transport.close()
    ports = {port for port, *_ in server.seen}  # type: ignore[attr-defined]
    assert len(ports) == 1
    _port, path, auth, action, body = server.seen[-1]  # type: ignore[attr-defined]
    assert (path, action, body) == ("/MeterDataManagement", '"a"', b"<m2/>")
    assert auth == "Basic " + base64.b64encode("evos:pé:w".encode()).decode()


def test_a_connection_the_server_closed_is_replaced(server: ThreadingHTTPServer) -> None:
    server.close_after = True  # type: ignore[attr-defined]
    transport = Transport(url(server), timeout_s=5.0)
    try:
        assert [transport.post(b"<m/>", {}).status_code for _ in range(3)] == [200, 200, 200]
    finally:
        transport.close()
    assert len({port for port, *_ in server.seen}) == 3  # type: ignore[attr-defined]


def test_each_thread_has_its_own_connection_and_an_ended_threads_is_closed(server: ThreadingHTTPServer) -> None:
    transport = Transport(url(server), timeout_s=5.0)
    try:
        transport.post(b"<main/>", {})
        worker = threading.Thread(target=lambda: transport.post(b"<worker/>", {}))
        worker.start()
        worker.join()
        assert len(transport._open) == 2
        other = threading.Thread(target=lambda: transport.post(b"<other/>", {}))
        other.start()
        other.join()
        assert len(transport._open) == 2  # the first worker's was closed when the second opened one
    finally:
        transport.close()
    assert len({port for port, *_ in server.seen}) == 3  # type: ignore[attr-defined]
    assert not transport._open


def test_a_refused_connection_and_a_silent_server_raise_as_the_socket_does() -> None:
    with socket.socket() as listener:  # accepts (the backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        silent = Transport(f"http://127.0.0.1:{listener.getsockname()[1]}/X", timeout_s=0.2)
        with pytest.raises(TimeoutError):
            silent.post(b"<m/>", {})
        silent.close()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    refused = Transport(f"http://127.0.0.1:{port}/X", timeout_s=1.0)
    with pytest.raises(ConnectionRefusedError):
        refused.post(b"<m/>", {})
    refused.close()


def test_only_http_urls() -> None:
    with pytest.raises(ValueError):
        Transport("ftp://127.0.0.1/x", timeout_s=1.0)
