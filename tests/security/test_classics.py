"""The classic attacks over the real waitress server on loopback, one table-driven test.

Each probe sends one hostile or wrong request (after an optional preparation, e.g. a first
use of a nonce) and must get the answer docs/soap.md documents: the HTTP status, the
61968-100 Result and code (or the SOAP Fault code and the code in its FaultMessage). The
store (the row count of every table, the state of every session) must be exactly as it
was before the probe where the probe must change nothing, and the server must answer a
normal ChargingRequest of the right portal OK afterwards. The table in docs/security.md
(## Probes) lists these probes with the others of tests/security.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from evgrid.adapters.soap import wire
from evgrid.adapters.store import models as m
from evgrid.apps.evos.system import OperationSystem
from tests.integration.test_operation_system import NIGHT, completion, event_message, request_message
from tests.integration.test_soap_server import (  # noqa: F401  (fixtures)
    OTHER_PORTAL,
    PORTAL,
    answer,
    app,
    base,
    credentials,
    evos,
    home_request,
    post,
    with_token,
)
from tests.unit.adapters.store.conftest import examples, store_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

EV = "http://iec.ch/TC57/2011"
METER_ACTION = f"{EV}/MeterReadings/CreatedMeterReadings"
COMPLETION_ACTION = f"{EV}/ChargingCompletion/CreatedChargingCompletion"
SOAPENV = b'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'

XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b"<soapenv:Envelope " + SOAPENV + b"><soapenv:Body><r>&x;</r></soapenv:Body></soapenv:Envelope>")
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
               for i in range(1, 10))
    + b"]><soapenv:Envelope " + SOAPENV + b"><soapenv:Body><r>&lol9;</r></soapenv:Body></soapenv:Envelope>")
DEEP = wire.envelope(b"<a>" * 300 + b"</a>" * 300)  # beyond libxml2's 256
SOAP12 = (b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
          + request_message("EV-1001", "S-1001", "C-1001", "UP-1001").split(b"?>", 1)[-1]
          + b"</e:Body></e:Envelope>")
BAD_UTF8 = home_request().replace(b"EV-1001", b"EV-\xc3\x28\xff")  # an invalid UTF-8 sequence


def elsewhere(message_id: str) -> bytes:
    """A request of portal-1003 for its own site, S-1003 at C-1003 / UP-1003."""
    return wire.envelope(request_message("EV-1003", "S-1003", "C-1003", "UP-1003", message_id=message_id))


def store(system: OperationSystem) -> dict[str, Any]:
    """Every table's row count and every session's state."""
    with system.sessions() as db:
        counts: dict[str, Any] = {t.name: db.scalar(select(func.count()).select_from(t))
                                  for t in m.Base.metadata.sorted_tables}
        counts["session states"] = sorted(db.execute(select(m.ChargingSession.session_id, m.ChargingSession.state)))
    return counts


def session_at_s_1003(url: str, system: OperationSystem) -> dict[str, str]:
    assert answer(post(url, elsewhere("OWN-1"), auth=OTHER_PORTAL)).result == "OK"
    with system.sessions() as db:
        return {"session": db.scalar(select(m.ChargingSession.session_id).where(m.ChargingSession.ev_id == "EV-1003"))}


def nonce_used_once(url: str, system: OperationSystem) -> dict[str, bytes]:
    signed = with_token(elsewhere("N-1"), *OTHER_PORTAL)
    assert answer(post(url, signed, auth=None)).result == "OK"
    return {"signed": signed}


def foreign_completion(url: str, prepared: dict[str, str]) -> httpx.Response:
    start, end = NIGHT + timedelta(minutes=45), NIGHT + timedelta(minutes=115)
    done = completion(prepared["session"], "S-1003", "EV-1003", "M-1003", start, end, 500_000, 508_000)
    return post(url, wire.envelope(event_message("ChargingCompletion", done, "CC-1")), action=COMPLETION_ACTION)


def payload_of_another_noun(url: str, _: object) -> httpx.Response:
    """A MeterReadings header and SOAPAction around a ChargingCompletion payload."""
    start, end = NIGHT + timedelta(minutes=45), NIGHT + timedelta(minutes=115)
    done = event_message("ChargingCompletion", completion("CS-1", "S-1001", "EV-1001", "M-1001", start, end, 0, 1), "PN-1")
    swapped = done.replace(b"<msg:Noun>ChargingCompletion</msg:Noun>", b"<msg:Noun>MeterReadings</msg:Noun>")
    assert swapped != done
    return post(url, wire.envelope(swapped), action=METER_ACTION)


def get(path: str) -> Callable[[str, Any], httpx.Response]:
    return lambda url, _: httpx.get(url + path, timeout=30)


def sends(body: bytes, **options: Any) -> Callable[[str, Any], httpx.Response]:
    return lambda url, _: post(url, body, **options)


@dataclass(frozen=True)
class Probe:
    send: Callable[[str, Any], httpx.Response]
    status: int
    result: str  # OK / PARTIAL / FAILED, or FAULT
    code: str
    fault: str | None = None  # the SOAP faultcode of a FAULT
    prepare: Callable[[str, OperationSystem], Any] | None = field(default=None)
    unchanged: bool = True  # the store must be exactly as before the probe


PROBES = {
    "xxe": Probe(sends(XXE), 500, "FAULT", "7.2", "soapenv:Client"),
    "billion_laughs": Probe(sends(BILLION_LAUGHS), 500, "FAULT", "7.2", "soapenv:Client"),
    "too_deep": Probe(sends(DEEP), 500, "FAULT", "3.2", "soapenv:Client"),
    "malformed_utf8": Probe(sends(BAD_UTF8), 500, "FAULT", "2.1", "soapenv:Client"),
    "soap_1_2": Probe(sends(SOAP12), 500, "FAULT", "2.3", "soapenv:VersionMismatch"),
    "wrong_noun": Probe(sends(home_request(), action=METER_ACTION), 200, "FAILED", "2.3"),
    "payload_of_another_noun": Probe(payload_of_another_noun, 200, "FAILED", "2.3"),
    "not_text_xml": Probe(sends(home_request(), content_type="application/soap+xml"), 415, "FAILED", "2.0"),
    "unknown_path": Probe(get("/no-such-path"), 404, "FAILED", "2.3"),
    "request_for_another_site": Probe(sends(elsewhere("X-1")), 403, "FAILED", "7.3"),
    "completion_of_another_site_s_session": Probe(foreign_completion, 403, "FAILED", "7.3",
                                                  prepare=session_at_s_1003),
    "replayed_nonce": Probe(lambda url, prepared: post(url, prepared["signed"], auth=None), 401, "FAILED", "7.4",
                            prepare=nonce_used_once),
}


@pytest.mark.parametrize("name", PROBES)
def test_a_classic_probe_gets_the_documented_answer_and_the_server_stays_up(
        base: str, evos: OperationSystem, name: str) -> None:  # noqa: F811
    probe = PROBES[name]
    prepared = probe.prepare(base, evos) if probe.prepare else None
    before = store(evos)
    response = probe.send(base, prepared)
    replied = answer(response)  # a schema-valid 61968-100 reply or a SOAP 1.1 Fault
    assert replied[:3] == (probe.status, probe.result, probe.code), name
    if probe.fault:
        assert replied.root.findtext("faultcode") == probe.fault
    assert b"Traceback" not in response.content and b"root:" not in response.content
    if probe.unchanged:
        assert store(evos) == before
    normal = answer(post(base, home_request("AFTER-1")))
    assert (normal.status, normal.result, normal.code) == (200, "OK", None)

