"""The SOAP server on loopback in front of the operation system on SQLite: WSDL, both
credentials, site binding, hostile and broken input, size limit, replays, concurrency,
TLS (and mutual TLS) with the demo certificates. Raw requests with httpx, one real zeep
client."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, TypeVar

import httpx
import pytest
import zeep
from lxml import etree
from sqlalchemy import func, select
from zeep.wsse.username import UsernameToken

from evgrid.adapters.soap import wire
from evgrid.adapters.soap.evos import evos_endpoint
from evgrid.adapters.soap.runner import SoapServer
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind, hash_password
from evgrid.adapters.soap.server import SoapApp, make_app, serve_in_thread
from evgrid.adapters.soap.tls import DemoPki, client_context, create_demo_pki
from evgrid.adapters.store import models as m
from evgrid.apps.evos.system import OperationSystem, operation_system
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.scheduler.partitions import RollingHorizon
from tests.codecs import CountingCodec
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import NIGHT, Clock, event_message, register, request_message

# The SOAP layer does not depend on the database: SQLite only.
pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

SERVICE = "/EVOperationSystem"
ACTION = "http://iec.ch/TC57/2011/ChargingRequest/CreateChargingRequest"
SOAP_XML = "text/xml; charset=utf-8"
MSG = f"{{{ns.MESSAGE}}}"
PORTAL = ("portal-1001", "s3cret-1001")
OTHER_PORTAL = ("portal-1003", "s3cret-1003")
BILLING = ("billing", "s3cret-billing")
UTILITY = ("utility", "s3cret-utility")
HASHED = ("from-file", "s3cret-hashed")
MIB = 1024 * 1024
T = TypeVar("T")
codec = Codec()


class Answer(NamedTuple):
    status: int
    result: str  # OK / PARTIAL / FAILED, or FAULT
    code: str | None
    root: etree._Element


@pytest.fixture(scope="module")
def credentials() -> Credentials:
    store = Credentials()
    store.add(Principal(PORTAL[0], PrincipalKind.PORTAL, "C-1001", "UP-1001"), PORTAL[1])
    store.add(Principal(OTHER_PORTAL[0], PrincipalKind.PORTAL, "C-1003", "UP-1003"), OTHER_PORTAL[1])
    store.add(Principal(BILLING[0], PrincipalKind.BILLING), BILLING[1])
    store.add(Principal(UTILITY[0], PrincipalKind.UTILITY), UTILITY[1])
    store.add_hashed(Principal(HASHED[0], PrincipalKind.UTILITY), hash_password(HASHED[1]))
    return store


@pytest.fixture
def evos(store_url: str, examples: Path) -> Iterator[OperationSystem]:
    seed_store(store_url, examples)
    system = operation_system(store_url, horizon=RollingHorizon(NIGHT), clock=Clock())
    yield system
    system.close()


@pytest.fixture
def app(evos: OperationSystem, credentials: Credentials) -> SoapApp:
    return make_app([evos_endpoint(evos)], credentials)


@pytest.fixture
def base(app: SoapApp) -> Iterator[str]:
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    return create_demo_pki(tmp_path_factory.mktemp("pki"))


def answer(response: httpx.Response) -> Answer:
    root = etree.fromstring(response.content)
    assert root.tag == wire.ENVELOPE
    (content,) = root.find(ns.qname(ns.SOAP11, "Body"))
    if content.tag == ns.qname(ns.SOAP11, "Fault"):
        assert response.status_code == 500
        return Answer(500, "FAULT", content.findtext(f"detail/{MSG}FaultMessage/{MSG}Reply/{MSG}Error/{MSG}code"),
                      content)
    codec.validate(content)  # every reply is schema-valid
    return Answer(response.status_code, content.findtext(f"{MSG}Reply/{MSG}Result"),
                  content.findtext(f"{MSG}Reply/{MSG}Error/{MSG}code"), content)


def post(base: str, body: bytes, *, auth: tuple[str, str] | None = PORTAL, action: str | None = ACTION,
         content_type: str = SOAP_XML, client: httpx.Client | None = None) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if action is not None:
        headers["SOAPAction"] = f'"{action}"'
    sender = client or httpx
    return sender.post(base + SERVICE, content=body, headers=headers, auth=auth, timeout=30)


def home_request(message_id: str = "M-1") -> bytes:
    return wire.envelope(request_message("EV-1001", "S-1001", "C-1001", "UP-1001", message_id=message_id))


def with_token(message: bytes, user: str, password: str, *, created: datetime | None = None,
               digest: bool = True) -> bytes:
    """The request with a WS-Security UsernameToken (PasswordDigest) made by zeep, a real client."""
    root = etree.fromstring(message)
    root, _ = UsernameToken(user, password, use_digest=digest, created=created).apply(root, {})
    return etree.tostring(root)


def count(evos: OperationSystem, model: type) -> int:
    with evos.sessions() as db:
        return db.scalar(select(func.count()).select_from(model))


def nothing_stored(evos: OperationSystem) -> bool:
    return count(evos, m.ChargingSession) == 0 and count(evos, m.InboundMessage) == 0


# ------------------------------------------------------------------------------- WSDL
def test_wsdl_has_the_request_address_and_loads_in_zeep(base: str) -> None:
    response = httpx.get(base + SERVICE + "?wsdl")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    wsdl = etree.fromstring(response.content)
    address = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == base + SERVICE
    assert httpx.get(base + SERVICE + "?xsd=message.xsd").status_code == 200
    assert httpx.get(base + SERVICE + "?xsd=../../setup.py").status_code == 404

    # zeep loads it from the server alone (the schema import points back at ?xsd=).
    client = zeep.Client(base + SERVICE + "?wsdl")
    assert client.service._binding_options["address"] == base + SERVICE
    assert "CreateChargingRequest" in client.service._operations


def test_uc_1_1_2_zeep_client_with_username_token_digest(base: str, evos: OperationSystem) -> None:
    client = zeep.Client(base + SERVICE + "?wsdl", wsse=UsernameToken(*PORTAL, use_digest=True))
    message = codec.parse(request_message("EV-1001", "S-1001", "C-1001", "UP-1001"))
    payload = message.find(f"{MSG}Payload")[0]
    result = client.service.CreateChargingRequest(
        Header={"Verb": "create", "Noun": "ChargingRequest", "MessageID": "Z-1", "Source": "portal"},
        Payload={"_value_1": [payload]})
    assert result.Reply.Result == "OK" and result.Header.CorrelationID == "Z-1"
    assert etree.QName(result.Payload._value_1[0]).localname == "ChargingConfirmation"
    assert count(evos, m.ChargingSession) == 1


# --------------------------------------------------------------------- round trips
def test_uc_1_1_2_charging_request_with_http_basic(base: str, evos: OperationSystem) -> None:
    reply = answer(post(base, home_request()))
    assert (reply.status, reply.result, reply.code) == (200, "OK", None)
    assert reply.root.find(f".//{{{ns.EV_CHARGING}}}ChargingConfirmation") is not None
    assert reply.root.findtext(f"{MSG}Header/{MSG}CorrelationID") == "M-1"
    assert count(evos, m.ChargingSession) == 1


def test_uc_1_1_2_charging_request_with_username_token_digest(base: str, evos: OperationSystem) -> None:
    reply = answer(post(base, with_token(home_request(), *PORTAL), auth=None))
    assert (reply.status, reply.result) == (200, "OK")
    assert count(evos, m.ChargingSession) == 1


def test_replayed_message_id_gets_the_stored_reply_and_is_applied_once(base: str, evos: OperationSystem) -> None:
    first, second = post(base, home_request("R-1")), post(base, home_request("R-1"))
    assert answer(first).result == "OK" and second.content == first.content
    assert count(evos, m.ChargingSession) == 1 and count(evos, m.InboundMessage) == 1


def test_a_message_id_of_another_sender_reveals_nothing(base: str, evos: OperationSystem) -> None:
    first = post(base, home_request("R-1"))
    assert answer(first).result == "OK"
    # Another portal reuses that MessageID with a request for its own site.
    other = wire.envelope(request_message("EV-1002", "S-1003", "C-1003", "UP-1003", message_id="R-1"))
    response = post(base, other, auth=OTHER_PORTAL)
    assert answer(response)[1:3] == ("FAILED", "7.0")
    assert b"ChargingConfirmation" not in response.content
    assert count(evos, m.ChargingSession) == 1 and count(evos, m.InboundMessage) == 1


@pytest.mark.parametrize("auth", [PORTAL, UTILITY], ids=["portal_checked_by_site", "utility"])
def test_a_charging_request_is_parsed_validated_and_bound_once(
        store_url: str, examples: Path, credentials: Credentials, auth: tuple[str, str]) -> None:
    # One codec for the server and the operation system: every parse, validation and
    # binding of the request is counted, wherever it happens. A portal's request is bound
    # by the site check; the handler must use that binding, not make a second one.
    seed_store(store_url, examples)
    counting = CountingCodec()
    system = operation_system(store_url, horizon=RollingHorizon(NIGHT), clock=Clock(), codec=counting)
    try:
        with serve_in_thread(make_app([evos_endpoint(system)], credentials, codec=counting)) as url:
            counting.calls.clear()
            reply = answer(post(url, home_request("ONCE-1"), auth=auth))
            calls = dict(counting.calls)
        assert (reply.status, reply.result) == (200, "OK")
        assert count(system, m.ChargingSession) == 1
    finally:
        system.close()
    assert calls == {"parse": 1, "validate": 1, "bind": 1}


# ------------------------------------------------------------------------- security
@pytest.mark.parametrize(("auth", "token", "code"), [
    (None, None, "7.1"),
    (("portal-1001", "wrong"), None, "7.1"),
    (("nobody", "s3cret-1001"), None, "7.1"),
    (None, ("portal-1001", "wrong"), "7.1"),
    (None, ("nobody", "x"), "7.1"),
    (OTHER_PORTAL, PORTAL, "7.1"),
], ids=["missing", "wrong_password", "unknown_user", "wrong_digest", "unknown_token_user", "basic_and_token_differ"])
def test_missing_or_wrong_credential_is_7_1_and_stores_nothing(
        base: str, evos: OperationSystem, auth: tuple[str, str] | None, token: tuple[str, str] | None,
        code: str) -> None:
    body = with_token(home_request(), *token) if token else home_request()
    response = post(base, body, auth=auth)
    assert response.headers["www-authenticate"].startswith("Basic")
    assert answer(response)[:3] == (401, "FAILED", code)
    assert nothing_stored(evos)


def test_password_text_and_principals_from_stored_hashes(base: str, evos: OperationSystem) -> None:
    assert answer(post(base, with_token(home_request("T-1"), *PORTAL, digest=False), auth=None)).result == "OK"
    # Authenticated (from the stored hash) and handled: the EV already charges (6.4).
    assert answer(post(base, home_request("T-2"), auth=HASHED))[:3] == (200, "FAILED", "6.4")
    # Only a hash is known: a digest cannot be checked.
    assert answer(post(base, with_token(home_request("T-3"), *HASHED), auth=None))[:3] == (401, "FAILED", "7.1")
    assert count(evos, m.InboundMessage) == 2


def test_replayed_nonce_and_stale_created_are_refused(base: str, evos: OperationSystem) -> None:
    signed = with_token(home_request("N-1"), *PORTAL)
    assert answer(post(base, signed, auth=None)).result == "OK"
    assert answer(post(base, signed, auth=None))[:3] == (401, "FAILED", "7.4")
    stale = with_token(home_request("N-2"), *PORTAL, created=datetime.now(UTC) - timedelta(minutes=6))
    assert answer(post(base, stale, auth=None))[:3] == (401, "FAILED", "7.4")
    future = with_token(home_request("N-3"), *PORTAL, created=datetime.now(UTC) + timedelta(minutes=6))
    assert answer(post(base, future, auth=None))[:3] == (401, "FAILED", "7.4")
    assert count(evos, m.ChargingSession) == 1 and count(evos, m.InboundMessage) == 1


def test_portal_for_another_site_is_7_3_and_changes_nothing(base: str, evos: OperationSystem) -> None:
    # Consistent in itself (S-1003 is at C-1003's premise), so only the binding refuses it.
    elsewhere = wire.envelope(request_message("EV-1003", "S-1003", "C-1003", "UP-1003", message_id="X-1"))
    assert answer(post(base, elsewhere, auth=PORTAL))[:3] == (403, "FAILED", "7.3")
    assert answer(post(base, elsewhere, auth=BILLING))[:3] == (403, "FAILED", "7.3")
    assert nothing_stored(evos)
    # The refusal was not journaled: the site's own portal may use the same MessageID.
    assert answer(post(base, elsewhere, auth=OTHER_PORTAL)).result == "OK"
    assert count(evos, m.ChargingSession) == 1


def test_portal_may_only_send_readings_of_its_own_meter(base: str, evos: OperationSystem) -> None:
    action = "http://iec.ch/TC57/2011/MeterReadings/CreatedMeterReadings"
    mine = wire.envelope(event_message("MeterReadings", register("M-1001", NIGHT, 1_000), "MR-1"))
    theirs = wire.envelope(event_message("MeterReadings", register("M-1003", NIGHT, 1_000), "MR-2"))
    assert answer(post(base, theirs, action=action))[:3] == (403, "FAILED", "7.3")
    assert count(evos, m.MeterReading) == 0
    assert answer(post(base, mine, action=action)).result == "OK"
    assert count(evos, m.MeterReading) == 1


# ---------------------------------------------------------------- bad input, one server
BOMB = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Body><x>&lol3;</x></soapenv:Body></soapenv:Envelope>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&x;</soapenv:Body></soapenv:Envelope>"""
SOAP12 = b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><x/></e:Body></e:Envelope>'
MUST_UNDERSTAND = home_request().replace(
    b"<soapenv:Body>", b'<soapenv:Header><t:Tx xmlns:t="urn:x" soapenv:mustUnderstand="1"/></soapenv:Header>'
                       b"<soapenv:Body>")
