"""Serve an SCL-defined IED over MMS (IEC 61850), with simulated hardware for evgrid's ICDs.

``evgrid ied serve --scl FILE --port PORT`` serves any ICD as an IED until SIGTERM or
SIGINT. For evgrid's station and meter ICDs it also runs the simulated EVs, stations
and meters (``--speed`` accelerates the clock, ``--arrivals`` scripts EV arrivals,
``--stations N`` hosts N stations and their meters in one IED). ``--epoch`` anchors the
simulated clock at a Unix wall time, so the gateway shares one timeline with the other
processes of a demo; after a restart with ``--state`` the timeline then goes on (the
stations were off in between) instead of resuming where it stopped. When it is ready it
writes one line to stdout::

    ready ied=EVSE mms=127.0.0.1:10102 control=127.0.0.1:40123 lds=EVSESTA

``control`` is the loopback control channel (JSON lines, :mod:`evgrid.sim.devices.control`)
through which another process injects EV arrivals and reads the simulation state.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from evgrid.commands.clock_options import add_clock_options, clock_from


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``ied`` subcommands."""
    commands = parser.add_subparsers(dest="ied_command", metavar="SUBCOMMAND", required=True)
    serve = commands.add_parser(
        "serve", help="serve an ICD over MMS until SIGTERM/SIGINT", description=__doc__
    )
    serve.add_argument("--scl", type=Path, required=True, help="ICD/CID file to serve")
    serve.add_argument("--ied", help="IED of the SCL file to serve (default: the only one)")
    serve.add_argument("--name", help="name to serve the IED under (default: its SCL name); LD names follow")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, required=True, help="MMS TCP port")
    add_clock_options(serve)
    serve.add_argument(
        "--stations", type=int, help="gateway mode: serve N stations and their meters in one IED"
    )
    serve.add_argument(
        "--meter-scl", type=Path, help="meter ICD for gateway mode (default: evgrid's meter.icd)"
    )
    serve.add_argument("--arrivals", type=Path, help="JSON file of scripted EV arrivals")
    serve.add_argument("--state", type=Path, help="file keeping registers and sessions across restarts")
    serve.add_argument(
        "--control-port", type=int, default=0, help="loopback control channel port (default: any free)"
    )
    serve.add_argument(
        "--measure",
        type=int,
        metavar="PORT",
        help="standalone meter: control port of the station it measures",
    )
    serve.add_argument("--tls-cert", type=Path, help="mutual TLS: this IED's certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="mutual TLS: this IED's private key (PEM)")
    serve.add_argument("--tls-ca", type=Path, help="mutual TLS: CA certificate that signs trusted clients")
    serve.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


def run(args: argparse.Namespace) -> int:
    """Serve the IED until SIGTERM or SIGINT."""
    from evgrid.adapters.iec61850.tls import TlsSettings
    from evgrid.apps import ied

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tls_files = (args.tls_cert, args.tls_key, args.tls_ca)
    if any(tls_files) and not all(tls_files):
        sys.stderr.write("evgrid ied serve: TLS needs --tls-cert, --tls-key and --tls-ca together\n")
        return 2
    return ied.run(ied.IedSettings(
        args.scl, args.port, host=args.host, ied=args.ied, name=args.name, clock=clock_from(args),
        stations=args.stations, meter_scl=args.meter_scl, arrivals=args.arrivals, state=args.state,
        control_port=args.control_port, measure=args.measure,
        tls=TlsSettings(args.tls_cert, args.tls_key, args.tls_ca) if all(tls_files) else None))
