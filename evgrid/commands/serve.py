"""Serve the EV Operation System over SOAP (IEC 61968-100) on a database.

What runs: the operation system on the database (migrated first), its SOAP service
``EVOperationSystem`` under waitress (HTTPS with ``--tls-dir``), the dispatcher of
start and stop jobs (APScheduler on the same database) and the store-and-forward
delivery of outbound messages: to billing (``--billing-url``), to the portal hosts
(``--portals FILE.csv``, :mod:`evgrid.adapters.soap.portals`) and, in process, the
acknowledgments to the scheduler (4.1.2). ``--speed/--start/--epoch`` run the operation
system on the accelerated clock the other processes of a demo share; jobs then fire at
the wall instant their simulated time comes. Until SIGTERM or ^C; requests in progress
finish. Configuration files, the ESB binding and scale-out come later.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from evgrid.commands.clock_options import add_clock_options, clock_from

if TYPE_CHECKING:
    from evgrid.adapters.soap.portals import PortalSite
    from evgrid.adapters.soap.security import Credentials


def _secret(parts: int, text: str) -> tuple[str, ...]:
    values = tuple(text.split(":", parts - 1))
    if len(values) != parts or not all(values):
        raise argparse.ArgumentTypeError(f"expected {parts} ':'-separated values, got {text!r}")
    return values


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options."""
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: $EVGRID_DATABASE_URL, else sqlite evgrid.db)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; 0: any free one)")
    parser.add_argument("--tls-dir", type=Path, help="serve HTTPS with a demo CA and certificate kept in this folder")
    parser.add_argument("--portal", action="append", default=[], metavar="USER:PASSWORD:CUSTOMER:USAGE_POINT",
                        type=lambda text: _secret(4, text), help="a portal's credential, bound to its site")
    parser.add_argument("--billing-user", action="append", default=[], metavar="USER:PASSWORD",
                        type=lambda text: _secret(2, text), help="the billing system's credential (bills in)")
    parser.add_argument("--utility-user", action="append", default=[], metavar="USER:PASSWORD",
                        type=lambda text: _secret(2, text), help="a utility system allowed every operation")
    parser.add_argument("--billing-url", help="base URL of the Customer Billing System (outbox delivery)")
    parser.add_argument("--billing-credentials", metavar="USER:PASSWORD", type=lambda text: _secret(2, text))
    parser.add_argument("--billing-ca", type=Path, help="CA certificate of the billing system's TLS")
    parser.add_argument("--portals", type=Path, metavar="FILE.csv",
                        help="portals: user,password,customer_id,usage_point_id,premise_number,portal_url "
                             "(logins, and where portal:<premise> messages go)")
    parser.add_argument("--portal-credentials", metavar="USER:PASSWORD", type=lambda text: _secret(2, text),
                        help="what the operation system presents to the portal hosts")
    parser.add_argument("--portal-ca", type=Path, help="CA certificate of the portal hosts' TLS")
    add_clock_options(parser, speed_help="simulated seconds per wall second (default: real time)")
    parser.add_argument("--night-start", type=datetime.fromisoformat,
                        help="UTC start of the night to plan (default: --start with a clock option, "
                             "else today 16:00 UTC)")
    parser.add_argument("--slots", type=int, default=64, help="15-minute slots in the night (default 64)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or ^C."""
    from evgrid.adapters.soap.client import ServiceClient
    from evgrid.adapters.soap.evos import evos_endpoint
    from evgrid.adapters.soap.outbox import soap_deliverer
    from evgrid.adapters.soap.portals import PortalDelivery, PortalsFileError, load_portals
    from evgrid.adapters.soap.server import make_app, serve_forever
    from evgrid.adapters.soap.tls import create_demo_pki
    from evgrid.adapters.store.database import database_url
    from evgrid.bootstrap import operation_system, outbox_worker, schedule_jobs
    from evgrid.errors import AdapterError
    from evgrid.operations import events
    from evgrid.scheduler.jobs import Dispatcher

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for url_option, credentials_option in (("billing_url", "billing_credentials"), ("portals", "portal_credentials")):
        if bool(getattr(args, url_option)) != bool(getattr(args, credentials_option)):
            sys.stderr.write(f"evgrid serve: --{url_option.replace('_', '-')} and "
                             f"--{credentials_option.replace('_', '-')} go together\n")
            return 2
    try:
        sites = load_portals(args.portals) if args.portals else []
        credentials = _credentials(args, sites)
    except PortalsFileError as error:
        sys.stderr.write(f"evgrid serve: {error}\n")
        return 2

    clock = clock_from(args)
    url = database_url(args.database_url)
    start = args.night_start or (clock.start if clock else datetime.combine(datetime.now(UTC).date(), time(16), UTC))
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    tls = create_demo_pki(args.tls_dir).server if args.tls_dir else None
    dispatcher = Dispatcher(url, to_wall=clock.to_wall) if clock else Dispatcher(url)
    try:
        system = operation_system(url, night_start_utc=start, slot_count=args.slots, clock=clock,
                                  after_commit=schedule_jobs(dispatcher))
    except AdapterError as error:
        sys.stderr.write(f"evgrid serve: {error.reason}\n")
        return 2
    dispatcher.bind(system)
    with contextlib.ExitStack() as stack:
        stack.callback(system.close)
        deliverers: dict[str, Callable[[str, bytes], bytes]] = {}
        if args.billing_url:
            billing = stack.enter_context(ServiceClient(
                "CustomerBilling", args.billing_url, credentials=args.billing_credentials,
                verify=str(args.billing_ca) if args.billing_ca else True))
            deliverers[events.BILLING] = soap_deliverer(billing)
        if sites:
            deliverers[f"{events.PORTAL}:*"] = stack.enter_context(PortalDelivery(
                sites, credentials=args.portal_credentials, verify=str(args.portal_ca) if args.portal_ca else True))
        stack.enter_context(outbox_worker(system, deliverers).running())
        stack.enter_context(dispatcher)
        for session_id, begin, end in system.pending_dispatch():
            dispatcher.schedule(session_id, begin, end if end and end > begin else None)
        app = make_app([evos_endpoint(system)], credentials, source="evgrid-evos")
        serve_forever(app, args.host, args.port, tls, on_ready=_ready)
    return 0


def _credentials(args: argparse.Namespace, sites: list[PortalSite]) -> Credentials:
    """Who may call the operation system: portals (``--portal``, ``--portals``), billing, utility systems."""
    from evgrid.adapters.soap.portals import add_portal_credentials
    from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind

    credentials = Credentials()
    for user, password, customer, usage_point in args.portal:
        credentials.add(Principal(user, PrincipalKind.PORTAL, customer, usage_point), password)
    for kind, users in ((PrincipalKind.BILLING, args.billing_user), (PrincipalKind.UTILITY, args.utility_user)):
        for user, password in users:
            credentials.add(Principal(user, kind), password)
    add_portal_credentials(credentials, sites)  # scrypt on a thread pool: 1,000 portals in seconds
    return credentials


def _ready(url: str) -> None:
    # One line a supervisor (or a test) can wait for.
    sys.stdout.write(f"ready service=EVOperationSystem url={url}/EVOperationSystem\n")
    sys.stdout.flush()
