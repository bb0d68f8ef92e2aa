"""Bad input gets a schema-valid FAILED reply with the right code, quickly, and no traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree

from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec, Header
from evgrid.mappings import catalog, examples
from evgrid.messaging.router import Outcome, Route, Router

MSG = ns.MESSAGE
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "messages"


def _request(payload: str, noun: str = "ChargingRequest", verb: str = "create") -> bytes:
    return (
        f'<msg:RequestMessage xmlns:msg="{MSG}"><msg:Header><msg:Verb>{verb}</msg:Verb>'
        f"<msg:Noun>{noun}</msg:Noun><msg:MessageID>m-1</msg:MessageID></msg:Header>"
        f"<msg:Payload>{payload}</msg:Payload></msg:RequestMessage>"
    ).encode()


def _valid_request() -> bytes:
    return Codec().dump(examples.example_message(catalog.step("1.1.2")))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<msg:RequestMessage xmlns:msg="http://iec.ch/TC57/2011/schema/message"><msg:Header>
<msg:Verb>create</msg:Verb><msg:Noun>&x;</msg:Noun></msg:Header></msg:RequestMessage>"""
UTF16_DTD = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>'.encode("utf-16")
NO_ROUTE = object()


def _handled(command: object, header: Header, uow: object) -> Outcome:
    return Outcome(noun=header.noun)


@pytest.fixture(scope="module")
def router() -> Router:
    routes = {(env.Verb.CREATE, "ChargingRequest"): Route(
        payload=ns.qname(ns.EV_CHARGING, "ChargingRequest"), bind=lambda element: element,
        handle=_handled)}
    return Router(routes, codec=Codec(max_bytes=1024 * 1024))


@pytest.fixture(scope="module")
def reference_envelope(reference_dir: Path) -> etree.XMLSchema:
    return etree.XMLSchema(file=str(reference_dir / "iec61968-100/Message.xsd"))


