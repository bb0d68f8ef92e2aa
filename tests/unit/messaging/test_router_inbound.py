"""Router.handle_inbound: a message the transport decoded is routed, bound and answered once,
exactly as Router.handle answers its bytes (replies, journal, errors)."""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any, TypeVar

import pytest
from lxml import etree

from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec, Header
from evgrid.cim.generated import ev_charging as ev
from evgrid.errors import InvalidParameter
from evgrid.mappings import catalog, examples
from evgrid.messaging.router import Outcome, Route, Routed, Router
from tests.codecs import CountingCodec

T = TypeVar("T")
MSG = f"{{{ns.MESSAGE}}}"


class Journal:
    """The inbound journal of a unit of work: MessageID -> (sender, reply), and the message it is bound to."""

    def __init__(self) -> None:
        self.replies: dict[str, tuple[str | None, bytes]] = {}
        self.bound: dict[str, tuple[str, str, str | None]] = {}  # MessageID -> (verb, noun, digest)

    def reply_for(self, message_id: str) -> tuple[str | None, bytes, str, str, str | None] | None:
        if message_id not in self.replies:
            return None
        return (*self.replies[message_id], *self.bound[message_id])

    def remember(self, message_id: str, verb: str, noun: str, source: str | None, reply: bytes,
                 digest: str | None = None) -> None:
        self.replies[message_id] = (source, reply)
        self.bound[message_id] = (verb, noun, digest)


class JournalingUnitOfWork:
    def __init__(self, journal: Journal) -> None:
        self.inbound = journal

    def __enter__(self) -> JournalingUnitOfWork:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def commit(self) -> None:
        return None


class Recorder:
    """A route's handler: records the commands it is given."""

    def __init__(self) -> None:
        self.commands: list[Any] = []

    def __call__(self, command: Any, header: Header, uow: Any) -> Outcome:
        self.commands.append(command)
        return Outcome(noun=header.noun)


def router_with(handler: Any, codec: Codec | None = None) -> tuple[Router, Journal]:
    journal = Journal()
    routes = {(env.Verb.CREATE, "ChargingRequest"): Route(
        ns.qname(ns.EV_CHARGING, "ChargingRequest"), lambda request: ("bound", request.m_rid), handler,
        ev.ChargingRequest)}
    return Router(routes, codec=codec or Codec(), source="test",
                  unit_of_work=lambda: JournalingUnitOfWork(journal)), journal  # type: ignore[arg-type,return-value]


def request(message_id: str = "MSG-1.1.2") -> bytes:
    return Codec().dump(examples.example_message(catalog.step("1.1.2"))).replace(b"MSG-1.1.2", message_id.encode())


def comparable(reply: bytes) -> bytes:
    """The reply without what is new in every reply: its Header's Timestamp and MessageID."""
    return re.sub(rb"<msg:(Timestamp|MessageID)>[^<]*</msg:(Timestamp|MessageID)>", b"", reply)


def result(reply: bytes) -> tuple[str | None, str | None]:
    root = etree.fromstring(reply)
    return root.findtext(f"{MSG}Reply/{MSG}Result"), root.findtext(f"{MSG}Reply/{MSG}Error/{MSG}code")


def test_handle_decodes_validates_and_binds_once() -> None:
    counting = CountingCodec()
    router, _journal = router_with(Recorder(), counting)
    assert result(router.handle(request()))[0] == "OK"
    assert counting.calls == {"decode": 1, "parse": 1, "validate": 1, "bind": 1}


def test_a_decoded_message_is_answered_as_its_bytes_are_and_never_decoded_again() -> None:
    counting = CountingCodec()
    by_bytes, _ = router_with(Recorder())
    by_inbound, _ = router_with(Recorder(), counting)
    inbound = Codec().decode(request())
    assert comparable(by_inbound.handle_inbound(inbound)) == comparable(by_bytes.handle(request()))
    assert counting.calls == {"bind": 1}


def test_the_routed_command_is_the_one_handled_and_is_not_bound_again() -> None:
    counting, handler = CountingCodec(), Recorder()
    router, _journal = router_with(handler, counting)
    inbound = counting.decode(request())
    routed = router.route(inbound)
    assert isinstance(routed, Routed) and routed.command == ("bound", "REQ-S-1001")
    counting.calls.clear()
    assert result(router.handle_inbound(inbound, sender="portal-1", routed=routed))[0] == "OK"
    assert handler.commands == [routed.command] and handler.commands[0] is routed.command
    assert counting.calls == {}


def refuse(command: Any, header: Header, uow: Any) -> Outcome:
    raise InvalidParameter("departure before arrival")


@pytest.mark.parametrize(("data", "handler", "kept"), [
    (request("M" * 129), Recorder(), False),  # a MessageID too long to keep: 2.6, not remembered
    (request("L-1").replace(b"REQ-S-1001", b"R" * 63), Recorder(), True),  # an mRID too long: 2.6, remembered
    (request("H-1"), refuse, True),  # the handler refuses: remembered
], ids=["long_message_id", "long_mrid", "handler_refuses"])
def test_a_failure_is_answered_and_journaled_as_by_handle(data: bytes, handler: Any, kept: bool) -> None:
    by_bytes, bytes_journal = router_with(handler)
    by_inbound, inbound_journal = router_with(handler)
    reply = by_inbound.handle_inbound(Codec().decode(data), sender="portal-1")
    assert comparable(reply) == comparable(by_bytes.handle(data, sender="portal-1"))
    assert result(reply) == ("FAILED", "2.6")
    assert ({k: (who, comparable(r)) for k, (who, r) in inbound_journal.replies.items()}
            == {k: (who, comparable(r)) for k, (who, r) in bytes_journal.replies.items()})
    assert bool(inbound_journal.replies) is kept


def test_a_replayed_message_id_gets_its_stored_reply_only_for_its_sender() -> None:
    handler = Recorder()
    router, journal = router_with(handler)
    first = router.handle_inbound(Codec().decode(request("R-1")), sender="portal-1")
    assert result(first)[0] == "OK" and journal.replies["R-1"][0] == "portal-1"
    assert router.handle_inbound(Codec().decode(request("R-1")), sender="portal-1") == first
    assert result(router.handle_inbound(Codec().decode(request("R-1")), sender="portal-2")) == ("FAILED", "7.0")
    assert len(handler.commands) == 1


def test_an_unexpected_error_is_answered_5_0_or_raised_for_the_binding(caplog: pytest.LogCaptureFixture) -> None:
    class Outage(Exception):
        pass

    def down(command: Any, header: Header, uow: Any) -> Outcome:
        raise Outage("could not connect")

    router, journal = router_with(down)
    router.unavailable = lambda error: isinstance(error, Outage)
    inbound = Codec().decode(request())
    assert result(router.handle_inbound(inbound)) == ("FAILED", "5.0")
    assert "database is unavailable" in caplog.text and journal.replies == {}
    with pytest.raises(Outage):  # binding empties the payload element: a message is routed once
        router.handle_inbound(Codec().decode(request()), raise_unexpected=True)
