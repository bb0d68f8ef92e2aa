"""Loopback control channel of a simulated IED process: JSON lines over TCP.

Tests and the demo run IEDs as separate processes and drive the simulated hardware
through this channel (the MMS side stays the real protocol). Each request is one JSON
object on one line, each reply too::

    {"op": "arrive", "station": 1, "ev_id": "EV-1", "energy_wh": 20000,
     "departure_s": 36000, "max_power_w": 11000, "ev_limit_w": 7400}   -> {"ok": true}
    {"op": "depart", "station": 1}                                    -> {"ok": true}
    {"op": "reset_meter", "meter": 1}                                 -> {"ok": true}
    {"op": "status"}     -> {"ok": true, "time": ..., "stations": [...], "meters": [...]}
    {"op": "energy"}     -> {"ok": true, "stations": {"1": {"cumulative_wh": .., "power_w": ..}}}
    errors               -> {"ok": false, "error": "..."}

The server side never blocks: the IED's single thread polls it between MMS work. It
binds to 127.0.0.1 only: it is a test and demo hook, not a device interface.
"""

from __future__ import annotations

import json
import logging
import selectors
import socket
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from evgrid.errors import ControlError

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
_MAX_LINE = 64 * 1024


class ControlServer:
    """Non-blocking JSON-lines server, polled by its owner."""

    def __init__(self, handler: Handler, *, port: int = 0) -> None:
        self._handler = handler
        self._selector = selectors.DefaultSelector()
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._buffers: dict[socket.socket, bytearray] = {}

    @property
    def port(self) -> int:
        """The TCP port the channel listens on."""
        return int(self._listener.getsockname()[1])

    def poll(self) -> None:
        """Accept connections and answer complete request lines; never blocks."""
        for key, _ in self._selector.select(timeout=0):
            if key.fileobj is self._listener:
                connection, _address = self._listener.accept()
                connection.setblocking(False)
                self._selector.register(connection, selectors.EVENT_READ, None)
                self._buffers[connection] = bytearray()
            else:
                self._read(key.fileobj)  # type: ignore[arg-type]

    def _read(self, connection: socket.socket) -> None:
        try:
            data = connection.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(connection)
            return
        buffer = self._buffers[connection]
        buffer.extend(data)
        while b"\n" in buffer:
            line, _, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            self._answer(connection, line)
        if len(buffer) > _MAX_LINE:
            self._drop(connection)

    def _answer(self, connection: socket.socket, line: bytes) -> None:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise TypeError("a request is a JSON object")
            reply = self._handler(request)
        except (ValueError, KeyError, TypeError) as exc:
            reply = {"ok": False, "error": str(exc)}
        try:
            # Replies are small; a loopback peer that does not read is dropped.
            connection.setblocking(True)
            connection.settimeout(1.0)
            connection.sendall(json.dumps(reply).encode("utf-8") + b"\n")
            connection.setblocking(False)
        except OSError:
            self._drop(connection)

    def _drop(self, connection: socket.socket) -> None:
        self._selector.unregister(connection)
        self._buffers.pop(connection, None)
        connection.close()

    def close(self) -> None:
        """Close the listener and every connection."""
        for connection in list(self._buffers):
            self._drop(connection)
        self._selector.unregister(self._listener)
        self._listener.close()
        self._selector.close()


class ControlClient:
    """Blocking client of a :class:`ControlServer` (another process)."""

    def __init__(self, port: int, *, host: str = "127.0.0.1", timeout_s: float = 5.0) -> None:
        self._socket = socket.create_connection((host, port), timeout=timeout_s)
        self._file = self._socket.makefile("rwb")

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request; returns the reply, ControlError when it says ``ok: false``."""
        try:
            self._file.write(json.dumps({"op": op, **fields}).encode("utf-8") + b"\n")
            self._file.flush()
            line = self._file.readline()
        except OSError as exc:
            raise ControlError(f"control channel failed: {exc}") from exc
        if not line:
            raise ControlError("control channel closed by the IED")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise ControlError(str(reply.get("error", "request refused")))
        return reply

    def arrive(self, **arrival: Any) -> dict[str, Any]:
        """Plug an EV in (fields as in :mod:`evgrid.sim.devices.arrivals`)."""
        return self.request("arrive", **arrival)

    def status(self) -> dict[str, Any]:
        """Stations and meters as the simulation sees them."""
        return self.request("status")

    def close(self) -> None:
        """Close the connection."""
        self._file.close()
        self._socket.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