CASES = {
    "malformed": (b"<msg:RequestMessage xmlns:msg='x'><unclosed>", "2.1", "not well-formed"),
    "not_xml": (b"\x00\x01binary", "2.1", "not well-formed"),
    "empty": (b"", "2.1", "not well-formed"),
    "dtd_entity_bomb": (BILLION_LAUGHS, "7.2", "DTD"),
    "external_entity": (XXE, "7.2", "DTD"),
    "utf16_dtd": (UTF16_DTD, "7.2", "DTD"),
    "oversize": (_request("<x/>" * 300_000), "3.1", "exceeds the limit"),
    "too_deep": (_request("<a xmlns='urn:x'>" * 300 + "</a>" * 300), "3.2", "deeper than"),
    "wrong_namespace": (b"<RequestMessage xmlns='urn:not:61968'/>", "2.3", "unknown message namespace"),
    "unknown_noun": (_request("", noun="Spaceship"), "2.3", "no operation 'create Spaceship'"),
    "schema_invalid_payload": (
        _request(f'<ev:ChargingRequest xmlns:ev="{ns.EV_CHARGING}"><ev:mRID>r</ev:mRID></ev:ChargingRequest>'),
        "2.4", "createdDateTime"),
    "invalid_verb": (_request("", verb="explode"), "2.4", "does not validate"),
    "invalid_verb_in_noun_wrapper": (
        (FIXTURES / "EndDeviceEvents_created_invalid_verb.xml").read_bytes(), "2.4", "does not validate"),
    "foreign_payload": (_request('<x:Thing xmlns:x="urn:elsewhere"/>'), "2.3", "does not match noun"),
    "missing_payload": (_request("").replace(b"<msg:Payload></msg:Payload>", b""), "1.0", "needs a payload"),
    "response_instead_of_request": (
        Codec().dump(env.reply_ok("ChargingRequest", source="x", correlation_id="y")), "2.3",
        "only request and event"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_gets_failed_reply(name: str, router: Router, reference_envelope: etree.XMLSchema) -> None:
    data, code, reason = CASES[name]
    started = time.monotonic()
    answer = router.handle(data)
    elapsed = time.monotonic() - started

    reply = router.codec.decode(answer)  # the reply itself is schema-valid
    assert reference_envelope.validate(etree.fromstring(answer)), reference_envelope.error_log
    assert reply.result == "FAILED"
    assert reply.root.findtext(f"{{{MSG}}}Reply/{{{MSG}}}Error/{{{MSG}}}code") == code
    assert reason in reply.root.findtext(f"{{{MSG}}}Reply/{{{MSG}}}Error/{{{MSG}}}reason")
    assert b"Traceback" not in answer
    assert elapsed < 5, f"{name} took {elapsed:.1f} s"  # a generous bound: it must not hang


def test_failed_reply_correlates_with_the_request(router: Router) -> None:
    answer = router.codec.decode(router.handle(_request("", noun="Spaceship")))
    assert answer.header is not None and answer.header.correlation_id == "m-1"
    assert answer.header.noun == "Spaceship"


def test_valid_request_is_answered_ok(router: Router) -> None:
    answer = router.codec.decode(router.handle(_valid_request()))
    assert answer.result == "OK"
    assert answer.header is not None and answer.header.correlation_id == "MSG-1.1.2"


def test_soap_envelope_is_unwrapped(router: Router) -> None:
    inner = _valid_request().split(b"?>", 1)[1]
    soap = (f'<soap:Envelope xmlns:soap="{ns.SOAP11}"><soap:Body>'.encode() + inner
            + b"</soap:Body></soap:Envelope>")
    assert router.codec.decode(router.handle(soap)).result == "OK"


def test_unexpected_handler_error_is_a_generic_failed_reply(caplog: pytest.LogCaptureFixture) -> None:
    def broken(command: object, header: Header, uow: object) -> Outcome:
        raise RuntimeError("database password is hunter2")

    routes = {(env.Verb.CREATE, "ChargingRequest"): Route(
        payload=ns.qname(ns.EV_CHARGING, "ChargingRequest"), bind=lambda e: e, handle=broken)}
    answer = Router(routes).handle(_valid_request())
    assert b"<msg:code>5.0</msg:code>" in answer
    assert b"hunter2" not in answer
    assert "hunter2" in caplog.text  # logged for the operator, with its traceback


def test_size_and_depth_limits_are_configurable() -> None:
    data = _valid_request()
    with pytest.raises(Exception, match="exceeds the limit"):
        Codec(max_bytes=len(data) - 1).parse(data)
    with pytest.raises(Exception, match="deeper than 3"):
        Codec(max_depth=3).parse(data)
    Codec(max_bytes=len(data), max_depth=8).parse(data)


def test_a_store_outage_is_answered_as_one_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    class Outage(Exception):
        pass

    def down(command: object, header: Header, uow: object) -> Outcome:
        raise Outage("could not connect to db.example.net:5432")

    routes = {(env.Verb.CREATE, "ChargingRequest"): Route(
        payload=ns.qname(ns.EV_CHARGING, "ChargingRequest"), bind=lambda e: e, handle=down)}
    answer = Router(routes, unavailable=lambda error: isinstance(error, Outage)).handle(_valid_request())
    assert b"<msg:code>5.0</msg:code>" in answer and b"the database is unavailable" in answer
    assert b"db.example.net" not in answer
    assert "Traceback" not in caplog.text and "database is unavailable" in caplog.text


def test_a_message_id_longer_than_the_store_keeps_is_refused_as_bad_input(router: Router) -> None:
    data = _valid_request().replace(b"MSG-1.1.2", b"M" * 129)
    answer = router.codec.decode(router.handle(data))
    assert answer.result == "FAILED"
    assert answer.root.findtext(f"{{{MSG}}}Reply/{{{MSG}}}Error/{{{MSG}}}code") == "2.6"