INVALID = home_request().replace(b"<ev:requestedEnergy>20000<", b"<ev:requestedEnergy>lots<")
EMPTY_BODY = wire.envelope(b"").replace(b"<soapenv:Body>", b"<soapenv:Body><!-- nothing -->")
DEEP = wire.envelope(b"<a>" * 300 + b"</a>" * 300)


def test_bad_input_is_answered_clearly_and_the_server_stays_up(base: str, evos: OperationSystem) -> None:
    meter_action = "http://iec.ch/TC57/2011/MeterReadings/CreatedMeterReadings"
    cases: list[tuple[str, httpx.Response, tuple[int, str, str | None]]] = [
        ("wrong SOAPAction", post(base, home_request(), action=meter_action), (200, "FAILED", "2.3")),
        ("unknown operation", post(base, home_request(), action="urn:x:DeleteEverything"), (200, "FAILED", "2.3")),
        ("no SOAPAction", post(base, home_request(), action=None), (200, "FAILED", "2.3")),
        ("not text/xml", post(base, home_request(), content_type="application/soap+xml"), (415, "FAILED", "2.0")),
        ("malformed XML", post(base, home_request()[:-30]), (500, "FAULT", "2.1")),
        ("empty request", post(base, b""), (500, "FAULT", "2.1")),
        ("entity bomb", post(base, BOMB), (500, "FAULT", "7.2")),
        ("external entity", post(base, XXE), (500, "FAULT", "7.2")),
        ("too deep", post(base, DEEP), (500, "FAULT", "3.2")),
        ("not a SOAP envelope", post(base, request_message("EV-1001", "S-1001", "C-1001", "UP-1001")),
         (500, "FAULT", "2.3")),
        ("SOAP 1.2", post(base, SOAP12), (500, "FAULT", "2.3")),
        ("mustUnderstand", post(base, MUST_UNDERSTAND), (500, "FAULT", "2.3")),
        ("schema-invalid payload", post(base, INVALID), (200, "FAILED", "2.4")),
        ("empty SOAP Body", post(base, EMPTY_BODY), (200, "FAILED", "1.0")),
        ("unknown service", httpx.post(base + "/Nothing", content=home_request(), headers={"Content-Type": SOAP_XML}),
         (404, "FAILED", "2.3")),
        ("GET without ?wsdl", httpx.get(base + SERVICE), (404, "FAILED", "2.3")),
        ("PUT", httpx.put(base + SERVICE, content=home_request()), (405, "FAILED", "2.3")),
    ]
    for name, response, expected in cases:
        assert answer(response)[:3] == expected, name
    faults = {name: answer(r).root.findtext("faultcode") for name, r, _ in cases if r.status_code == 500}
    assert faults["SOAP 1.2"] == "soapenv:VersionMismatch" and faults["mustUnderstand"] == "soapenv:MustUnderstand"
    assert all(b"Traceback" not in r.content for _, r, _ in cases)
    assert nothing_stored(evos)
    assert answer(post(base, home_request())).result == "OK"


