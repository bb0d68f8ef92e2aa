"""A MessageID is bound to its message: the same message again gets the stored reply,
the MessageID on another message (another verb, noun or payload) is refused, 2.6, and
changes nothing (the security finding "a reused MessageID gets the first message's reply")."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.generated import meter_readings as mr
from evgrid.errors import MessageIdReused
from evgrid.messaging import router as router_module
from evgrid.messaging.router import Route, Router, message_digest
from tests.unit.messaging.test_router_inbound import (
    MSG,
    Journal,
    Recorder,
    request,
    result,
    router_with,
)

codec = Codec()


def reason(reply: bytes) -> str:
    return etree.fromstring(reply).findtext(f"{MSG}Reply/{MSG}Error/{MSG}reason") or ""


def readings(message_id: str) -> bytes:
    payload = mr.MeterReadings(meter_reading=[mr.MeterReading(meter=mr.Meter(m_rid="M-1"))])
    return codec.dump(env.event(env.Verb.CREATED, "MeterReadings", payload, source="portal", message_id=message_id))


def two_routes() -> tuple[Router, Journal, Recorder, Recorder]:
    """create ChargingRequest and created MeterReadings, each with a recorder."""
    requests, reads = Recorder(), Recorder()
    router, journal = router_with(requests)
    router.routes[(env.Verb.CREATED, "MeterReadings")] = Route(
        ns.qname(ns.METER_READINGS, "MeterReadings"), lambda element: element.tag, reads)
    return router, journal, requests, reads


def test_a_reused_message_id_with_another_noun_is_refused_not_answered_with_the_first_reply() -> None:
    router, journal, requests, reads = two_routes()
    first = router.handle(request("X-1"), sender="portal-1")
    assert result(first) == ("OK", None)
    stored = dict(journal.replies)
    reply = router.handle(readings("X-1"), sender="portal-1")
    assert reply != first
    assert result(reply) == ("FAILED", MessageIdReused.code)
    assert "X-1" in reason(reply) and "'created MeterReadings'" in reason(reply)
    assert "'create ChargingRequest'" in reason(reply)
    root = etree.fromstring(reply)
    assert root.findtext(f"{MSG}Header/{MSG}CorrelationID") == "X-1"
    assert root.findtext(f"{MSG}Header/{MSG}Noun") == "MeterReadings"
    assert reads.commands == [] and len(requests.commands) == 1
    assert journal.replies == stored  # nothing stored for the refusal: the first reply stays
    assert router.handle(request("X-1"), sender="portal-1") == first  # the first message still replays


def test_a_reused_message_id_with_another_payload_under_the_same_noun_is_refused() -> None:
    router, journal, requests, _reads = two_routes()
    first = router.handle(request("X-2"), sender="portal-1")
    other = request("X-2").replace(b"REQ-S-1001", b"REQ-S-2002")
    reply = router.handle(other, sender="portal-1")
    assert result(reply) == ("FAILED", "2.6") and "another payload" in reason(reply)
    assert requests.commands == [("bound", "REQ-S-1001")]
    assert journal.replies["X-2"][1] == first


def retried(data: bytes, timestamp: str = "2026-11-26T18:45:00Z") -> bytes:
    """The same message sent again by its client: a new Timestamp, a namespace declared that is not used."""
    data = re.sub(rb"<msg:Timestamp>[^<]*</msg:Timestamp>", f"<msg:Timestamp>{timestamp}</msg:Timestamp>".encode(),
                  data)
    return data.replace(b"<msg:RequestMessage ", b'<msg:RequestMessage xmlns:x="urn:unused" ', 1)


def test_an_identical_replay_gets_the_stored_reply_byte_for_byte_though_its_header_changed() -> None:
    router, _journal, requests, _reads = two_routes()
    first = router.handle(request("X-3"))
    retry = retried(request("X-3"))
    assert retry != request("X-3")
    assert router.handle(retry) == first
    assert len(requests.commands) == 1


def test_a_pre_routed_message_is_bound_to_the_same_digest_as_its_bytes() -> None:
    router, journal, requests, _reads = two_routes()
    inbound = codec.decode(request("X-4"))
    routed = router.route(inbound)  # the SOAP endpoint's authorization routes (and binds) first
    first = router.handle_inbound(inbound, sender="portal-1", routed=routed)
    assert journal.bound["X-4"] == ("create", "ChargingRequest", message_digest(codec.decode(request("X-4"))))
    assert router.handle(request("X-4"), sender="portal-1") == first
    assert len(requests.commands) == 1


def test_a_failed_message_s_id_is_refused_on_another_message_too() -> None:
    router, journal, _requests, _reads = two_routes()
    bad = request("X-5").replace(b"REQ-S-1001", b"R" * 63)  # an mRID too long: 2.6, remembered
    failed = router.handle(bad)
    assert result(failed) == ("FAILED", "2.6") and "X-5" in journal.replies
    assert router.handle(bad) == failed
    reply = router.handle(request("X-5"))
    assert reply != failed and "another payload" in reason(reply)
    unrouted = codec.dump(env.request(env.Verb.DELETE, "ChargingRequest", None, source="p", message_id="X-5"))
    assert "'delete ChargingRequest'" in reason(router.handle(unrouted))


def test_a_journal_entry_without_a_digest_matches_on_verb_and_noun() -> None:
    """Entries journaled before digests were kept (revision 0002 rows, old SQLite files)."""
    router, journal, requests, _reads = two_routes()
    journal.remember("OLD-1", "create", "ChargingRequest", "portal-1", b"<old-reply/>")
    assert router.handle(request("OLD-1"), sender="portal-1") == b"<old-reply/>"
    assert result(router.handle(readings("OLD-1"), sender="portal-1")) == ("FAILED", "2.6")
    assert requests.commands == []


def test_another_sender_is_still_refused_7_0_before_anything_about_the_message_is_said() -> None:
    router, _journal, _requests, _reads = two_routes()
    router.handle(request("X-6"), sender="portal-1")
    reply = router.handle(readings("X-6"), sender="portal-2")
    assert result(reply) == ("FAILED", "7.0") and "ChargingRequest" not in reason(reply)


def test_the_digest_covers_verb_noun_and_payload_not_the_header() -> None:
    data = request("D-1")
    digest = message_digest(codec.decode(data))
    assert message_digest(codec.decode(retried(data))) == digest
    assert message_digest(codec.decode(request("D-2"))) == digest  # another MessageID, the same message
    assert message_digest(codec.decode(data.replace(b"24000", b"24001"))) != digest
    assert message_digest(codec.decode(data.replace(b"<msg:Verb>create<", b"<msg:Verb>change<"))) != digest


def test_binding_leaves_the_payload_as_it_came() -> None:
    router, _journal, _requests, _reads = two_routes()
    inbound = codec.decode(request())
    before = etree.tostring(inbound.payload)
    router.route(inbound)
    assert etree.tostring(inbound.payload) == before


def test_without_a_journal_nothing_is_digested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(router_module, "message_digest", lambda inbound: pytest.fail("digested without a journal"))
    router = Router(two_routes()[0].routes, codec=codec)
    assert result(router.handle(request("N-1")))[0] == "OK"
