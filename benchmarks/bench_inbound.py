"""CPU per ChargingRequest through the operation system's SOAP endpoint, no database.

The real SOAP app (``make_app`` + ``evos_endpoint``: HTTP Basic, parse, guards, schema
validation, SOAPAction check, authorization) and the real ChargingRequest route (CIM
class + mapping), with a handler that answers OK: what is left is the message handling
itself. Two callers: a utility principal (no payload check) and a portal (its site is
checked against the bound request). In the same run, what one more decode and bind of
the same message costs (``Codec.decode`` + ``Router.route``): the work a message handled
twice over would add.

Prints CPU ms per request (best of 5 rounds, and the median) and each path's ratio to
lxml's own parse + schema validation of the message (the floor of any inbound path).

    python benchmarks/bench_inbound.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import base64
import io
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

from lxml import etree
from serve_workload import Messages, night_start, soap_envelope  # benchmarks/, beside this script

from evgrid.adapters.soap.evos import evos_endpoint
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
from evgrid.adapters.soap.server import SoapApp, make_app
from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.mappings import services
from evgrid.messaging.router import Outcome, Router
from evgrid.messaging.routes import ROUTES

ROUNDS = 5
PASSWORD = "s3cret"
ACTION = services.EV_OPERATION_SYSTEM.operation("CreateChargingRequest").soap_action


def cpu_ms(work: Callable[[], object], count: int) -> tuple[float, float]:
    """(best, median) CPU ms per call of ``work`` over ROUNDS rounds of ``count // ROUNDS`` calls."""
    per_round = max(1, count // ROUNDS)
    for _ in range(min(300, per_round)):  # warm caches (the scrypt check of a password, the WSDL)
        work()
    figures = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(per_round):
            work()
        figures.append(1000 * (time.process_time() - started) / per_round)
    figures.sort()
    return figures[0], figures[len(figures) // 2]


def post(app: SoapApp, body: bytes, user: str) -> Callable[[], None]:
    """One WSGI POST of ``body`` as ``user``; fails unless the reply is OK."""
    auth = "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()

    def call() -> None:
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/EVOperationSystem",
                   "CONTENT_TYPE": "text/xml; charset=utf-8", "CONTENT_LENGTH": str(len(body)),
                   "wsgi.input": io.BytesIO(body), "HTTP_AUTHORIZATION": auth, "HTTP_SOAPACTION": f'"{ACTION}"',
                   "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "SERVER_NAME": "bench", "SERVER_PORT": "80"}
        status: list[str] = []
        reply = b"".join(app(environ, lambda line, headers: status.append(line)))
        if not status[0].startswith("200") or b"<msg:Result>OK<" not in reply:
            raise SystemExit(f"not OK: {status[0]}: {reply[-400:]!r}")
    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="requests per case (default 3000)")
    args = parser.parse_args()

    codec = Codec()
    route = ROUTES[(env.Verb.CREATE, "ChargingRequest")]
    answered = {(env.Verb.CREATE, "ChargingRequest"): replace(route, handle=lambda command, header, uow: Outcome())}
    router = Router(answered, codec=codec, source="evgrid-evos")
    system = SimpleNamespace(router=router, unit_of_work=None)  # a ChargingRequest's check needs no store
    credentials = Credentials()
    credentials.add(Principal("utility", PrincipalKind.UTILITY), PASSWORD)
    credentials.add(Principal("portal", PrincipalKind.PORTAL, "C-000001", "UP-000001"), PASSWORD)
    app = make_app([evos_endpoint(system)], credentials, codec=codec, source="evgrid-evos")  # type: ignore[arg-type]
    message = Messages(codec, night_start(datetime.now(UTC))).charging_requests(range(1, 2))[0]
    body = soap_envelope(message)

    schema = codec._state.schema  # the same compiled schema set, as bench_codec does
    lxml_parser = etree.XMLParser(resolve_entities=False, no_network=True)
    raw = cpu_ms(lambda: schema.assertValid(etree.fromstring(message, lxml_parser)), args.requests)
    again = cpu_ms(lambda: router.route(codec.decode(message)), args.requests)
    rows = [("lxml parse + validate (floor)", raw), ("one more decode + bind", again)]
    rows += [(f"SOAP endpoint, {user}", cpu_ms(post(app, body, user), args.requests)) for user in ("utility", "portal")]
    print(f"CPU per ChargingRequest ({len(message)} bytes), no database; best and median of {ROUNDS} rounds "
          f"of {args.requests // ROUNDS}")
    print(f"{'path':34} {'best ms':>8} {'median':>8} {'x floor':>8}")
    for name, (best, median) in rows:
        print(f"{name:34} {best:8.3f} {median:8.3f} {best / raw[0]:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
