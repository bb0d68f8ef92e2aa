"""Serve the EV Operation System over SOAP (IEC 61968-100) on a database.

What runs: the operation system on the database (migrated first), its SOAP service
``EVOperationSystem`` under waitress (HTTPS with ``--tls-dir``), the dispatcher of
start and stop jobs (APScheduler on the same database) and the store-and-forward
delivery of outbound billing messages (``--billing-url``). Until SIGTERM or ^C; requests
in progress finish. Configuration files, the ESB binding and scale-out come later.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from datetime import UTC, datetime, time
from pathlib import Path


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
    parser.add_argument("--night-start", type=datetime.fromisoformat,
                        help="UTC start of the night to plan (default: today 16:00 UTC)")
    parser.add_argument("--slots", type=int, default=64, help="15-minute slots in the night (default 64)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or ^C."""
    from evgrid.adapters.soap.client import ServiceClient
    from evgrid.adapters.soap.evos import evos_endpoint
    from evgrid.adapters.soap.outbox import OutboxWorker, SqlOutboxStore, soap_deliverer
    from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
    from evgrid.adapters.soap.server import make_app, serve_forever
    from evgrid.adapters.soap.tls import create_demo_pki
    from evgrid.adapters.store.database import database_url
    from evgrid.bootstrap import operation_system, schedule_jobs
    from evgrid.errors import AdapterError
    from evgrid.scheduler.jobs import Dispatcher

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if bool(args.billing_url) != bool(args.billing_credentials):
        sys.stderr.write("evgrid serve: --billing-url and --billing-credentials go together\n")
        return 2
    credentials = Credentials()
    for user, password, customer, usage_point in args.portal:
        credentials.add(Principal(user, PrincipalKind.PORTAL, customer, usage_point), password)
    for kind, users in ((PrincipalKind.BILLING, args.billing_user), (PrincipalKind.UTILITY, args.utility_user)):
        for user, password in users:
            credentials.add(Principal(user, kind), password)

    url = database_url(args.database_url)
    start = args.night_start or datetime.combine(datetime.now(UTC).date(), time(16), UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    tls = create_demo_pki(args.tls_dir).server if args.tls_dir else None
    dispatcher = Dispatcher(url)
    try:
        system = operation_system(url, night_start_utc=start, slot_count=args.slots,
                                  after_commit=schedule_jobs(dispatcher))
    except AdapterError as error:
        sys.stderr.write(f"evgrid serve: {error.reason}\n")
        return 2
    dispatcher.bind(system)
    with contextlib.ExitStack() as stack:
        stack.callback(system.close)
        stack.enter_context(dispatcher)
        for session_id, begin, end in system.pending_dispatch():
            dispatcher.schedule(session_id, begin, end if end and end > begin else None)
        if args.billing_url:
            billing = stack.enter_context(ServiceClient(
                "CustomerBilling", args.billing_url, credentials=args.billing_credentials,
                verify=str(args.billing_ca) if args.billing_ca else True))
            worker = OutboxWorker(SqlOutboxStore(system.sessions), {"billing": soap_deliverer(billing)})
            stack.enter_context(worker.running())
        app = make_app([evos_endpoint(system)], credentials, source="evgrid-evos")
        serve_forever(app, args.host, args.port, tls, on_ready=_ready)
    return 0


def _ready(url: str) -> None:
    # One line a supervisor (or a test) can wait for.
    sys.stdout.write(f"ready service=EVOperationSystem url={url}/EVOperationSystem\n")
    sys.stdout.flush()


