"""The ESB's names on the broker: one exchange, one queue per noun, a dead-letter queue.

Requests (61968-100 RequestMessage / EventMessage) are published to the direct exchange
``{prefix}.requests`` with the noun as routing key; each noun has its own durable queue
``{prefix}.request.{Noun}``, so a slow or stuck noun never holds back the others.

The request queues are quorum queues: replicated, and they count deliveries. A message
returned to its queue (``basic.nack`` with requeue, or the consumer's connection lost
while it held the message) is delivered again until it has been delivered
``max_tries`` times; then the broker moves it to the fanout exchange
``{prefix}.dead-letter`` and its queue. So a message that always fails, or that crashes
the worker each time, is set aside after a bounded number of tries and never blocks its
queue.

This module only names and declares; it does not import the AMQP client: ``declare``
takes any channel with pika's ``exchange_declare`` / ``queue_declare`` / ``queue_bind``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

QUORUM = "quorum"
# Queue and exchange names are built from these: keep them plain (no spaces; no dots in
# a noun, so that a noun can never name another prefix's queue).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class Channel(Protocol):
    """What declaring needs of a channel (pika's ``BlockingChannel`` has it)."""

    def exchange_declare(self, exchange: str, exchange_type: Any = ..., *, durable: bool = ...) -> Any: ...

    def exchange_delete(self, exchange: str | None = ...) -> Any: ...

    def queue_declare(self, queue: str, *, durable: bool = ..., arguments: dict[str, Any] | None = ...) -> Any: ...

    def queue_bind(self, queue: str, exchange: str, routing_key: str | None = ...) -> Any: ...

    def queue_delete(self, queue: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Topology:
    """The exchanges and queues of one ESB binding, named after ``prefix``.

    Args:
        prefix: the first part of every name (one per deployment or test).
        max_tries: how many times a request is delivered before it is dead-lettered.
        nouns: the nouns that get a request queue.
    """

    prefix: str = "evgrid"
    max_tries: int = 5
    nouns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse names that would not be plain AMQP names, and a limit below one try."""
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(f"unusable ESB prefix {self.prefix!r}")
        if self.max_tries < 1:
            raise ValueError(f"max_tries must be at least 1, not {self.max_tries}")
        for noun in self.nouns:
            if not _NAME.fullmatch(noun):
                raise ValueError(f"unusable noun {noun!r} for a queue name")

    @property
    def exchange(self) -> str:
        """The direct exchange requests are published to (routing key: the noun)."""
        return f"{self.prefix}.requests"

    @property
    def dead_letter_exchange(self) -> str:
        """The fanout exchange the request queues dead-letter to."""
        return f"{self.prefix}.dead-letter"

    @property
    def dead_letter_queue(self) -> str:
        """The queue holding dead-lettered requests, for an operator to look at."""
        return f"{self.prefix}.dead-letter"

    def queue(self, noun: str) -> str:
        """The request queue of ``noun``."""
        return f"{self.prefix}.request.{noun}"

    def queues(self) -> tuple[str, ...]:
        """Every request queue, in the order of ``nouns``."""
        return tuple(self.queue(noun) for noun in self.nouns)

    def queue_arguments(self) -> dict[str, Any]:
        """The arguments of every request queue.

        RabbitMQ dead-letters a quorum queue message when it has been *returned* more
        than ``x-delivery-limit`` times, i.e. on the failure of delivery limit + 1 (tried
        with RabbitMQ 3.10): hence ``max_tries - 1``, for exactly ``max_tries``
        deliveries. A connection lost while the message was held counts as a return.
        """
        return {
            "x-queue-type": QUORUM,
            "x-delivery-limit": self.max_tries - 1,
            "x-dead-letter-exchange": self.dead_letter_exchange,
        }

    def declare(self, channel: Channel) -> None:
        """Declare the exchanges and queues and bind them; declaring again changes nothing.

        A queue that exists with other arguments (another ``max_tries``) makes the broker
        close the channel (PRECONDITION_FAILED): delete it first to change them.
        """
        channel.exchange_declare(self.dead_letter_exchange, "fanout", durable=True)
        channel.queue_declare(self.dead_letter_queue, durable=True, arguments={"x-queue-type": QUORUM})
        channel.queue_bind(self.dead_letter_queue, self.dead_letter_exchange, routing_key="")
        channel.exchange_declare(self.exchange, "direct", durable=True)
        arguments = self.queue_arguments()
        for noun in self.nouns:
            channel.queue_declare(self.queue(noun), durable=True, arguments=arguments)
            channel.queue_bind(self.queue(noun), self.exchange, routing_key=noun)

    def delete(self, channel: Channel) -> None:
        """Delete every queue and exchange of this topology, with the messages in them."""
        for queue in (*self.queues(), self.dead_letter_queue):
            channel.queue_delete(queue)
        channel.exchange_delete(self.exchange)
        channel.exchange_delete(self.dead_letter_exchange)
