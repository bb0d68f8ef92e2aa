"""The ESB binding of the EV Operation System over AMQP 0-9-1 (RabbitMQ); the only pika user.

The same IEC 61968-100 messages as the SOAP binding, on queues (DESIGN.md, "Messages"):
a request is published to ``{prefix}.requests`` with its noun as routing key, ``reply_to``
and ``correlation_id``; the worker hands the body to ``router.handle`` and publishes the
reply (``application/xml``, persistent, the request's ``correlation_id``) to the default
exchange with ``reply_to`` as routing key. Names and queue arguments:
:mod:`evgrid.adapters.esb.topology`.

Acknowledgement rules, so that nothing is lost and nothing is applied twice:

- A request is acked only after the router returned, i.e. after its unit of work
  committed, and after the broker confirmed the reply (publisher confirms). A crash
  in between redelivers it; the router's inbound journal then answers the stored
  reply without applying it again (the requester may see that reply twice).
- Every reply the router gives is acked, FAILED ones included: a malformed or refused
  message is answered, not retried.
- ``transient(error)`` true (the database is down): the message stays unacked and is
  tried again in place, with backoff, until it succeeds or the binding stops. Messages
  behind it wait: they would fail the same way.
- Any other unexpected error: ``basic.nack`` with requeue. The quorum queue counts the
  deliveries and dead-letters the message after ``max_tries``. On the last try (the
  broker's ``x-delivery-count`` says so) the sender first gets a FAILED (5.0) reply
  whose CorrelationID is the request's MessageID, so that no caller waits for ever; the
  nack then dead-letters the message (reason ``delivery_limit``) for an operator.
- On RabbitMQ 3.x a message held while the binding stops or its connection drops counts
  as a try too; ``max_tries`` must leave room for a few restarts.

Authorization is the broker's: whoever may publish to the exchange may send any noun
the binding consumes (set vhost permissions accordingly).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import (
    AMQPChannelError,
    AMQPError,
    AuthenticationError,
    ConsumerCancelled,
    NackError,
    ProbableAccessDeniedError,
    ProbableAuthenticationError,
    UnroutableError,
)
from pika.spec import Basic, BasicProperties

from evgrid.adapters.esb.topology import Topology
from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.errors import AdapterError, UpstreamFault

__all__ = ["AmqpRequester", "EsbBinding", "Topology"]

log = logging.getLogger(__name__)

XML = "application/xml"
# How long one round of the consumer loop waits for deliveries: the delay of a stop.
_POLL_S = 0.2
# A broker under a resource alarm blocks publishers; rather than hang, reconnect.
_BLOCKED_TIMEOUT_S = 60.0
# The quorum queue's count of earlier returns of a delivery (absent on the first one).
_DELIVERY_COUNT = "x-delivery-count"
# What the sender of a message dead-lettered after unexpected errors is told; leaks nothing.
_GAVE_UP = "internal error; the message was not processed and was set aside after {tries} tries"
# Failures that retrying the connection will not cure: reported at start-up at once.
_FATAL_AT_START = (AuthenticationError, ProbableAuthenticationError, ProbableAccessDeniedError, AMQPChannelError)


class Handles(Protocol):
    """The router's side of the binding (:class:`evgrid.messaging.router.Router`).

    A router with a ``codec`` (:class:`~evgrid.cim.codec.Codec`) and a ``source`` lends
    them to the FAILED reply of a dead-lettered message; otherwise the binding's own are used.
    """

    def handle(self, data: bytes, *, sender: str | None = ..., raise_unexpected: bool = ...) -> bytes: ...


class _Verdict(enum.Enum):
    REQUEUE = "requeue"  # an unexpected error: back to its queue, where the broker counts the try
    LEAVE = "leave"  # stopping while the database is away: unacked, the broker redelivers it later


class _NoTraceback(logging.Filter):
    """pika logs a refused connection with its traceback; the binding says it in one line of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


# BlockingConnection logs every failed connection attempt with its traceback; a refused or
# lost broker is expected here and the binding logs it (and ``cannot start`` is one line).
logging.getLogger("pika.adapters.blocking_connection").addFilter(_NoTraceback())


def _never(_error: BaseException) -> bool:
    return False


def _parameters(url: str, name: str) -> pika.URLParameters:
    parameters = pika.URLParameters(url)
    # The connection name shows in the broker's tools (rabbitmqctl list_connections).
    parameters.client_properties = {"connection_name": name}
    parameters.blocked_connection_timeout = _BLOCKED_TIMEOUT_S
    return parameters


def _where(parameters: pika.URLParameters) -> str:
    """Host, port and vhost: for log lines, which must never show the password."""
    return f"{parameters.host}:{parameters.port}{parameters.virtual_host}"


