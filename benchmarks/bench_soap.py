"""SOAP round trips/s: evgrid's zeep adapter vs a raw httpx POST, to the same evgrid server.

Two servers, each in a child process on loopback: (1) ``evgrid sim mdm`` (our WSGI SOAP
server under waitress, HTTP Basic, the MDM's Router and in-memory SQLite store), and
(2) the same SOAP server and Router with a handler that stores nothing, where the
client's own cost is a larger share of a round trip. The message is an
IEC 61968-9 ``created MeterReadings`` of about 4 KB (a register and 24 interval
readings). Every request carries a fresh MessageID, so the server does the same full
work (validate, authenticate, store, journal) for every path. Prints round trips/s, best
of several interleaved rounds, for:

  raw httpx        the SOAP envelope bytes POSTed with httpx.Client (keep-alive), nothing else
  adapter send     ServiceClient.send: operation and soapAction from zeep's WSDL, envelope
                   spliced around the message bytes, reply parsed and its Result checked
  adapter zeep     ServiceClient.send_with_zeep: zeep serializes Header + xs:any Payload and
                   deserializes the reply (same httpx transport)
  zeep client      plain zeep: client.service.CreatedMeterReadings(...) over zeep's own
                   requests transport, the textbook way

and each one's ratio to raw httpx, its time per round trip and what it adds to raw httpx's
(the client-side cost, which does not depend on how heavy the server is). Target: adapter
send >= 0.7 x raw.

    python benchmarks/bench_soap.py
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from multiprocessing.connection import Connection

import httpx
import requests
import zeep
from lxml import etree
from workload import meter_readings_event, rate  # benchmarks/workload.py, beside this script

from evgrid.adapters.soap.client import ServiceClient, wsdl_client
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.mappings import services

ROUNDS = 5
SECONDS_PER_ROUND = 0.6
USER, PASSWORD = "bench", "bench-password"
PLACEHOLDER = b"00000000-0000-0000-0000-000000000000"
START_TIMEOUT_S = 60


class Ids:
    """Fresh MessageIDs of the placeholder's length: the same cost on every path."""

    def __init__(self) -> None:
        self.count = 0

    def fresh(self, data: bytes) -> bytes:
        self.count += 1
        return data.replace(PLACEHOLDER, f"{self.count:036d}".encode())


