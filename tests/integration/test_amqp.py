"""The ESB binding on a real RabbitMQ in front of the operation system on a real store:
the SOAP binding's replies, failures answered and acked, replays, poison messages
dead-lettered after max_tries, a database outage waited out, lost connections. Every test
has queues and exchanges of its own (a uuid prefix), deleted at the end."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from evgrid.adapters.esb.binding import AmqpRequester, EsbBinding, Topology
from evgrid.adapters.soap import wire
from evgrid.adapters.soap.evos import MAY_SEND, evos_endpoint
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
from evgrid.adapters.soap.server import make_app, serve_in_thread
from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import unavailable
from evgrid.apps.evos.system import OperationSystem, operation_system
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.errors import UpstreamFault
from evgrid.messaging.router import Route, Router
from evgrid.messaging.routes import ROUTES
from evgrid.scheduler.partitions import RollingHorizon
from tests.conftest import free_port
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import NIGHT, Clock, request_message
from tests.integration.workers import Relay

pytestmark = pytest.mark.amqp

NOUNS = tuple(sorted({noun for _verb, noun in MAY_SEND}))
MSG = f"{{{ns.MESSAGE}}}"
PORTAL = ("portal-1001", "s3cret-1001")
FAST = (0.05, 0.2)  # backoff of the tests' bindings: the behaviour, not the production pace
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
REQUEST = (env.Verb.CREATE, "ChargingRequest")
REAL = ROUTES[REQUEST].handle
HOME = ("EV-1001", "S-1001", "C-1001", "UP-1001")  # EV, station, customer, usage point of a home charge
codec = Codec()


# ---------------------------------------------------------------------------- helpers
def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.02)


def answer(reply: bytes) -> tuple[str, str | None, str | None]:
    """(Result, error code, CorrelationID) of a schema-valid reply."""
    root = codec.parse(reply)
    codec.validate(root)
    return (root.findtext(f"{MSG}Reply/{MSG}Result"), root.findtext(f"{MSG}Reply/{MSG}Error/{MSG}code"),
            root.findtext(f"{MSG}Header/{MSG}CorrelationID"))


def c14n(element: etree._Element) -> bytes:
    """Exclusive canonical form: the namespaces a SOAP envelope adds around the body do not count."""
    return etree.tostring(element, method="c14n", exclusive=True)


def count(evos: OperationSystem, model: type) -> int:
    with evos.sessions() as db:
        return db.scalar(select(func.count()).select_from(model))


def with_handler(evos: OperationSystem, handle: Callable[[Any, Any, Any], Any]) -> Router:
    """The operation system's router with ``handle`` in front of the ChargingRequest handler."""
    routes: dict[Any, Route] = {**ROUTES, REQUEST: replace(ROUTES[REQUEST], handle=handle)}
    return Router(routes, codec=evos.router.codec, source="evgrid-evos", unit_of_work=evos.unit_of_work)


class Broker:
    """Our own view of the broker: publish raw requests, look into queues."""

    def __init__(self, url: str, prefix: str) -> None:
        self.topology = Topology(prefix, nouns=NOUNS)
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()

    def depth(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def nonempty(self) -> dict[str, int]:  # counts ready messages, not those a consumer holds
        queues = (*self.topology.queues(), self.topology.dead_letter_queue)
        return {queue: depth for queue in queues if (depth := self.depth(queue))}

    def publish(self, noun: str, body: bytes, **properties: Any) -> None:
        self.channel.basic_publish(self.topology.exchange, noun, body,
                                   pika.BasicProperties(delivery_mode=2, **properties))

    def close(self) -> None:
        self.topology.delete(self.channel)
        self.connection.close()


@pytest.fixture
def broker(amqp_url: str) -> Iterator[Broker]:
    broker = Broker(amqp_url, f"evgrid-test-{uuid.uuid4().hex[:12]}")
    yield broker
    broker.close()  # the broker is left as it was found


@pytest.fixture
def evos(store_url: str, examples: Path) -> Iterator[OperationSystem]:
    seed_store(store_url, examples)
    system = operation_system(store_url, horizon=RollingHorizon(NIGHT), clock=Clock())
    yield system
    system.close()


def binding(router: Any, url: str, broker: Broker, **options: Any) -> EsbBinding:
    options = {"backoff": FAST, "transient": unavailable} | options
    return EsbBinding(router, url, nouns=NOUNS, prefix=broker.topology.prefix, **options)


# --------------------------------------------------------------------- round trips
def test_uc_1_1_2_charging_request_over_amqp_gets_the_soap_reply(evos: OperationSystem, broker: Broker,
                                                                 amqp_url: str) -> None:
    message = request_message(*HOME, message_id="A-1")
    # The ESB sender is the portal's SOAP user here, so that SOAP may replay the MessageID.
    esb = binding(evos.router, amqp_url, broker, sender=PORTAL[0])
    with esb.running(), AmqpRequester(amqp_url, prefix=broker.topology.prefix) as requester:
        assert esb.healthy()
        reply = requester.request("ChargingRequest", message)
    assert not esb.healthy()
    assert answer(reply) == ("OK", None, "A-1") and b"ChargingConfirmation>" in reply
    assert count(evos, m.ChargingSession) == 1 and esb.handled == 1

    # The same message over SOAP: the very reply the ESB got (the router's stored one).
    credentials = Credentials()
    credentials.add(Principal(PORTAL[0], PrincipalKind.PORTAL, "C-1001", "UP-1001"), PORTAL[1])
    with serve_in_thread(make_app([evos_endpoint(evos)], credentials)) as base:
        response = httpx.post(base + "/EVOperationSystem", content=wire.envelope(message), auth=PORTAL, timeout=30,
                              headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction":
                                       '"http://iec.ch/TC57/2011/ChargingRequest/CreateChargingRequest"'})
    assert response.status_code == 200
    (soap_reply,) = etree.fromstring(response.content).find(ns.qname(ns.SOAP11, "Body"))
    assert c14n(soap_reply) == c14n(codec.parse(reply))
    assert count(evos, m.ChargingSession) == 1 and broker.nonempty() == {}