def test_bodies_over_10_mib_are_refused(base: str, evos: OperationSystem) -> None:
    big = home_request() + b" " * (10 * MIB)
    assert answer(post(base, big))[:3] == (413, "FAILED", "3.1")
    chunked = post(base, iter([home_request(), b" " * (10 * MIB)]))  # type: ignore[arg-type]
    assert answer(chunked)[:3] == (413, "FAILED", "3.1")
    # A Content-Length far beyond is refused at the headers: the body is never read.
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /EVOperationSystem HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                     b"Content-Length: 1073741824\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")
    assert nothing_stored(evos)
    assert answer(post(base, home_request())).result == "OK"


def test_concurrent_requests(base: str, evos: OperationSystem) -> None:
    requests = [("EV-1001", "S-1001", "C-1001", "UP-1001"), ("EV-1002", "S-1002", "C-1002", "UP-1002"),
                ("EV-1003", "S-1003", "C-1003", "UP-1003")]

    def good(index: int) -> Answer:
        message = wire.envelope(request_message(*requests[index], message_id=f"C-{index}"))
        return answer(post(base, message, auth=UTILITY))

    with ThreadPoolExecutor(max_workers=12) as pool:
        goods = [pool.submit(good, i) for i in range(3)]
        wsdls = [pool.submit(httpx.get, base + SERVICE + "?wsdl") for _ in range(5)]
        refused = [pool.submit(post, base, home_request(f"B-{i}"), auth=("utility", "bad")) for i in range(4)]
        assert [f.result().result for f in goods] == ["OK"] * 3
        assert all(f.result().status_code == 200 for f in wsdls)
        assert all(answer(f.result()).code == "7.1" for f in refused)
    assert count(evos, m.ChargingSession) == 3


