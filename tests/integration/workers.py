"""Real ``evgrid serve --config`` workers for the fault tests, and what the tests see around them.

- :class:`Worker`: one worker process (a TOML file of its own, plain HTTP on a free port,
  JSON logs in a file), started, asked for ``/health``, sent SOAP requests, killed.
- :class:`Relay`: a TCP relay on loopback between the workers and PostgreSQL; ``cut``
  drops every connection and refuses new ones, as a database restart does.
- :class:`Esb`: the test's own client of the broker: publish requests (persistent,
  confirmed) with a durable reply queue, count queues, delete everything afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pika
from lxml import etree
from pika.exceptions import AMQPError, NackError

from evgrid.adapters.esb.topology import Topology
from evgrid.adapters.soap import wire
from evgrid.adapters.soap.evos import MAY_SEND
from evgrid.apps.processes import first_line
from evgrid.cim import namespaces as ns
from evgrid.mappings.services import EV_OPERATION_SYSTEM
from tests.conftest import free_port
from tests.integration.test_operation_system import request_message, result

UTILITY = ("ops", "ops-s3cret")  # a utility back office: may send every operation, for any site
NOUNS = tuple(sorted({noun for _verb, noun in MAY_SEND}))
ACTIONS = {op.noun: op.soap_action for op in EV_OPERATION_SYSTEM.operations}
NIGHT_START = "2026-11-26T17:00:00Z"  # test_operation_system.NIGHT: the requests' night


def wait_for(predicate: Callable[[], Any], seconds: float, what: str) -> Any:
    """Poll ``predicate`` until it gives something true, or fail saying ``what`` did not happen in time."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:g} s: {what}")
        time.sleep(0.1)


def home_request(n: int, message_id: str | None = None) -> bytes:
    """EV-n's ChargingRequest at its owner's station S-n (registry of ``write_registry``)."""
    tag = f"{n:04d}"
    return request_message(f"EV-{tag}", f"S-{tag}", f"C-{tag}", f"UP-{tag}", message_id=message_id)


def reply_of(response: httpx.Response) -> bytes:
    """The 61968-100 reply in a SOAP response's Body."""
    (reply,) = etree.fromstring(response.content).find(ns.qname(ns.SOAP11, "Body"))
    return etree.tostring(reply)


def _toml(text: str) -> str:
    return json.dumps(text)  # a JSON string is a TOML basic string


def write_config(path: Path, *, database: str, amqp: str, prefix: str, worker: str, lease_seconds: float = 15,
                 max_tries: int = 5, clock: tuple[float, str, float] | None = None) -> Path:
    """A worker's ``evgrid.toml``: plain HTTP on a free port, /health on it, the utility user, JSON logs.

    ``clock``: (speed, start, epoch) of the accelerated clock every worker shares.
    """
    lines = [
        "[database]", f"url = {_toml(database)}",
        "[soap]", 'host = "127.0.0.1"', "port = 0", "tls = false",
        "[planning]", f"start = {NIGHT_START}",
        "[[users]]", f"user = {_toml(UTILITY[0])}", f"password = {_toml(UTILITY[1])}", 'kind = "utility"',
        "[amqp]", f"url = {_toml(amqp)}", f"prefix = {_toml(prefix)}", f"max_tries = {max_tries}", "prefetch = 8",
        "[worker]", f"id = {_toml(worker)}", f"lease_seconds = {lease_seconds}",
        "[log]", 'level = "INFO"', 'format = "json"',
    ]
    if clock is not None:
        speed, start, epoch = clock
        lines += ["[clock]", f"speed = {speed}", f"start = {start}", f"epoch = {epoch}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Worker:
    """One ``evgrid serve --config`` process; every start logs to a file of its own."""

    def __init__(self, name: str, config: Path) -> None:
        self.name, self.config = name, config
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.logs: list[Path] = []

    def launch(self) -> Worker:
        """Start the process (:meth:`wait_ready` waits for it)."""
        log = self.config.with_name(f"{self.name}-{len(self.logs) + 1}.log")
        self.logs.append(log)
        env = {name: value for name, value in os.environ.items() if not name.startswith("EVGRID_")}
        with log.open("wb") as sink:
            self.process = subprocess.Popen([sys.executable, "-m", "evgrid", "serve", "--config", str(self.config)],
                                            stdout=subprocess.PIPE, stderr=sink, env=env)
        return self

    def wait_ready(self, timeout_s: float = 90.0) -> Worker:
        """Until the ``ready`` line (start-up on two busy cores takes seconds)."""
        process = self.process
        assert process is not None and process.stdout is not None
        line = first_line(process, timeout_s)
        if not line.startswith("ready "):
            self.kill()
            raise AssertionError(f"worker {self.name} did not start: {line!r}\n{self.logs[-1].read_text()[-3000:]}")
        self.url = line.split("url=", 1)[1].strip()
        return self

    @property
    def base(self) -> str:
        return self.url.rsplit("/", 1)[0]

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def health(self) -> tuple[int, dict[str, Any]]:
        """``GET /health``: the HTTP status and the JSON document."""
        answer = httpx.get(f"{self.base}/health", timeout=15)
        return answer.status_code, answer.json()

    def check(self, name: str) -> dict[str, Any]:
        """One check of ``/health`` (``database``, ``amqp``, ``leases``, ``dispatcher``, ``outbox``)."""
        return self.health()[1]["checks"][name]

    def post(self, message: bytes, noun: str = "ChargingRequest") -> httpx.Response:
        """A SOAP request from the utility user."""
        return httpx.post(self.url, content=wire.envelope(message), auth=UTILITY, timeout=60,
                          headers={"Content-Type": wire.CONTENT_TYPE, "SOAPAction": f'"{ACTIONS[noun]}"'})

    def request(self, n: int) -> tuple[str, str | None]:
        """EV-n's home ChargingRequest over SOAP: the reply's result and error code."""
        return result(reply_of(self.post(home_request(n))))

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer: nothing is released, nothing logged."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.communicate(timeout=30)

    def lines(self, *, last_start: bool = False) -> list[dict[str, Any]]:
        """Every JSON log line of every start of this worker (or of its last start only)."""
        logs = self.logs[-1:] if last_start else self.logs
        return [json.loads(line) for log in logs if log.exists()
                for line in log.read_text(encoding="utf-8").splitlines() if line.startswith("{")]


def start_all(workers: Iterable[Worker]) -> list[Worker]:
    """Launch every worker at once, then wait for each one's ``ready`` line."""
    launched = [worker.launch() for worker in workers]
    return [worker.wait_ready() for worker in launched]


class Relay:
    """A TCP relay on loopback in front of ``target``; :meth:`cut` and :meth:`restore` the link."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        """Listen again (on the same port): new connections reach the target."""
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: rebinds at once
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="relay-accept", daemon=True).start()

    def cut(self) -> None:
        """Close every relayed connection and stop listening: new connections are refused."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()  # the accept loop notices within its 0.1 s timeout
        self.drop()

    def drop(self) -> None:
        """Close every relayed connection, still listening: a connection lost, the way back open."""
        with self._lock:
            ends, self._sockets = list(self._sockets), set()
        _shut(*ends)

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed: cut
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _shut(client, upstream)
                    client.close()
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), name="relay-pump", daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # cut
        finally:
            _shut(source, sink)
            with self._lock:
                self._sockets.discard(source)
            source.close()


