"""The ESB's names and queue arguments, and what declaring sends, without a broker;
and the store's classifier of transient errors, which decides retry-in-place."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError, ProgrammingError

from evgrid.adapters.esb.topology import Topology
from evgrid.adapters.store.database import unavailable
from evgrid.errors import StoreError


class RecordingChannel:
    """Records the declarations it is asked for, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))
        return record


def test_names_follow_the_prefix() -> None:
    topology = Topology("evgrid", nouns=("ChargingRequest", "MeterReadings"))
    assert topology.exchange == "evgrid.requests"
    assert topology.dead_letter_exchange == topology.dead_letter_queue == "evgrid.dead-letter"
    assert topology.queue("ChargingRequest") == "evgrid.request.ChargingRequest"
    assert topology.queues() == ("evgrid.request.ChargingRequest", "evgrid.request.MeterReadings")
    assert Topology("site-7").exchange == "site-7.requests"


def test_defaults() -> None:
    assert Topology() == Topology("evgrid", 5, ())


@pytest.mark.parametrize(("max_tries", "limit"), [(1, 0), (5, 4), (20, 19)])
def test_request_queues_are_quorum_queues_that_dead_letter_after_max_tries(max_tries: int, limit: int) -> None:
    # RabbitMQ dead-letters on the return that exceeds the limit: limit + 1 deliveries.
    assert Topology("p", max_tries).queue_arguments() == {
        "x-queue-type": "quorum", "x-delivery-limit": limit, "x-dead-letter-exchange": "p.dead-letter"}


def test_declare_sends_durable_exchanges_queues_and_bindings() -> None:
    channel = RecordingChannel()
    topology = Topology("p", 3, ("ChargingRequest", "BillingInformation"))
    topology.declare(channel)
    arguments = topology.queue_arguments()
    assert channel.calls == [
        ("exchange_declare", ("p.dead-letter", "fanout"), {"durable": True}),
        ("queue_declare", ("p.dead-letter",), {"durable": True, "arguments": {"x-queue-type": "quorum"}}),
        ("queue_bind", ("p.dead-letter", "p.dead-letter"), {"routing_key": ""}),
        ("exchange_declare", ("p.requests", "direct"), {"durable": True}),
        ("queue_declare", ("p.request.ChargingRequest",), {"durable": True, "arguments": arguments}),
        ("queue_bind", ("p.request.ChargingRequest", "p.requests"), {"routing_key": "ChargingRequest"}),
        ("queue_declare", ("p.request.BillingInformation",), {"durable": True, "arguments": arguments}),
        ("queue_bind", ("p.request.BillingInformation", "p.requests"), {"routing_key": "BillingInformation"}),
    ]


def test_delete_removes_every_queue_and_exchange() -> None:
    channel = RecordingChannel()
    Topology("p", nouns=("MeterReadings",)).delete(channel)
    assert [(name, args) for name, args, _ in channel.calls] == [
        ("queue_delete", ("p.request.MeterReadings",)), ("queue_delete", ("p.dead-letter",)),
        ("exchange_delete", ("p.requests",)), ("exchange_delete", ("p.dead-letter",))]


@pytest.mark.parametrize("options", [
    {"prefix": ""}, {"prefix": "has space"}, {"prefix": ".starts-with-a-dot"},
    {"max_tries": 0}, {"nouns": ("Meter.Readings",)}, {"nouns": ("",)}, {"nouns": ("a/b",)},
], ids=["empty_prefix", "space", "dot_first", "no_tries", "dotted_noun", "empty_noun", "slash"])
def test_unusable_names_and_limits_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unusable|max_tries"):
        Topology(**options)


# ----------------------------------------------- transient: retry in place, do not count
def _wrapped(driver_error: Exception, cls: type = OperationalError) -> Exception:
    return cls("SELECT 1", {}, driver_error)


@pytest.mark.parametrize(("error", "transient"), [
    (_wrapped(Exception("connection refused")), True),
    (_wrapped(sqlite3.OperationalError("database is locked")), True),
    (_wrapped(sqlite3.OperationalError("unable to open database file")), True),
    (_wrapped(sqlite3.OperationalError("no such table: inbound_message")), False),
    (_wrapped(Exception("server closed the connection"), InterfaceError), True),
    (DisconnectionError("gone"), True),
    (_wrapped(Exception("duplicate key"), IntegrityError), False),
    (_wrapped(Exception("syntax error"), ProgrammingError), False),
    (RuntimeError("a bug"), False),
    (ValueError("bad"), False),
], ids=["refused", "sqlite_locked", "sqlite_missing_file", "sqlite_no_table", "interface", "disconnection",
        "integrity", "programming", "runtime", "value"])
def test_unavailable_tells_a_database_that_is_away_from_a_bug(error: Exception, transient: bool) -> None:
    assert unavailable(error) is transient


def test_unavailable_looks_through_wrapping() -> None:
    try:
        try:
            raise _wrapped(Exception("terminating connection due to administrator command"))
        except OperationalError as cause:
            raise StoreError("database error: terminating connection") from cause
    except StoreError as wrapped:
        assert unavailable(wrapped)
    try:
        try:
            raise _wrapped(Exception("connection refused"))
        except OperationalError:
            raise RuntimeError("while handling") from None  # explicitly unchained: a new error
    except RuntimeError as unrelated:
        assert not unavailable(unrelated)


def test_unavailable_knows_psycopg_errors() -> None:
    psycopg = pytest.importorskip("psycopg")
    assert unavailable(psycopg.OperationalError("connection failed"))
    assert unavailable(psycopg.errors.SerializationFailure("could not serialize access"))
    assert not unavailable(psycopg.errors.UniqueViolation("duplicate key"))