# ------------------------------------------------------------------------ TLS, stopping
def test_tls_with_the_demo_certificates(app: SoapApp, evos: OperationSystem, pki: DemoPki) -> None:
    with serve_in_thread(app, tls=pki.server) as url:
        assert url.startswith("https://127.0.0.1:")
        with httpx.Client(verify=client_context(pki.ca_file)) as client:
            wsdl = etree.fromstring(client.get(url + SERVICE + "?wsdl").content)
            assert wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location") == url + SERVICE
            assert answer(post(url, home_request(), client=client)).result == "OK"
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"), httpx.Client() as untrusting:
            untrusting.get(url + SERVICE + "?wsdl")
    assert count(evos, m.ChargingSession) == 1


def test_mutual_tls_refuses_a_client_without_a_certificate(app: SoapApp, pki: DemoPki) -> None:
    with serve_in_thread(app, tls=pki.mutual()) as url:
        with pytest.raises(httpx.TransportError), httpx.Client(verify=client_context(pki.ca_file)) as anonymous:
            anonymous.get(url + SERVICE + "?wsdl")
        context = client_context(pki.ca_file, pki.client_cert_file, pki.client_key_file)
        with httpx.Client(verify=context) as client:
            assert client.get(url + SERVICE + "?wsdl").status_code == 200


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_the_server_stops_cleanly_with_a_connection_open(app: SoapApp, pki: DemoPki, tls: bool) -> None:
    before = {t.ident for t in threading.enumerate()}
    with httpx.Client(verify=client_context(pki.ca_file)) as client:
        with serve_in_thread(app, tls=pki.server if tls else None) as url:
            assert client.get(url + SERVICE + "?wsdl").status_code == 200  # kept alive
        with pytest.raises(httpx.TransportError):
            client.get(url + SERVICE + "?wsdl")
    assert {t.ident for t in threading.enumerate() if t.is_alive()} <= before


