"""Running the SOAP app: waitress, in a thread (tests, demo) or in the foreground (``serve``).

Why waitress and not gunicorn: evgrid runs as one process per ``serve`` worker that holds
in-memory state next to its requests (the night planner, the APScheduler dispatcher,
the reference services' stores). waitress serves it with threads inside that process,
runs in a thread for the tests and the demo, and on any OS; gunicorn is a pre-fork
master that can run neither in a thread nor on Windows, would fork that state into
workers (or need it rebuilt in ``post_fork`` hooks), and its TLS is what we would add it
for. waitress also buffers whole requests before a worker thread sees them (slow clients
cost no thread) and refuses bodies over ``max_request_body_size`` at the headers.

Oversize bodies (over the app's ``max_bytes``): waitress keeps the first ``max_bytes + 1``
bytes of a body, enough for the app to know it is too large, and reads and discards the
rest, up to ``BODY_DRAIN_FACTOR x max_bytes`` on the wire; the app then answers its SOAP
413 (3.1) once the body is in, on a connection still in step (no reset while the client
is still sending). A body declared larger than that is refused at the headers, a chunked
one when it gets there, with the same SOAP 413 (:meth:`SoapApp.too_large
<evgrid.adapters.soap.server.SoapApp.too_large>`) written by waitress, and the
connection is closed. So a request buffers at most ``max_bytes + 1`` bytes (up to
``inbuf_overflow``, 512 KiB, in memory, the rest in a temporary file) whatever it sends.

Client addresses: ``REMOTE_ADDR`` is the peer's; with ``trusted_proxy`` waitress replaces
it with the proxy's ``X-Forwarded-For``; behind the TLS front (whose connections all come
from loopback) it is the TLS client's address, looked up by the front's connection port.

Idle and slow connections: waitress accepts up to ``connection_limit`` connections and
then stops accepting, so every open connection holds a slot, idle or not. The limits
here (``CONNECTION_LIMIT``, ``IDLE_TIMEOUT_S``, ``HEADER_TIMEOUT_S``, checked every
``CLEANUP_INTERVAL_S``) keep a few hundred idle or header-trickling clients from
starving the others: an idle keep-alive connection is closed after ``IDLE_TIMEOUT_S``,
one whose request headers are not in ``HEADER_TIMEOUT_S`` after their first byte
(however slowly they trickle) likewise. Behind the TLS front, idle and trickling TLS
clients hold no waitress slot at all (see :mod:`evgrid.adapters.soap.front`).

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

from waitress.buffers import OverflowableBuffer
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask
from waitress.utilities import RequestEntityTooLarge

from evgrid.adapters.soap.front import TlsFront
from evgrid.adapters.soap.tls import TlsFiles
from evgrid.cim.codec import DEFAULT_MAX_BYTES

log = logging.getLogger(__name__)

DEFAULT_THREADS = 8
# waitress reads (and discards past the app's limit) bodies up to this many times the
# limit, then the app answers its SOAP 413; larger ones are refused by waitress, with the
# same SOAP 413, at the headers (Content-Length) or when they get there (chunked).
BODY_DRAIN_FACTOR = 16
_STOP_TIMEOUT_S = 10.0
# Open connections waitress serves at once (its default, 100, is starved by 100 idle
# clients); above the TLS front's MAX_CONNECTIONS, so the front never fills it. Each
# costs a file descriptor (three behind the front): size ``ulimit -n`` to match.
CONNECTION_LIMIT = 1100
# A connection with no request in progress is closed after this long idle (waitress: 120 s).
IDLE_TIMEOUT_S = 30
# A request's headers must be complete this long after their first byte.
HEADER_TIMEOUT_S = 10
# How often waitress looks for idle and slow connections (its default: 30 s).
CLEANUP_INTERVAL_S = 5

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
            "max_request_body_size": BODY_DRAIN_FACTOR * limit, "clear_untrusted_proxy_headers": True,
            "connection_limit": CONNECTION_LIMIT, "channel_timeout": IDLE_TIMEOUT_S,
            "cleanup_interval": CLEANUP_INTERVAL_S,
        }
        # Keep enough of a body for the app's own check too, should ``max_bytes`` be below it.
        keep = max(limit, int(getattr(app, "max_bytes", 0) or 0))
        channel = _channel_class(keep, getattr(app, "too_large", None))
        if tls is not None:
            app = self._with_client_address(app)
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
        for dispatcher in [self._waitress, *self._waitress._map.values()]:
            if isinstance(dispatcher, BaseWSGIServer):  # one per listening socket
                dispatcher.channel_class = channel
        self._thread: threading.Thread | None = None

    def _with_client_address(self, app: WsgiApp) -> WsgiApp:
        """``app`` seeing the TLS client's address as ``REMOTE_ADDR``, not the front's loopback one."""

        def behind_front(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            front = self._front
            client = front.client_address(environ.get("REMOTE_PORT")) if front is not None else None
            if client is not None:
                environ["REMOTE_ADDR"] = client
            return app(environ, start_response)

        return behind_front

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

    def listen(self) -> str:
        """Bind the outside port now, the TLS front's too, before serving; returns :attr:`url`.

        The front then already accepts, and forwards to waitress's socket, where
        connections wait in the backlog until :meth:`run` or :meth:`start`: a process can
        learn that its port is taken before it starts anything else.
        """
        if self._front is not None:
            self._front.start()
        return self.url

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


class _KeepFirst:
    """A request body buffer that keeps the first ``keep`` bytes and only counts the rest."""

    def __init__(self, buffer: OverflowableBuffer, keep: int) -> None:
        self._buffer, self._keep, self._seen = buffer, keep, 0

    def append(self, data: bytes) -> None:
        room = self._keep - self._seen
        if room > 0:
            self._buffer.append(data[:room])
        self._seen += len(data)

    def __len__(self) -> int:  # what waitress gives a chunked body as its Content-Length
        return self._seen

    def __bool__(self) -> bool:
        return True

    def getfile(self) -> Any:
        return self._buffer.getfile()

    def close(self) -> None:
        self._buffer.close()


class _Parser(HTTPRequestParser):  # type: ignore[misc]
    keep = DEFAULT_MAX_BYTES + 1  # set per server by _channel_class

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        receiver = self.body_rcv
        if receiver is not None:
            receiver.buf = _KeepFirst(receiver.buf, self.keep)


class _ErrorTask(ErrorTask):  # type: ignore[misc]
    too_large: Callable[[int | None], bytes] | None = None  # set per server by _channel_class

    def execute(self) -> None:
        if not isinstance(self.request.error, RequestEntityTooLarge) or self.too_large is None:
            super().execute()
            return
        body = self.too_large(self.request.content_length or None)
        self.status = "413 Content Too Large"
        self.response_headers.append(("Content-Type", "text/xml; charset=utf-8"))
        self.set_close_on_finish()  # the rest of the body is not read: the connection ends
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):  # type: ignore[misc]
    """A waitress channel that closes a connection whose request headers take too long.

    waitress closes only connections idle for ``channel_timeout``; a client sending its
    headers a byte at a time is never idle. While a request's headers are incomplete,
    this dates the channel's last activity back so that waitress's idle check closes it
    ``HEADER_TIMEOUT_S`` after the headers' first byte.
    """

    _timed: object = None
    _headers_since = 0.0

    def handle_read(self) -> None:
        super().handle_read()
        request = self.request
        if request is None or request.headers_finished:
            return
        if request is not self._timed:
            self._timed, self._headers_since = request, self.last_activity
        self.last_activity = min(self.last_activity,
                                 self._headers_since - (self.adj.channel_timeout - HEADER_TIMEOUT_S))


def _channel_class(limit: int, too_large: Callable[[int | None], bytes] | None) -> type[HTTPChannel]:
    """The waitress channel class keeping ``limit + 1`` bytes of a body and answering 413 with ``too_large``."""
    parser = type("_LimitedParser", (_Parser,), {"keep": limit + 1})
    task = type("_SoapErrorTask", (_ErrorTask,), {"too_large": staticmethod(too_large) if too_large else None})
    return type("_SoapChannel", (_Channel,), {"parser_class": parser, "error_task_class": task})


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
        max_bytes: the body limit; default the app's (waitress reads at most
            ``BODY_DRAIN_FACTOR`` times that of a body, keeping ``max_bytes + 1``).
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