@sqlite_only
def test_refused_messages_get_failed_replies_with_their_code_and_are_acked(evos: OperationSystem, broker: Broker,
                                                                           amqp_url: str) -> None:
    invalid = Path(__file__).parents[1] / "fixtures" / "messages" / "MeterReadings_created_invalid_wrong_type.xml"
    items = [("ChargingRequest", b"<not xml"), ("MeterReadings", invalid.read_bytes()),
             ("ChargingRequest", request_message("EV-9999", "S-1001", "C-1001", "UP-1001", message_id="U-1"))]
    esb = binding(evos.router, amqp_url, broker)
    with esb.running(), AmqpRequester(amqp_url, prefix=broker.topology.prefix) as requester:
        replies = requester.request_many(items)
    assert [answer(reply)[:2] for reply in replies] == [("FAILED", "2.1"), ("FAILED", "2.4"), ("FAILED", "2.7")]
    assert (esb.handled, esb.requeued) == (3, 0)
    assert broker.nonempty() == {}  # stopped: anything unacked would be back on its queue now
    assert count(evos, m.ChargingSession) == 0 and count(evos, m.OutboxMessage) == 0


@sqlite_only
def test_a_replayed_message_id_gets_the_stored_reply_and_is_applied_once(evos: OperationSystem, broker: Broker,
                                                                         amqp_url: str) -> None:
    message = request_message(*HOME, message_id="R-1")
    with binding(evos.router, amqp_url, broker).running(), \
            AmqpRequester(amqp_url, prefix=broker.topology.prefix) as requester:
        first, second = requester.request_many([("ChargingRequest", message), ("ChargingRequest", message)])
        third = requester.request("ChargingRequest", message)
    assert answer(first) == ("OK", None, "R-1") and first == second == third
    assert count(evos, m.ChargingSession) == 1 and count(evos, m.InboundMessage) == 1


# ------------------------------------------------------------- failures and retries
@sqlite_only
def test_a_poison_message_is_dead_lettered_after_max_tries_and_its_queue_moves_on(
        evos: OperationSystem, broker: Broker, amqp_url: str) -> None:
    tries = Counter[str]()

    def handle(command: Any, header: Any, uow: Any) -> Any:
        tries[header.message_id] += 1
        if header.message_id == "POISON":
            raise RuntimeError("a bug this message always triggers")
        return REAL(command, header, uow)

    poison = request_message("EV-1002", "S-1003", "C-1003", "UP-1003", message_id="POISON")
    esb = binding(with_handler(evos, handle), amqp_url, broker, max_tries=3)
    with esb.running(), AmqpRequester(amqp_url, prefix=broker.topology.prefix) as requester:
        broker.publish("ChargingRequest", poison, correlation_id="poison")
        good = requester.request("ChargingRequest", request_message(*HOME))
        dead = broker.topology.dead_letter_queue
        wait_until(lambda: broker.depth(dead) == 1, "the poison message is dead-lettered")
    assert answer(good)[0] == "OK"
    assert tries == {"POISON": 3, "M-EV-1001": 1} and esb.requeued == 3
    method, properties, body = broker.channel.basic_get(dead, auto_ack=True)
    assert body == poison and properties.correlation_id == "poison"
    assert (properties.headers["x-first-death-reason"], properties.headers["x-first-death-queue"]) == (
        "delivery_limit", broker.topology.queue("ChargingRequest"))
    assert count(evos, m.ChargingSession) == 1 and count(evos, m.InboundMessage) == 1


