"""Run a reference external service over SOAP: the Customer Billing System or the MDM.

``evgrid sim billing --port P --credentials USER:PASSWORD`` serves CustomerBilling at
``http://127.0.0.1:P/CustomerBilling`` (WSDL at ``...?wsdl``); with ``--evos-url`` it
forwards every bill to the EV Operation System's CreatedBillingInformation, through its
own outbox with retries; with ``--mdm-url`` it prices each session's 15-minute
intervals from meter data management. ``evgrid sim mdm --port P --credentials USER:PASSWORD`` serves
MeterDataManagement at ``http://127.0.0.1:P/MeterDataManagement``. Every caller needs a
credential: HTTP Basic or a WS-Security UsernameToken (PasswordText or PasswordDigest).
Both run until SIGTERM or ^C; when listening they write one line to stdout::

    ready service=CustomerBilling url=http://127.0.0.1:8081/CustomerBilling

Without ``--database`` the service keeps its data in memory (lost when it stops); with
it, in that SQLite file, and queued bills survive a restart. The MDM also takes a
database URL (``postgresql+psycopg://USER@HOST/DB`` or ``sqlite:///FILE``): it validates
every MeterReadings against what it stores there, estimates gaps and serves them back.
"""

from __future__ import annotations

import argparse
import logging
import sys
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
    billing.add_argument("--mdm-url", help="base URL of meter data management, whose 15-minute intervals are "
                                           "priced (e.g. http://127.0.0.1:8082; default: priced by time)")
    billing.add_argument("--mdm-credentials", type=_user_password, metavar="USER:PASSWORD",
                         help="credential for meter data management")
    billing.add_argument("--mdm-ca", type=Path, help="CA certificate that signs meter data management's TLS "
                                                     "certificate (default: the system's trust store)")
    mdm = commands.add_parser("mdm", help="the reference Meter Data Management system", description=__doc__)
    _common(mdm)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free one)")
    parser.add_argument("--credentials", type=_user_password, action="append", required=True,
                        metavar="USER:PASSWORD", help="a caller's credential (repeat for several)")
    parser.add_argument("--database", type=_database, help="the service's data: an SQLite file (default: in memory); "
                        "mdm also takes a database URL (postgresql+psycopg://USER@HOST/DB, sqlite:///FILE)")
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    parser.add_argument("--tls-client-ca", type=Path, help="mutual TLS: CA that signs client certificates")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


def _database(text: str) -> Path | str:
    # A URL stays text: Path() would fold its "//".
    return text if "://" in text else Path(text)


def _user_password(text: str) -> tuple[str, str]:
    user, colon, password = text.partition(":")
    if not colon or not user or not password:
        raise argparse.ArgumentTypeError("expected USER:PASSWORD")
    return user, password


def run(args: argparse.Namespace) -> int:
    """Serve the chosen reference service until SIGTERM or ^C."""
    from evgrid.adapters.soap.tls import TlsFiles
    from evgrid.apps import services

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (args.tls_cert is None) != (args.tls_key is None):
        sys.stderr.write("evgrid sim: --tls-cert and --tls-key go together\n")
        return 2
    if args.sim_command == "billing" and isinstance(args.database, str):
        sys.stderr.write("evgrid sim billing: --database takes an SQLite file, not a URL\n")
        return 2
    evos_url = getattr(args, "evos_url", None)  # billing's options only
    evos_credentials = getattr(args, "evos_credentials", None)
    if evos_url and not evos_credentials:
        sys.stderr.write("evgrid sim billing: --evos-url needs --evos-credentials\n")
        return 2
    mdm_url = getattr(args, "mdm_url", None)
    mdm_credentials = getattr(args, "mdm_credentials", None)
    if mdm_url and not mdm_credentials:
        sys.stderr.write("evgrid sim billing: --mdm-url needs --mdm-credentials\n")
        return 2
    return services.run(services.ServiceSettings(
        args.sim_command, args.port, tuple(args.credentials), host=args.host, database=args.database,
        tls=TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert else None,
        evos_url=evos_url, evos_credentials=evos_credentials, evos_ca=getattr(args, "evos_ca", None),
        mdm_url=mdm_url, mdm_credentials=mdm_credentials, mdm_ca=getattr(args, "mdm_ca", None)))