def start_mdm() -> tuple[subprocess.Popen[str], str]:
    """``evgrid sim mdm`` on a free loopback port; returns the process and its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "evgrid", "sim", "mdm", "--port", "0", "--credentials", f"{USER}:{PASSWORD}",
         "--log-level", "ERROR"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the ready line (or EOF on failure)
    if not line.startswith("ready "):
        process.kill()
        raise SystemExit("evgrid sim mdm did not start")
    return process, line.split("url=", 1)[1].strip().rsplit("/", 1)[0]


def serve_noop(ready: Connection) -> None:
    """Our SOAP server (same checks: Basic, parse, SOAPAction, XSD) with a Router that stores nothing."""
    from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
    from evgrid.adapters.soap.server import endpoint_for, make_app, serve_forever
    from evgrid.messaging.router import Outcome, Route, Router

    route = Route(ns.qname(ns.METER_READINGS, "MeterReadings"), lambda element: element,
                  lambda command, header, uow: Outcome())
    router = Router({(env.Verb.CREATED, "MeterReadings"): route}, source="bench")
    credentials = Credentials()
    credentials.add(Principal(USER, PrincipalKind.UTILITY), PASSWORD)
    app = make_app([endpoint_for("MeterDataManagement", lambda body, principal: router.handle(body))], credentials)
    serve_forever(app, "127.0.0.1", 0, on_ready=ready.send)


def start_noop() -> tuple[multiprocessing.process.BaseProcess, str]:
    """:func:`serve_noop` in a child process; returns it and its base URL."""
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=serve_noop, args=(child,), daemon=True)
    process.start()
    if not parent.poll(START_TIMEOUT_S):
        process.kill()
        raise SystemExit("the no-op SOAP server did not start")
    return process, str(parent.recv())


def measure(base_url: str, template: bytes, codec: Codec) -> dict[str, float]:
    """Best round trips/s of each path to the server at ``base_url``."""
    ids = Ids()
    service = services.METER_DATA_MANAGEMENT
    operation = service.operation("CreatedMeterReadings")
    address = f"{base_url}/{service.name}"
    body = template[template.index(b"?>") + 2:]
    soap = (f'<soapenv:Envelope xmlns:soapenv="{ns.SOAP11}"><soapenv:Body>'.encode() + body
            + b"</soapenv:Body></soapenv:Envelope>")
    raw_client = httpx.Client(auth=(USER, PASSWORD), headers={
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{operation.soap_action}"'})
    adapter = ServiceClient(service.name, base_url, credentials=(USER, PASSWORD))

    # Plain zeep, as its documentation shows it (our local WSDL, its requests transport).
    session = requests.Session()
    session.auth = (USER, PASSWORD)
    plain = zeep.Client(wsdl=str(service.wsdl_path), transport=zeep.Transport(session=session),
                        settings=wsdl_client(service.name).settings)
    proxy = plain.create_service(next(iter(plain.wsdl.bindings)), address)
    payload = codec.decode(template).payload

    def raw() -> object:
        response = raw_client.post(address, content=ids.fresh(soap))
        assert response.status_code == 200 and b"<msg:Result>OK<" in response.content
        return response

    def send() -> object:
        return adapter.send(ids.fresh(template))

    def send_with_zeep() -> object:
        return adapter.send_with_zeep(ids.fresh(template))

    def zeep_client() -> object:
        ids.count += 1
        result = proxy.CreatedMeterReadings(
            Header={"Verb": "created", "Noun": "MeterReadings", "Source": "portal-P000123",
                    "MessageID": f"{ids.count:036d}"},
            Payload={"_value_1": [payload]})
        assert result.Reply.Result == "OK"
        return result

    paths = {"raw httpx": raw, "adapter send": send, "adapter zeep": send_with_zeep, "zeep client": zeep_client}
    try:
        for work in paths.values():  # warm up: connections, caches, the server's credential cache
            for _ in range(50):
                work()
        etree.fromstring(adapter.send(ids.fresh(template)))
        best = dict.fromkeys(paths, 0.0)
        for _ in range(ROUNDS):  # interleaved, so drift in the machine's load hits every path alike
            for name, work in paths.items():
                best[name] = max(best[name], rate(work, SECONDS_PER_ROUND, batch=20))
    finally:
        raw_client.close()
        adapter.close()
        session.close()
    return best


def report(title: str, best: dict[str, float]) -> None:
    baseline = best["raw httpx"]
    sys.stdout.write(f"{title}\n{'path':<14} {'round trips/s':>14} {'x raw':>7} {'us/trip':>8} {'+us vs raw':>11}\n")
    for name, value in best.items():
        sys.stdout.write(f"{name:<14} {value:>14,.0f} {value / baseline:>7.2f} {1e6 / value:>8.0f} "
                         f"{1e6 / value - 1e6 / baseline:>11.0f}\n")
    ratio = best["adapter send"] / baseline
    sys.stdout.write(f"adapter send / raw httpx = {ratio:.2f} (target >= 0.70: {'met' if ratio >= 0.7 else 'MISSED'})\n\n")


def main() -> int:
    codec = Codec()
    template = meter_readings_event(codec, intervals=24, message_id=PLACEHOLDER.decode())
    sys.stdout.write(f"created MeterReadings of {len(template)} bytes on loopback, HTTP Basic, keep-alive; "
                     f"best of {ROUNDS} interleaved rounds of {SECONDS_PER_ROUND} s per path\n\n")
    mdm, url = start_mdm()
    try:
        report("1. `evgrid sim mdm` (our server + the MDM: validate, store, journal)", measure(url, template, codec))
    finally:
        mdm.terminate()
        mdm.wait(30)
    noop, url = start_noop()
    try:
        report("2. our server with a handler that stores nothing (client cost weighs more)",
               measure(url, template, codec))
    finally:
        noop.terminate()
        noop.join(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