class EsbBinding:
    """Consumes the request queues of ``nouns`` and answers through ``router``.

    Args:
        router: the operation system's router.
        url: the broker, ``amqp://user:password@host:5672/vhost``.
        nouns: the nouns to consume (one queue each).
        prefix: the first part of every queue and exchange name.
        max_tries: deliveries of a failing message before it is dead-lettered.
        prefetch: unacked deliveries the broker may hand the worker at once.
        transient: whether an unexpected error will pass (the database is down):
            such messages are retried in place instead of being requeued.
        sender: the sender the router records for replay checks.
        backoff: first and longest wait, in seconds, between retries and reconnects.
    """

    def __init__(self, router: Handles, url: str, *, nouns: Iterable[str], prefix: str = "evgrid",
                 max_tries: int = 5, prefetch: int = 8, transient: Callable[[BaseException], bool] = _never,
                 sender: str = "esb", backoff: tuple[float, float] = (0.5, 10.0)) -> None:
        self.router = router
        self.topology = Topology(prefix, max_tries, tuple(nouns))
        if not self.topology.nouns:
            raise ValueError("an ESB binding needs at least one noun to consume")
        self.prefetch, self.transient, self.sender = prefetch, transient, sender
        self._first_wait, self._longest_wait = backoff
        self._parameters = _parameters(url, f"evgrid-esb {prefix}")
        self._stopping = threading.Event()
        self._consuming = threading.Event()
        self._started = threading.Event()  # consuming, or failed for good at start-up
        self._fatal: BaseException | None = None
        self._last_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._consumed = False  # this connection got as far as consuming
        self._cancelled = False  # the broker cancelled one of this connection's consumers
        self._codec: Codec | None = None  # for FAILED replies, when the router has no codec to lend
        # Counters, written by the consumer thread only.
        self.handled = 0  # answered and acked
        self.requeued = 0  # nacked after an unexpected error (the broker counts the tries)
        self.retries = 0  # transient failures tried again in place
        self.reconnects = 0  # attempts to connect again after a lost or refused connection

    @contextmanager
    def running(self, *, startup_timeout: float = 10.0) -> Iterator[EsbBinding]:
        """Consume on a thread of its own until the block ends.

        Waits until the binding consumes; on exit stops consuming, lets the message in
        hand finish (and be acked), and closes the connection.

        Raises:
            UpstreamFault: the broker refused the credentials or the topology, or could
                not be reached within ``startup_timeout`` seconds.
        """
        if self._thread is not None:
            raise RuntimeError("the ESB binding is already running")
        self._stopping.clear()
        self._started.clear()
        self._fatal = None
        self._thread = threading.Thread(target=self._run, name=f"esb {self.topology.prefix}", daemon=True)
        self._thread.start()
        try:
            self._started.wait(startup_timeout)
            if not self._consuming.is_set():
                error = self._fatal or self._last_error
                reason = error or f"no answer within {startup_timeout} s"
                raise UpstreamFault(f"cannot consume from the ESB at {_where(self._parameters)}: {reason}",
                                    code="4.1") from error
            yield self
        finally:
            self._stopping.set()
            self._thread.join()
            self._thread = None

    def healthy(self) -> bool:
        """Connected and consuming (false while reconnecting or stopped)."""
        thread = self._thread
        return thread is not None and thread.is_alive() and self._consuming.is_set() and not self._stopping.is_set()

    # ------------------------------------------------------------ consumer thread
    def _run(self) -> None:
        wait = self._first_wait
        while not self._stopping.is_set():
            self._consumed = False
            try:
                self._consume()
            except AMQPError as error:  # includes a lost socket (StreamLostError)
                self._last_error = error
                if not self._started.is_set() and isinstance(error, _FATAL_AT_START):
                    log.error("the ESB at %s refused the binding: %s", _where(self._parameters), error)
                    self._fatal = error
                    self._started.set()
                    return
                log.warning("ESB connection to %s lost or refused: %s", _where(self._parameters),
                            str(error) or type(error).__name__)
            except Exception as error:  # the thread's boundary: a bug must not end consumption for good
                self._last_error = error
                log.exception("the ESB consumer failed; it reconnects (the message in hand counts a try)")
            if self._stopping.is_set():
                return
            if self._consumed:  # a fresh loss after a good run: back off from the start
                wait = self._first_wait
            self.reconnects += 1
            self._stopping.wait(wait)
            wait = min(wait * 2, self._longest_wait)

    def _consume(self) -> None:
        connection = BlockingConnection(self._parameters)
        try:
            channel = connection.channel()
            self.topology.declare(channel)
            channel.confirm_delivery()  # a reply is confirmed before its request is acked
            channel.basic_qos(prefetch_count=self.prefetch)
            self._cancelled = False
            channel.add_on_cancel_callback(self._on_cancelled)
            for queue in self.topology.queues():
                channel.basic_consume(queue, self._on_delivery)
            self._consuming.set()
            self._consumed = True
            self._started.set()
            log.info("consuming %s from %s", ", ".join(self.topology.queues()), _where(self._parameters))
            while not self._stopping.is_set():
                connection.process_data_events(time_limit=_POLL_S)
                if self._cancelled:
                    # The broker ends a consumer when its queue is deleted: start over, which
                    # declares the queue again, rather than look healthy while a noun is not served.
                    raise ConsumerCancelled("the broker cancelled a consumer (queue deleted?)")
            self._consuming.clear()
            # Deliveries not yet handed to the callback go back to their queues now.
            channel.stop_consuming()
        finally:
            self._consuming.clear()
            self._close(connection)

    def _on_cancelled(self, _method: object) -> None:
        self._cancelled = True

    @staticmethod
    def _close(connection: BlockingConnection) -> None:
        if not connection.is_open:
            return
        try:
            connection.close()
        except AMQPError as error:  # it was going away anyway; the broker requeues what we held
            log.debug("closing the ESB connection: %s", error)

    def _on_delivery(self, channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties,
                     body: bytes) -> None:
        tag = method.delivery_tag
        outcome = self._handle(channel.connection, body)
        if outcome is _Verdict.LEAVE:
            return
        if outcome is _Verdict.REQUEUE:
            if self._last_try(properties):
                # The broker dead-letters it on this nack: the sender hears of it first.
                self._give_up(channel, properties, body)
            channel.basic_nack(tag, requeue=True)
            self.requeued += 1
            return
        if properties.reply_to:
            reply = BasicProperties(correlation_id=properties.correlation_id, content_type=XML,
                                    delivery_mode=pika.DeliveryMode.Persistent)
            try:
                channel.basic_publish("", properties.reply_to, outcome, reply)
            except NackError:  # the broker could not take the reply: try the request again
                log.warning("the broker refused the reply to %s; the request is requeued", properties.correlation_id)
                channel.basic_nack(tag, requeue=True)
                self.requeued += 1
                return
        channel.basic_ack(tag)
        self.handled += 1

    def _last_try(self, properties: BasicProperties) -> bool:
        """Whether the broker dead-letters this delivery if it is returned once more.

        The queue's ``x-delivery-limit`` is ``max_tries - 1`` returns (:meth:`Topology.queue_arguments`);
        ``x-delivery-count`` is how many returns the broker counted so far.
        """
        headers = properties.headers or {}
        try:
            returns = int(headers.get(_DELIVERY_COUNT) or 0)
        except (TypeError, ValueError):
            return False
        return returns >= self.topology.max_tries - 1

    def _give_up(self, channel: BlockingChannel, properties: BasicProperties, body: bytes) -> None:
        """Answer FAILED (5.0) to a message about to be dead-lettered, if it says where to."""
        if not properties.reply_to:
            log.error("an ESB message (correlation id %s) is dead-lettered after %d tries; it asked for no reply",
                      properties.correlation_id, self.topology.max_tries)
            return
        try:
            reply = self._failed_reply(body)
        except Exception:  # a reply we cannot build must not keep the message from its dead-letter queue
            log.exception("cannot build the FAILED reply to a message about to be dead-lettered")
            return
        answer = BasicProperties(correlation_id=properties.correlation_id, content_type=XML,
                                 delivery_mode=pika.DeliveryMode.Persistent)
        try:
            channel.basic_publish("", properties.reply_to, reply, answer)
        except NackError:
            log.error("the broker refused the FAILED reply to %s; it is dead-lettered unanswered",
                      properties.correlation_id)
            return
        log.error("an ESB message (correlation id %s) is dead-lettered after %d tries; its sender got FAILED 5.0",
                  properties.correlation_id, self.topology.max_tries)

    def _failed_reply(self, body: bytes) -> bytes:
        """A schema-valid FAILED (5.0) ResponseMessage to ``body``, correlated with its MessageID if it has one."""
        codec = getattr(self.router, "codec", None)
        if not isinstance(codec, Codec):
            if self._codec is None:
                self._codec = Codec()
            codec = self._codec
        source = getattr(self.router, "source", None)
        noun = message_id = None
        try:
            header = codec.decode(body).header
        except Exception:  # noqa: BLE001 - what failed may be the decoding itself: answer without its header
            header = None
        if header is not None:
            noun, message_id = header.noun, header.message_id
        error = AdapterError(_GAVE_UP.format(tries=self.topology.max_tries))
        return codec.dump(env.reply_failed(error, noun=noun, source=source if isinstance(source, str) else "evgrid",
                                           correlation_id=message_id))

    def _handle(self, connection: BlockingConnection, body: bytes) -> bytes | _Verdict:
        """The router's reply; or what to do with a message it could not answer."""
        wait = self._first_wait
        while True:
            try:
                return self.router.handle(body, sender=self.sender, raise_unexpected=True)
            except Exception as error:  # the router passed it on (raise_unexpected) for us to decide
                if not self.transient(error):
                    log.exception("unexpected error while handling an ESB message; it goes back to its queue")
                    return _Verdict.REQUEUE
                if self._stopping.is_set():
                    return _Verdict.LEAVE
                # The first line only: SQLAlchemy appends the statement and its parameters.
                reason = (str(error) or type(error).__name__).splitlines()[0]
                log.warning("transient failure (%s); trying the message again in %.1f s", reason, wait)
                self.retries += 1
                self._pause(connection, wait)
                wait = min(wait * 2, self._longest_wait)

    def _pause(self, connection: BlockingConnection, seconds: float) -> None:
        # connection.sleep keeps answering heartbeats; inside a callback it dispatches
        # no other delivery (pika queues them), so the message in hand stays the only one.
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            connection.sleep(min(remaining, _POLL_S))


