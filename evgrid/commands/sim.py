"""Run a reference external service over SOAP: the Customer Billing System or the MDM.

``evgrid sim billing --port P --credentials USER:PASSWORD`` serves CustomerBilling at
``http://127.0.0.1:P/CustomerBilling`` (WSDL at ``...?wsdl``); with ``--evos-url`` it
forwards every bill to the EV Operation System's CreatedBillingInformation, through its
own outbox with retries. ``evgrid sim mdm --port P --credentials USER:PASSWORD`` serves
MeterDataManagement at ``http://127.0.0.1:P/MeterDataManagement``. Every caller needs a
credential: HTTP Basic or a WS-Security UsernameToken (PasswordText or PasswordDigest).
Both run until SIGTERM or ^C; when listening they write one line to stdout::

    ready service=CustomerBilling url=http://127.0.0.1:8081/CustomerBilling

Without ``--database`` the service keeps its data in memory (lost when it stops); with
it, in that SQLite file, and queued bills survive a restart.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``sim`` subcommands."""
    commands = parser.add_subparsers(dest="sim_command", metavar="SERVICE", required=True)
    billing = commands.add_parser("billing", help="the reference Customer Billing System", description=__doc__)
    _common(billing)
    billing.add_argument("--evos-url", help="base URL of the EV Operation System, to forward bills to "
                                            "(e.g. http://127.0.0.1:8080)")
    billing.add_argument("--evos-credentials", type=_user_password, metavar="USER:PASSWORD",
                         help="credential for the EV Operation System")
    billing.add_argument("--evos-ca", type=Path, help="CA certificate that signs the operation system's TLS "
                                                      "certificate (default: the system's trust store)")
    mdm = commands.add_parser("mdm", help="the reference Meter Data Management system", description=__doc__)
    _common(mdm)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free one)")
    parser.add_argument("--credentials", type=_user_password, action="append", required=True,
                        metavar="USER:PASSWORD", help="a caller's credential (repeat for several)")
    parser.add_argument("--database", type=Path, help="SQLite file of the service's data (default: in memory)")
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    parser.add_argument("--tls-client-ca", type=Path, help="mutual TLS: CA that signs client certificates")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


def _user_password(text: str) -> tuple[str, str]:
    user, colon, password = text.partition(":")
    if not colon or not user or not password:
        raise argparse.ArgumentTypeError("expected USER:PASSWORD")
    return user, password


def run(args: argparse.Namespace) -> int:
    """Serve the chosen reference service until SIGTERM or ^C."""
    from evgrid.adapters.soap.client import ServiceClient
    from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
    from evgrid.adapters.soap.server import endpoint_for, make_app, serve_forever
    from evgrid.adapters.soap.tls import TlsFiles
    from evgrid.adapters.store.sqlite_store import MEMORY
    from evgrid.apps.services.billing import BillingSystem
    from evgrid.apps.services.mdm import MeterDataManagement

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (args.tls_cert is None) != (args.tls_key is None):
        sys.stderr.write("evgrid sim: --tls-cert and --tls-key go together\n")
        return 2
    tls = TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert else None
    credentials = Credentials()
    for user, password in args.credentials:
        # The callers of billing and MDM are the utility's own systems (the operation system).
        credentials.add(Principal(user, PrincipalKind.UTILITY), password)
    database = args.database or MEMORY

    if args.sim_command == "mdm":
        mdm = MeterDataManagement(database)
        try:
            app = make_app([endpoint_for("MeterDataManagement", mdm.handle)], credentials, source="evgrid-mdm")
            serve_forever(app, args.host, args.port, tls, on_ready=_ready("MeterDataManagement"))
        finally:
            mdm.close()
        return 0

    if args.evos_url and not args.evos_credentials:
        sys.stderr.write("evgrid sim billing: --evos-url needs --evos-credentials\n")
        return 2
    evos = None
    if args.evos_url:
        evos = ServiceClient("EVOperationSystem", args.evos_url, credentials=args.evos_credentials,
                             verify=args.evos_ca or True)
    billing = BillingSystem(database, evos=evos)
    try:
        app = make_app([endpoint_for("CustomerBilling", billing.handle)], credentials, source="evgrid-billing")
        with billing.forwarding():
            serve_forever(app, args.host, args.port, tls, on_ready=_ready("CustomerBilling"))
    finally:
        billing.close()
        if evos is not None:
            evos.close()
    return 0


def _ready(service: str) -> Callable[[str], None]:
    def announce(url: str) -> None:
        # One line a supervisor (or a test) can wait for; stdout carries nothing else.
        sys.stdout.write(f"ready service={service} url={url}/{service}\n")
        sys.stdout.flush()
    return announce