@sqlite_only
def test_a_message_dead_lettered_after_unexpected_errors_gets_a_failed_reply(
        evos: OperationSystem, broker: Broker, amqp_url: str) -> None:
    """No caller waits for ever: the last try answers FAILED 5.0 before the broker sets the message aside."""
    tries = Counter[str]()

    def handle(command: Any, header: Any, uow: Any) -> Any:
        tries[header.message_id] += 1
        if header.message_id == "DOOMED":
            raise RuntimeError("a bug this message always triggers")
        return REAL(command, header, uow)

    doomed = request_message("EV-1002", "S-1003", "C-1003", "UP-1003", message_id="DOOMED")
    esb = binding(with_handler(evos, handle), amqp_url, broker, max_tries=3)
    with esb.running(), AmqpRequester(amqp_url, prefix=broker.topology.prefix) as requester:
        reply = requester.request("ChargingRequest", doomed, timeout=20)
        dead = broker.topology.dead_letter_queue
        wait_until(lambda: broker.depth(dead) == 1, "the message is dead-lettered")
        good = requester.request("ChargingRequest", request_message(*HOME))
    assert answer(reply) == ("FAILED", "5.0", "DOOMED")
    assert b"RuntimeError" not in reply and b"a bug" not in reply  # nothing of the error leaks
    assert answer(good) == ("OK", None, "M-EV-1001")
    assert tries == {"DOOMED": 3, "M-EV-1001": 1} and esb.requeued == 3 and esb.handled == 1
    _method, properties, body = broker.channel.basic_get(dead, auto_ack=True)
    assert body == doomed and properties.headers["x-first-death-reason"] == "delivery_limit"
    assert broker.nonempty() == {} and count(evos, m.ChargingSession) == 1


@sqlite_only
def test_a_message_tried_once_only_is_answered_on_its_first_and_last_try(
        evos: OperationSystem, broker: Broker, amqp_url: str) -> None:
    def handle(command: Any, header: Any, uow: Any) -> Any:
        raise RuntimeError("a bug")

    esb = binding(with_handler(evos, handle), amqp_url, broker, max_tries=1)
    with esb.running(), AmqpRequester(amqp_url, prefix=broker.topology.prefix) as requester:
        reply = requester.request("ChargingRequest", request_message(*HOME, message_id="ONCE"))
        wait_until(lambda: broker.depth(broker.topology.dead_letter_queue) == 1, "the message is dead-lettered")
    assert answer(reply) == ("FAILED", "5.0", "ONCE") and esb.requeued == 1


@sqlite_only
def test_transient_failures_are_retried_in_place_and_never_dead_lettered(evos: OperationSystem, broker: Broker,
                                                                         amqp_url: str) -> None:
    calls = []

    def handle(command: Any, header: Any, uow: Any) -> Any:
        calls.append(header.message_id)
        if len(calls) <= 3:  # more failures than max_tries: they must not count as tries
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return REAL(command, header, uow)

    esb = binding(with_handler(evos, handle), amqp_url, broker, max_tries=2)
    with esb.running(), AmqpRequester(amqp_url, prefix=broker.topology.prefix) as requester:
        reply = requester.request("ChargingRequest", request_message(*HOME))
    assert answer(reply) == ("OK", None, "M-EV-1001")
    assert len(calls) == 4 and (esb.retries, esb.requeued, esb.handled) == (3, 0, 1)
    assert broker.nonempty() == {} and count(evos, m.ChargingSession) == 1


def test_a_database_outage_is_waited_out(tmp_path: Path, examples: Path, broker: Broker, amqp_url: str) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    url = f"sqlite:///{folder / 'evgrid.db'}"
    seed_store(url, examples)
    with closing(operation_system(url, horizon=RollingHorizon(NIGHT), clock=Clock())) as evos:
        esb = binding(evos.router, amqp_url, broker)
        with esb.running():
            # The database file goes away: SQLite cannot open it ("unable to open database file").
            evos.engine.dispose()
            folder.rename(tmp_path / "away")
            replies = broker.channel.queue_declare("", exclusive=True).method.queue
            broker.publish("ChargingRequest", request_message(*HOME), reply_to=replies, correlation_id="outage")
            wait_until(lambda: esb.retries >= 2, "the binding retries while the database is away")
            assert esb.handled == 0 and esb.healthy()
            (tmp_path / "away").rename(folder)
            wait_until(lambda: broker.depth(replies) == 1, "the reply once the database is back")
        _method, properties, reply = broker.channel.basic_get(replies, auto_ack=True)
        assert properties.correlation_id == "outage" and answer(reply) == ("OK", None, "M-EV-1001")
        assert esb.requeued == 0 and broker.nonempty() == {} and count(evos, m.ChargingSession) == 1