def _shut(*ends: socket.socket) -> None:
    # shutdown, not close: it wakes the pump blocked in recv on that socket, and sends the FIN.
    for end in ends:
        try:
            end.shutdown(socket.SHUT_RDWR)
        except OSError:
            continue  # already shut or closed


class Esb:
    """The test's client of the broker: requests published with a durable reply queue of its own."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.topology = Topology(prefix, nouns=NOUNS)
        self.replies = f"{prefix}.replies"  # durable: replies published before a broker restart survive it
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None

    @property
    def channel(self) -> Any:
        if self._connection is None or not self._connection.is_open or not self._channel.is_open:
            self._connection = pika.BlockingConnection(pika.URLParameters(self.url))
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        return self._channel

    def forget_connection(self) -> None:
        """After a broker restart: the old connection is gone; the next use connects again."""
        if self._connection is not None:
            with contextlib.suppress(AMQPError, OSError):
                self._connection.close()
        self._connection = self._channel = None

    def declare_replies(self) -> None:
        self.channel.queue_declare(self.replies, durable=True)

    def publish(self, body: bytes, correlation_id: str, noun: str = "ChargingRequest") -> None:
        """Publish persistent, confirmed and mandatory: once this returns, the broker has it queued.

        A broker just restarted may refuse (nack) while its queues recover: published again
        (a copy that got in after all is answered from the stored reply, not applied twice).
        """
        properties = pika.BasicProperties(reply_to=self.replies, correlation_id=correlation_id,
                                          content_type="application/xml", delivery_mode=2)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.channel.basic_publish(self.topology.exchange, noun, body, properties, mandatory=True)
                return
            except NackError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def depth(self, queue: str) -> int:
        """Messages ready in ``queue`` (not those a consumer holds)."""
        return int(self.channel.queue_declare(queue, passive=True).method.message_count)

    def take(self, queue: str) -> list[tuple[Any, bytes]]:
        """Every message ready in ``queue`` (properties, body), acked."""
        taken = []
        while True:
            _method, properties, body = self.channel.basic_get(queue, auto_ack=True)
            if body is None:
                return taken
            taken.append((properties, body))

    def close(self) -> None:
        """Delete the queues and exchanges of the prefix (the broker is left as it was found)."""
        deadline = time.monotonic() + 60  # after a broker restart it may take a moment to accept us
        while True:
            try:
                channel = self.channel
                channel.queue_delete(self.replies)
                self.topology.delete(channel)
                assert self._connection is not None
                self._connection.close()
                return
            except AMQPError:
                self.forget_connection()
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
