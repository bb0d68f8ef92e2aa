"""Running the SOAP app: waitress, in a thread (tests, demo) or in the foreground (``serve``).

Why waitress and not gunicorn: evgrid runs as one process per ``serve`` worker that holds
in-memory state next to its requests (the night planner, the APScheduler dispatcher,
the reference services' stores). waitress serves it with threads inside that process,
runs in a thread for the tests and the demo, and on any OS; gunicorn is a pre-fork
master that can run neither in a thread nor on Windows, would fork that state into
workers (or need it rebuilt in ``post_fork`` hooks), and its TLS is what we would add it
for. waitress also buffers whole requests before a worker thread sees them (slow clients
cost no thread) and refuses bodies over ``max_request_body_size`` at the headers.

waitress has no TLS of its own. With :class:`~evgrid.adapters.soap.tls.TlsFiles`, a
small TLS front (:mod:`evgrid.adapters.soap.front`, asyncio and the stdlib ``ssl``)
terminates TLS on ``host:port`` and forwards to waitress on a loopback port, which then
reports ``wsgi.url_scheme`` https; one HTTP stack either way. In production behind a
TLS-terminating proxy (nginx, HAProxy) run without ``tls`` and set ``trusted_proxy``
so the WSDL shows the proxy's scheme and host (``X-Forwarded-Proto`` / ``-Host``).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from waitress.server import create_server

from evgrid.adapters.soap.front import TlsFront
from evgrid.adapters.soap.tls import TlsFiles
from evgrid.cim.codec import DEFAULT_MAX_BYTES

log = logging.getLogger(__name__)

DEFAULT_THREADS = 8
# Bodies between the app's limit and this get the app's SOAP 413; waitress refuses larger
# ones at the headers, before reading (it would otherwise spool up to 1 GiB to disk).
BODY_LIMIT_FACTOR = 2
_STOP_TIMEOUT_S = 10.0

WsgiApp = Callable[..., Any]


class SoapServer:
    """waitress on ``host:port`` (plain) or behind the TLS front; start, then stop."""

    def __init__(self, app: WsgiApp, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None, *,
                 threads: int = DEFAULT_THREADS, max_bytes: int | None = None,
                 trusted_proxy: str | None = None) -> None:
        # The app's own limit (make_app's max_bytes) unless told otherwise.
        limit = max_bytes or int(getattr(app, "max_bytes", DEFAULT_MAX_BYTES))
        options: dict[str, Any] = {
            "threads": threads, "ident": "evgrid", "asyncore_use_poll": True,
            "max_request_body_size": BODY_LIMIT_FACTOR * limit, "clear_untrusted_proxy_headers": True,
        }
        if trusted_proxy is not None:
            options.update(trusted_proxy=trusted_proxy,
                           trusted_proxy_headers={"x-forwarded-proto", "x-forwarded-host", "x-forwarded-for"})
        self.host = host
        self._front: TlsFront | None = None
        if tls is None:
            self._waitress = create_server(app, host=host, port=port, **options)
        else:
            # Only the front listens outside; waitress takes loopback connections from it.
            self._waitress = create_server(app, host="127.0.0.1", port=0, url_scheme="https", **options)
            self._front = TlsFront(tls.server_context(), host, port, ("127.0.0.1", self._waitress_port()))
        self._thread: threading.Thread | None = None

    def _waitress_port(self) -> int:
        port = getattr(self._waitress, "effective_port", None)
        if port is None:  # several listen sockets (a host name): the first one's
            port = self._waitress.effective_listen[0][1]
        return int(port)

    @property
    def url(self) -> str:
        """The base URL clients use: ``http(s)://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self._front is None:
            return f"http://{host}:{self._waitress_port()}"
        return f"https://{host}:{self._front.port}"

    def start(self) -> str:
        """Serve in background threads; returns :attr:`url`."""
        if self._front is not None:
            self._front.start()
        self._thread = threading.Thread(target=self._waitress.run, name="soap-server", daemon=True)
        self._thread.start()
        return self.url

    def run(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in this thread until KeyboardInterrupt or SystemExit; ``on_ready`` gets the URL."""
        if self._front is not None:
            self._front.start()
        try:
            if on_ready is not None:
                on_ready(self.url)
            self._waitress.run()  # returns after shutting down its threads on ^C / SystemExit
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop accepting, finish the requests in progress, close every connection."""
        if self._front is not None:
            self._front.stop()
        # Worker threads finish their current request, then exit; queued ones are cancelled.
        self._waitress.task_dispatcher.shutdown(cancel_pending=True, timeout=_STOP_TIMEOUT_S)
        socket_map = self._waitress._map

        def close_all() -> None:
            for dispatcher in list(socket_map.values()):
                try:
                    dispatcher.close()
                except OSError as error:  # one that is already gone must not keep the rest open
                    log.warning("closing %r at stop: %s", dispatcher, error)

        if self._thread is not None and self._thread.is_alive():
            try:
                # In the loop's thread: asyncore's map is not thread-safe.
                self._waitress.trigger.pull_trigger(close_all)
            except OSError as error:
                # The wake-up pipe is gone (seen once in CI: EBADF, its descriptor closed
                # by something else in the process). Close from here instead: the loop
                # skips what left its map and ends once the map is empty, within its
                # poll timeout.
                log.warning("the SOAP server's wake-up pipe failed at stop (%s); closing from this thread", error)
                close_all()
            self._thread.join(_STOP_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("the SOAP server thread did not stop within %s s", _STOP_TIMEOUT_S)
        else:
            close_all()
        self._thread = None


@contextmanager
def serve_in_thread(app: WsgiApp, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None, *,
                    threads: int = DEFAULT_THREADS, max_bytes: int | None = None) -> Iterator[str]:
    """Serve ``app`` in background threads; yields the base URL (``http(s)://host:PORT``).

    ``port=0`` picks a free port. On exit the server stops: requests in progress finish,
    connections close, the threads are joined.
    """
    server = SoapServer(app, host, port, tls, threads=threads, max_bytes=max_bytes)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def serve_forever(app: WsgiApp, host: str, port: int, tls: TlsFiles | None = None, *,
                  threads: int = DEFAULT_THREADS, max_bytes: int | None = None,
                  trusted_proxy: str | None = None, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``app`` in the foreground (``evgrid serve``, ``evgrid sim``) until ^C or SIGTERM.

    Args:
        app: the WSGI app (:func:`~evgrid.adapters.soap.server.make_app`).
        host: the address to listen on.
        port: the port; 0 picks a free one (``on_ready`` gets the URL).
        tls: serve HTTPS with these files; None: plain HTTP (behind a TLS proxy, or tests).
        threads: waitress worker threads.
        max_bytes: the body limit; default the app's (waitress refuses twice that at the headers).
        trusted_proxy: the address of a TLS-terminating proxy whose X-Forwarded-* to trust.
        on_ready: called with the base URL once the server listens.
    """
    server = SoapServer(app, host, port, tls, threads=threads, max_bytes=max_bytes, trusted_proxy=trusted_proxy)
    restore = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM stops like ^C: requests in progress finish, then the process exits.
        restore = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run(on_ready)
    finally:
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