# -------------------------------------------------------------------- lost connections
def close_from_the_broker(prefix: str) -> None:
    """Close the binding's connection the way an operator (or a broker restart) does."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not available here; the network variant covers the loss")
    listing = subprocess.run(["rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid",
                              "client_properties"], capture_output=True, text=True, timeout=30)
    if listing.returncode != 0:
        pytest.skip(f"rabbitmqctl may not list connections here: {listing.stderr.strip()[:200]}")
    (pid,) = [line.split("\t")[0] for line in listing.stdout.splitlines() if f'"evgrid-esb {prefix}"' in line]
    closed = subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "test: connection loss"],
                            capture_output=True, text=True, timeout=30)
    assert closed.returncode == 0, closed.stderr


@sqlite_only
@pytest.mark.parametrize("loss", ["closed_by_the_broker", "network_cut"])
def test_after_a_lost_connection_every_request_is_answered_exactly_once(
        evos: OperationSystem, broker: Broker, amqp_url: str, loss: str) -> None:
    entered, release = threading.Event(), threading.Event()

    def handle(command: Any, header: Any, uow: Any) -> Any:
        # The first message holds the worker while the connection is lost under it.
        if not entered.is_set():
            entered.set()
            assert release.wait(10)
        return REAL(command, header, uow)

    parameters = pika.URLParameters(amqp_url)
    relay = Relay((parameters.host, parameters.port))
    credentials = parameters.credentials
    url = (f"amqp://{credentials.username}:{credentials.password}@127.0.0.1:{relay.port}/"
           if loss == "network_cut" else amqp_url)
    sites = [HOME, ("EV-1002", "S-1003", "C-1003", "UP-1003"), ("EV-1004", "S-1004", "C-1004", "UP-1004")]
    ids = [f"L-{n}" for n in range(12)]
    replies = broker.channel.queue_declare("", exclusive=True).method.queue
    esb = binding(with_handler(evos, handle), url, broker)
    try:
        with esb.running():
            for n, message_id in enumerate(ids):
                broker.publish("ChargingRequest", request_message(*sites[n % 3], message_id=message_id),
                               reply_to=replies, correlation_id=message_id)
            assert entered.wait(10)
            if loss == "network_cut":
                relay.drop()  # the connection drops under the binding; it reconnects through the relay
            else:
                close_from_the_broker(broker.topology.prefix)
            release.set()
            wait_until(lambda: broker.depth(replies) >= len(ids), "a reply to every request after the reconnect")
            assert esb.reconnects >= 1
            wait_until(esb.healthy, "consuming again")
    finally:
        release.set()
        relay.close()
    empty = (None, None, None)
    got = [(properties.correlation_id, answer(body)[2])
           for _method, properties, body in iter(lambda: broker.channel.basic_get(replies, auto_ack=True), empty)]
    assert sorted(got) == sorted(zip(ids, ids, strict=True))  # each once: nothing lost, nothing answered twice
    assert count(evos, m.InboundMessage) == len(ids) and count(evos, m.ChargingSession) == len(sites)
    assert broker.nonempty() == {}


@sqlite_only
def test_a_deleted_request_queue_is_declared_again_and_served(evos: OperationSystem, broker: Broker,
                                                              amqp_url: str) -> None:
    esb = binding(evos.router, amqp_url, broker)
    with esb.running(), AmqpRequester(amqp_url, prefix=broker.topology.prefix) as requester:
        broker.channel.queue_delete(broker.topology.queue("ChargingRequest"))  # the broker cancels the consumer
        wait_until(lambda: esb.reconnects >= 1 and esb.healthy(), "consuming the queue declared again")
        reply = requester.request("ChargingRequest", request_message(*HOME))
    assert answer(reply)[:2] == ("OK", None)


# ------------------------------------------------------------------------- start-up
def test_a_broker_that_refuses_or_is_not_there_fails_at_start(broker: Broker, amqp_url: str) -> None:
    router, parameters = Router(ROUTES), pika.URLParameters(amqp_url)
    wrong = f"amqp://evgrid-nobody:wrong@{parameters.host}:{parameters.port}/"
    started = time.monotonic()
    with pytest.raises(UpstreamFault, match="cannot consume"), binding(router, wrong, broker).running():
        pass
    assert time.monotonic() - started < 5  # refused credentials are not retried
    with pytest.raises(UpstreamFault, match="cannot consume"), \
            binding(router, f"amqp://guest:guest@127.0.0.1:{free_port()}/", broker).running(startup_timeout=0.5):
        pass
    with pytest.raises(UpstreamFault, match="cannot reach"):
        AmqpRequester(f"amqp://guest:guest@127.0.0.1:{free_port()}/")
