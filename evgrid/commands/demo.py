"""Simulate a night of EV charging through every step of the use case (the embedded default).

Starts the station and meter IEDs (gateway mode), the reference billing and meter data
management services, the EV Operation System with its scheduler, and the customers'
portals, each in its own process
on loopback, on SQLite and one accelerated clock; plugs the EVs in from the evening on;
shows progress; and when every session is billed and acknowledged writes the report to
``--out``: summary.json, load.png, sessions.png, one bill statement per account, the
database and the processes' logs.

Faults (repeatable ``--fault``), at simulated UTC times of the night:
``kill-core@HH:MM`` (SIGKILL the operation system and start it again),
``billing-down@HH:MM-HH:MM``, ``mdm-down@HH:MM-HH:MM`` (meter data management stopped: readings
wait in the outbox, billing retries), ``restart-ied@HH:MM`` (kill and restart the gateway IEDs).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--homes", type=int, default=50, help="homes with a station, meter and EV (default 50)")
    parser.add_argument("--third-party-share", type=float, default=0.1,
                        help="share of sessions at a friend's house (default 0.1)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the scenario (default 1)")
    parser.add_argument("--speed", type=float,
                        help="simulated seconds per wall second (default 1200, the 16-hour night in 48 s, "
                             "slowed above 50 homes to 60000/homes so that EVs arrive no faster per wall second)")
    parser.add_argument("--out", type=Path, default=Path("evgrid-demo"), help="output folder (default ./evgrid-demo)")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND@HH:MM[-HH:MM]",
                        help="inject a fault (see above); repeatable")
    # libiec61850's value updates grow dearer with the size of the model (a 250-station
    # IED spends 92 ms per 0.1 s tick publishing, a 100-station one 9 ms): more, smaller gateways.
    parser.add_argument("--stations-per-gateway", type=int, default=100,
                        help="stations served by one gateway IED and its portal host (default 100)")
    parser.add_argument("--night-start", type=datetime.fromisoformat, help="UTC start of the night (default 2026-01-15T16:00Z)")
    parser.add_argument("--quiet", action="store_true", help="no live progress, only the summary")


def default_speed(homes: int) -> float:
    """1200x up to 50 homes, slower above: EVs arrive no faster (per wall second) than at 50.

    The evening's requests must not arrive faster than the operation system (one
    process on SQLite) answers them on a 2-core machine: about 50 messages/s.
    """
    return 1200.0 if homes <= 50 else max(30.0, 60_000.0 / homes)


def run(args: argparse.Namespace) -> int:
    """Run the night, write the report, print the summary; exit 1 when it did not complete."""
    from rich.console import Console

    from evgrid.errors import ServiceFailed
    from evgrid.sim.demo import scenario as sc
    from evgrid.sim.demo.driver import run_night
    from evgrid.sim.demo.night import DemoOptions, parse_fault

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    console = Console()
    night_start = args.night_start or sc.DEFAULT_NIGHT_START
    if night_start.tzinfo is None:
        sys.stderr.write("evgrid demo: --night-start needs a UTC offset (e.g. 2026-01-15T16:00+00:00)\n")
        return 2
    try:
        faults = tuple(parse_fault(text, night_start) for text in args.fault)
        options = DemoOptions(homes=args.homes, third_party_share=args.third_party_share, seed=args.seed,
                              speed=args.speed or default_speed(args.homes), out=args.out, faults=faults,
                              stations_per_gateway=args.stations_per_gateway, night_start_utc=night_start)
        if options.homes < 1 or options.speed <= 0 or options.stations_per_gateway < 1:
            raise ValueError("--homes, --speed and --stations-per-gateway must be positive")
        summary = run_night(options, console, live=not args.quiet)
    except ValueError as error:
        sys.stderr.write(f"evgrid demo: {error}\n")
        return 2
    except ServiceFailed as error:
        sys.stderr.write(f"evgrid demo: {error}\n")
        return 3
    return 0 if summary.get("complete") else 1
