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


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or ^C."""
    from evgrid.apps import portal

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return portal.run(portal.PortalHostSettings(
        sites=args.sites, ied=args.ied, evos_url=args.evos_url, credentials=tuple(args.credentials),
        evos_ca=args.evos_ca, host=args.host, port=args.port, database=args.database, clock=clock_from(args)))