def test_the_server_stops_when_its_wake_up_pipe_is_gone(app: SoapApp, caplog: pytest.LogCaptureFixture) -> None:
    # Seen once in CI: the pipe waitress wakes its loop with had lost its descriptor
    # (EBADF at stop). The stop must still close every connection and end the thread.
    before = {t.ident for t in threading.enumerate()}
    server = SoapServer(app)
    url = server.start()
    with httpx.Client() as client:
        assert client.get(url + SERVICE + "?wsdl").status_code == 200  # kept alive
        # The worker that answered still pulls the trigger after the reply went out; with
        # the pipe closed under it, it logs a traceback, and linecache may open a source
        # file on the freed descriptor number, which the stop then closes as the pipe's.
        # So the request must be over before the pipe goes.
        tasks = server._waitress.task_dispatcher
        deadline = time.monotonic() + 10
        while (tasks.active_count or tasks.queue) and time.monotonic() < deadline:
            time.sleep(0.01)
        trigger = server._waitress.trigger
        os.close(trigger.trigger)  # what a foreign close of that descriptor does
        server.stop()
        trigger.socket.close()  # the pipe's read side, which the failed close could not reach
        with pytest.raises(httpx.TransportError):
            client.get(url + SERVICE + "?wsdl")
    assert {t.ident for t in threading.enumerate() if t.is_alive()} <= before
    assert "wake-up pipe failed at stop" in caplog.text
