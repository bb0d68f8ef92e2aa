"""A TLS front for waitress: TLS on the outside, plain HTTP to a loopback port inside.

waitress has no TLS. Rather than a second HTTP server for HTTPS, this terminates TLS and
copies bytes both ways, so HTTP parsing, limits and timeouts stay waitress's. It runs
one asyncio event loop in its own thread: asyncio's SSL transport does the record layer
with memory BIOs, so each TLS connection is read and written from one thread only (an
``SSLSocket`` shared by two pump threads is not safe), a slow handshake costs no thread
(``ssl_handshake_timeout``), and back-pressure comes from ``drain()``.

Idle and slow clients: a TLS client gets a connection to waitress only once it has sent
the whole header block of its first request. Before that it holds no waitress slot: it
must finish the handshake within ``HANDSHAKE_TIMEOUT_S``, send a first byte within
``IDLE_TIMEOUT_S`` and the headers within ``HEADER_TIMEOUT_S`` of that first byte (in
total, however slowly it trickles), or is dropped. Past ``MAX_CONNECTIONS`` open TLS
connections a new one is closed at once; that cap stays below waitress's
``connection_limit`` (:data:`evgrid.adapters.soap.runner.CONNECTION_LIMIT`), so the front
can never make waitress stop accepting. Later requests on a keep-alive connection are
copied as they come, and waitress's own idle and header timeouts bound them.

Every connection to waitress comes from loopback; :meth:`TlsFront.client_address` tells
which TLS client is behind one (by its local port), for the login throttle and the logs.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 10.0
# From the handshake to the first byte of the first request.
IDLE_TIMEOUT_S = 15.0
# From the first byte of the first request to the end of its headers, in total.
HEADER_TIMEOUT_S = 10.0
# Header bytes buffered before the backend is opened (waitress's max_request_header_size).
MAX_HEADER_BYTES = 256 * 1024
# Open TLS connections (and so connections to waitress) at most; new ones past it are closed.
MAX_CONNECTIONS = 1000
SHUTDOWN_TIMEOUT_S = 5.0
_START_TIMEOUT_S = 10.0
_BUFFER = 64 * 1024


class TlsFront:
    """Accepts TLS on ``host:port`` and forwards each connection to ``backend``."""

    def __init__(self, context: ssl.SSLContext, host: str, port: int, backend: tuple[str, int]) -> None:
        self._context = context
        self._host, self._port = host, port
        self._backend = backend
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="soap-tls-front", daemon=True)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        # The local port of each connection to the backend -> the TLS client's address.
        self._clients: dict[int, str] = {}
        self.port = port

    def client_address(self, backend_port: object) -> str | None:
        """The address of the TLS client whose connection to the backend has this local port."""
        try:
            return self._clients.get(int(str(backend_port)))
        except ValueError:
            return None

    def start(self) -> int:
        """Listen and serve in the front's thread; returns the bound port (started once: again, a no-op)."""
        if self._server is not None:
            return self.port
        self._thread.start()
        opened = asyncio.run_coroutine_threadsafe(self._open(), self._loop)
        self._server = opened.result(_START_TIMEOUT_S)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def _open(self) -> asyncio.Server:
        return await asyncio.start_server(
            self._connection, self._host, self._port, ssl=self._context,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S, ssl_shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )

    def stop(self) -> None:
        """Stop listening, drop open connections, stop the loop and join its thread."""
        if not self._thread.is_alive():
            self._loop.close()
            return
        closed = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
        try:
            closed.result(_START_TIMEOUT_S)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_START_TIMEOUT_S)
            self._loop.close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._connections) >= MAX_CONNECTIONS:
            log.warning("TLS front: %s connections open, refusing one from %s",
                        len(self._connections), client_writer.get_extra_info("peername"))
            client_writer.transport.abort()
            return
        self._connections.add(task)
        backend_writer: asyncio.StreamWriter | None = None
        graceful = False
        local_port: int | None = None
        try:
            head = await _first_headers(client_reader)
            if head is None:  # idle, too slow, too large or gone before a request: no backend
                return
            backend_reader, backend_writer = await asyncio.open_connection(*self._backend)
            peer = client_writer.get_extra_info("peername")
            local = backend_writer.get_extra_info("sockname")
            if peer and local:  # before any byte is forwarded: known when waitress sees the request
                local_port = int(local[1])
                self._clients[local_port] = str(peer[0])
            backend_writer.write(head)
            await asyncio.gather(_pipe(client_reader, backend_writer), _pipe(backend_reader, client_writer))
            graceful = True
        except OSError as exc:  # the backend is gone: nothing to forward to
            log.warning("TLS front: backend %s:%s unreachable: %s", *self._backend, exc)
        except asyncio.CancelledError:
            # Stopping. This task is the connection's top level: ending it quietly is the
            # whole point (asyncio would log a re-raised cancellation of it as an error).
            pass
        finally:
            self._connections.discard(task)
            if local_port is not None:
                self._clients.pop(local_port, None)
            for writer in (client_writer, backend_writer):
                if writer is None:
                    continue
                if graceful:
                    writer.close()
                else:  # cancelled (stopping) or failed: no close_notify exchange to wait for
                    writer.transport.abort()


async def _first_headers(reader: asyncio.StreamReader) -> bytes | None:
    """The first request's bytes up to its headers' end (and whatever came with them).

    None if the client sends nothing within ``IDLE_TIMEOUT_S``, not the whole headers
    within ``HEADER_TIMEOUT_S`` of its first byte, more than ``MAX_HEADER_BYTES`` without
    their end, or closes first.
    """
    try:
        head = await asyncio.wait_for(reader.read(_BUFFER), IDLE_TIMEOUT_S)
        if not head:
            return None
        async with asyncio.timeout(HEADER_TIMEOUT_S):
            while b"\r\n\r\n" not in head and b"\n\n" not in head:
                if len(head) > MAX_HEADER_BYTES:
                    return None
                data = await reader.read(_BUFFER)
                if not data:
                    return None
                head += data
    except (TimeoutError, OSError):
        return None
    return head


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream or a connection error; then close the other side."""
    try:
        while data := await reader.read(_BUFFER):
            writer.write(data)
            await writer.drain()
    except OSError:  # reset by the peer, or a TLS error (ssl.SSLError is an OSError)
        pass
    finally:
        if not writer.is_closing():
            writer.close()