class AmqpRequester:
    """A client of the ESB binding: publish a request, wait for its reply.

    Replies come to an exclusive, auto-deleted queue of this requester. Not thread-safe:
    one requester per thread.

    Raises:
        UpstreamFault: the broker cannot be reached (on construction).
    """

    def __init__(self, url: str, *, prefix: str = "evgrid") -> None:
        self.topology = Topology(prefix)
        self._replies: dict[str, bytes] = {}
        self._waiting: set[str] = set()
        parameters = _parameters(url, f"evgrid-requester {prefix}")
        try:
            self._connection = BlockingConnection(parameters)
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            declared = self._channel.queue_declare("", exclusive=True, auto_delete=True)
            self.reply_queue: str = declared.method.queue
            self._channel.basic_consume(self.reply_queue, self._on_reply, auto_ack=True)
        except AMQPError as error:
            raise UpstreamFault(f"cannot reach the ESB at {_where(parameters)}: {error}") from error

    def __enter__(self) -> AmqpRequester:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (the reply queue goes with it)."""
        if self._connection.is_open:
            self._connection.close()

    def request(self, noun: str, body: bytes, timeout: float = 10.0) -> bytes:
        """Send one 61968-100 message for ``noun`` and return the reply's bytes.

        Raises:
            UpstreamFault: no queue takes ``noun``, the broker failed, or no reply came
                within ``timeout`` seconds (code 4.0).
        """
        return self.request_many([(noun, body)], timeout)[0]

    def request_many(self, items: Sequence[tuple[str, bytes]], timeout: float = 10.0) -> list[bytes]:
        """Send every ``(noun, body)`` before waiting, then return the replies in the same order.

        Raises:
            UpstreamFault: as :meth:`request`; on a timeout, replies that came are dropped.
        """
        ids = [uuid.uuid4().hex for _ in items]
        self._waiting.update(ids)
        try:
            for correlation_id, (noun, body) in zip(ids, items, strict=True):
                self._publish(noun, body, correlation_id)
            self._wait_for(ids, timeout)
            return [self._replies.pop(correlation_id) for correlation_id in ids]
        except AMQPError as error:
            raise UpstreamFault(f"ESB request failed: {error}") from error
        finally:
            self._waiting.difference_update(ids)
            for correlation_id in ids:
                self._replies.pop(correlation_id, None)

    def _publish(self, noun: str, body: bytes, correlation_id: str) -> None:
        properties = BasicProperties(reply_to=self.reply_queue, correlation_id=correlation_id, content_type=XML,
                                     delivery_mode=pika.DeliveryMode.Persistent)
        try:
            # mandatory: a noun without a queue is an error here, not a silent loss.
            self._channel.basic_publish(self.topology.exchange, noun, body, properties, mandatory=True)
        except UnroutableError as error:
            raise UpstreamFault(f"no ESB queue takes {noun!r} on exchange {self.topology.exchange}",
                                code="2.3") from error

    def _wait_for(self, ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while missing := sum(correlation_id not in self._replies for correlation_id in ids):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UpstreamFault(f"no reply to {missing} of {len(ids)} ESB request(s) within {timeout} s",
                                    code="4.0")
            self._connection.process_data_events(time_limit=min(remaining, _POLL_S))

    def _on_reply(self, _channel: BlockingChannel, _method: Basic.Deliver, properties: BasicProperties,
                  body: bytes) -> None:
        if properties.correlation_id in self._waiting:
            self._replies[properties.correlation_id] = body
        else:  # the answer to a request that timed out, or a second copy after a redelivery
            log.debug("dropped a reply nobody waits for (correlation id %s)", properties.correlation_id)
