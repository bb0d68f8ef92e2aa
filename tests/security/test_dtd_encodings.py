"""A DTD in any encoding, over the real SOAP server and over AMQP: refused as 7.2, never 5.0.

The finding: a DOCTYPE in UTF-16 without a byte-order mark got past the DTD check; its
entity reached schema validation, which raised (SOAP: Fault Server 5.0 and a logged
traceback; AMQP: five tracebacks and the dead-letter queue, no reply). Here every
encoding (UTF-8, UTF-16 and UTF-32 in both byte orders, UTF-7) with and without a
byte-order mark, with and without an XML declaration, carries a DOCTYPE: SOAP answers the
documented Fault Client with 61968-100 code 7.2 (HTTP 500, as for the UTF-8 XXE in
test_soap_server), AMQP answers FAILED 7.2 under the request's correlation id; nothing
is stored or dead-lettered, nothing is logged with a traceback, and a normal request is
answered OK afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from evgrid.adapters.store import models as m
from evgrid.apps.evos.system import OperationSystem
from tests.integration import test_amqp as amqp
from tests.integration.test_amqp import Broker, binding, broker, wait_until  # noqa: F401  (fixture)
from tests.integration.test_operation_system import request_message
from tests.integration.test_soap_server import (  # noqa: F401  (fixtures)
    answer,
    app,
    base,
    count,
    credentials,
    evos,
    home_request,
    nothing_stored,
    post,
)
from tests.unit.adapters.store.conftest import examples, store_url  # noqa: F401  (fixtures)
from tests.unit.cim.test_codec_encodings import ENCODINGS  # Python's name, BOM, declared name

sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
NOUN = b"<msg:Noun>ChargingRequest</msg:Noun>"
ENTITY_NOUN = b"<msg:Noun>&n;</msg:Noun>"
DOCTYPES = {
    "internal_entity": ('<!DOCTYPE r [<!ENTITY n "ChargingRequest">]>', True),
    "bare_doctype": ("<!DOCTYPE r>", False),
}


def _without_declaration(message: bytes) -> str:
    text = message.decode()
    return text.split("?>", 1)[1].lstrip() if text.startswith("<?xml") else text


def hostile(message: bytes, encoding: str, *, bom: bool, declared: bool, doctype: str) -> bytes:
    """``message`` with a DOCTYPE (its entity in the Noun, if it declares one), encoded."""
    dtd, uses_entity = DOCTYPES[doctype]
    body = message.replace(NOUN, ENTITY_NOUN) if uses_entity else message
    assert body != message or not uses_entity
    text = dtd + _without_declaration(body)
    if encoding == "utf7":  # ASCII bytes, but no "<!DOCTYPE" in them
        return (b'<?xml version="1.0" encoding="UTF-7"?>'
                + text.encode("utf-7").replace(b"<!", b"<+ACE-").replace(b"&", b"+ACY-"))
    python, mark, name = ENCODINGS[encoding]
    declaration = f'<?xml version="1.0" encoding="{name}"?>' if declared else ""
    return (mark if bom else b"") + (declaration + text).encode(python)


def variants(message: bytes, encoding: str) -> dict[str, bytes]:
    if encoding == "utf7":
        return {f"utf7-declared-{d}": hostile(message, "utf7", bom=False, declared=True, doctype=d) for d in DOCTYPES}
    return {f"{encoding}-{'bom' if bom else 'nobom'}-{'declared' if declared else 'undeclared'}-{d}":
            hostile(message, encoding, bom=bom, declared=declared, doctype=d)
            for bom in (True, False) for declared in (True, False) for d in DOCTYPES}


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO):
        yield caplog
    logged = [record.getMessage() for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]
    assert logged == [] and "Traceback" not in caplog.text


# ------------------------------------------------------------------------------- SOAP
@sqlite_only
@pytest.mark.parametrize("encoding", [*ENCODINGS, "utf7"])
def test_soap_answers_a_dtd_in_any_encoding_with_fault_client_7_2(
        base: str, evos: OperationSystem, encoding: str, no_tracebacks: pytest.LogCaptureFixture) -> None:  # noqa: F811
    got = {}
    for name, body in variants(home_request(), encoding).items():
        response = post(base, body)
        reply = answer(response)
        got[name] = (reply.status, reply.result, reply.code, reply.root.findtext("faultcode"))
        assert b"Traceback" not in response.content, name
    assert got == {name: (500, "FAULT", "7.2", "soapenv:Client") for name in got}
    assert nothing_stored(evos)
    assert answer(post(base, home_request())).result == "OK"
    assert count(evos, m.ChargingSession) == 1


# ------------------------------------------------------------------------------- AMQP
@pytest.mark.amqp
@sqlite_only
@pytest.mark.parametrize("encoding", [*ENCODINGS, "utf7"])
def test_amqp_answers_a_dtd_in_any_encoding_failed_7_2_and_dead_letters_nothing(
        evos: OperationSystem, broker: Broker, amqp_url: str, encoding: str,  # noqa: F811
        no_tracebacks: pytest.LogCaptureFixture) -> None:
    message = request_message(*amqp.HOME, message_id="D-1")
    bodies = variants(message, encoding)
    esb = binding(evos.router, amqp_url, broker)
    replies = broker.channel.queue_declare("", exclusive=True).method.queue
    with esb.running():
        for name, body in bodies.items():
            broker.publish("ChargingRequest", body, reply_to=replies, correlation_id=name)
        wait_until(lambda: broker.depth(replies) >= len(bodies), "a reply to every hostile message")
        got = {}
        for _ in bodies:
            _method, properties, reply = broker.channel.basic_get(replies, auto_ack=True)
            got[properties.correlation_id] = amqp.answer(reply)[:2]
        assert got == {name: ("FAILED", "7.2") for name in bodies}
        assert (esb.handled, esb.requeued) == (len(bodies), 0)
        # and the binding still serves: a normal request gets OK
        broker.publish("ChargingRequest", message, reply_to=replies, correlation_id="normal")
        wait_until(lambda: broker.depth(replies) == 1, "the reply to a normal request")
        _method, properties, reply = broker.channel.basic_get(replies, auto_ack=True)
        assert properties.correlation_id == "normal" and amqp.answer(reply) == ("OK", None, "D-1")
    assert broker.depth(broker.topology.dead_letter_queue) == 0 and broker.nonempty() == {}
    assert count(evos, m.ChargingSession) == 1 and count(evos, m.InboundMessage) == 1


def test_the_variants_carry_no_ascii_doctype_where_the_finding_hid_it() -> None:
    # The table really covers the finding: BOM-less UTF-16 with no "<!DOCTYPE" bytes in it.
    body = variants(home_request(), "utf16le")["utf16le-nobom-declared-internal_entity"]
    assert body.startswith(b"<\x00?\x00") and b"<!DOCTYPE" not in body and b"<!ENTITY" not in body
