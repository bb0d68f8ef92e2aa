"""Run the Customer Communication Portals of one IEC 61850 gateway.

``evgrid portal serve --sites SITES.json --ied HOST:PORT --evos-url URL --port P
--credentials USER:PASSWORD`` connects once to the gateway IED (its station and meter
logical devices), runs one portal per site, sends the portals' messages to the EV
Operation System (store-and-forward in ``--database``), and serves the CustomerPortal
SOAP service at ``http://HOST:P/CustomerPortal`` for the utility's start/stop orders,
slot allotments and bill information. Until SIGTERM or ^C.

SITES.json::

    {"sites": [{"station_id": "S-00001", "meter_number": "M-00001", "customer_id": "C-00001",
                "account_id": "A-00001", "usage_point_id": "UP-00001", "premise_number": "P-00001",
                "station_max_kw": 7.4, "station_ld": "EVSESTA0001", "meter_ld": "EVSEMTR0001",
                "user": "portal-00001", "password": "..."}]}

``user``/``password`` are the site's credential at the operation system, bound there to
the site's customer and usage point.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from evgrid.commands.clock_options import add_clock_options, clock_from


def _user_password(text: str) -> tuple[str, str]:
    user, _, password = text.partition(":")
    if not user or not password:
        raise argparse.ArgumentTypeError("expected USER:PASSWORD")
    return user, password


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    return host, int(port)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``portal`` actions."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="run the portals of one gateway IED", description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--sites", type=Path, required=True, help="JSON file of the sites (format above)")
    serve.add_argument("--ied", type=_host_port, required=True, metavar="HOST:PORT", help="the gateway IED (MMS)")
    serve.add_argument("--evos-url", required=True, help="base URL of the EV Operation System's SOAP service")
    serve.add_argument("--evos-ca", type=Path, help="CA certificate of the operation system's TLS")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="TCP port of the CustomerPortal service (0: any free)")
    serve.add_argument("--credentials", type=_user_password, action="append", required=True, metavar="USER:PASSWORD",
                       help="what the operation system presents to this portal host (repeatable)")
    serve.add_argument("--database", type=Path, help="SQLite file of the outbox and the bills (default: memory)")
    serve.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    add_clock_options(serve)


def load_sites(path: Path) -> list[object]:
    """The site bindings of a SITES.json file; ValueError naming the first bad entry."""
    from evgrid.apps.portal.host import SiteBinding
    from evgrid.portal.model import Site

    document = json.loads(path.read_text(encoding="utf-8"))
    bindings = []
    for index, entry in enumerate(document.get("sites", []), start=1):
        try:
            site = Site(entry["station_id"], entry["meter_number"], entry["customer_id"], entry["account_id"],
                        entry["usage_point_id"], entry["premise_number"], float(entry["station_max_kw"]))
            bindings.append(SiteBinding(site, entry["station_ld"], entry["meter_ld"], entry["user"],
                                        entry["password"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: site {index}: missing or bad {error}") from error
    if not bindings:
        raise ValueError(f"{path}: no sites")
    return bindings


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or ^C."""
    from evgrid.adapters.iec61850.client import IedClient
    from evgrid.adapters.soap.client import ServiceClient
    from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
    from evgrid.adapters.soap.server import endpoint_for, make_app, serve_forever
    from evgrid.adapters.store.sqlite_store import MEMORY
    from evgrid.apps.portal.host import PortalHost
    from evgrid.clock import SystemClock
    from evgrid.errors import AdapterError

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        bindings = load_sites(args.sites)
        clock = clock_from(args) or SystemClock()
    except (OSError, ValueError) as error:
        sys.stderr.write(f"evgrid portal serve: {error}\n")
        return 2
    credentials = Credentials()
    for user, password in args.credentials:
        credentials.add(Principal(user, PrincipalKind.UTILITY), password)
    host, port = args.ied
    evos = ServiceClient("EVOperationSystem", args.evos_url, verify=args.evos_ca or True)
    portal_host = PortalHost(bindings, IedClient(host, port, origin="evgrid-portal"), evos, clock,  # type: ignore[arg-type]
                             database=args.database or MEMORY, slot_origin=getattr(clock, "start", None))
    try:
        with portal_host.running():
            app = make_app([endpoint_for("CustomerPortal", portal_host.handle)], credentials, source="evgrid-portal")
            serve_forever(app, args.host, args.port, on_ready=_ready)
    except AdapterError as error:
        sys.stderr.write(f"evgrid portal serve: {error.reason}\n")
        return 3
    finally:
        evos.close()
    return 0


def _ready(url: str) -> None:
    sys.stdout.write(f"ready service=CustomerPortal url={url}/CustomerPortal\n")
    sys.stdout.flush()
