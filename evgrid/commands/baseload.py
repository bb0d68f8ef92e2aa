"""Import transformers' base load: a daily profile and forecasts per 15-minute slot.

``evgrid baseload import FILE.csv`` upgrades the database first, checks the file (every
transformer in the registry, times on quarter hours, kW non-negative) and writes it, all
or nothing. Rows ``transformer_id,HH:MM,kW`` give the daily profile (UTC, each value
until the next row); rows with an ISO date-time give the forecast of that slot, which
beats the profile. ``evgrid baseload meters FILE.csv`` names each transformer's own meter
(``transformer_id,meter_number``): MeterReadings for it are the transformer's live load.
Running workers plan with both from their next placement. The formats are in
docs/formats.md (and in ``evgrid.adapters.store.baseload``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evgrid.commands.db import DATABASE_URL_HELP, import_file


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``baseload`` actions."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    load = actions.add_parser("import", help="import base-load profiles and forecasts from a CSV file",
                              description="Import transformers' base-load profiles and forecasts from a CSV file.")
    load.add_argument("file", type=Path, metavar="FILE.csv", help="transformer_id,time,kw")
    load.add_argument("--database-url", metavar="URL", help=DATABASE_URL_HELP)
    meters = actions.add_parser("meters", help="name transformers' own meters (their readings are the live load)",
                                description="Name each transformer's own meter from a CSV file: MeterReadings "
                                            "for it update the transformer's base load as they come.")
    meters.add_argument("file", type=Path, metavar="FILE.csv", help="transformer_id,meter_number")
    meters.add_argument("--database-url", metavar="URL", help=DATABASE_URL_HELP)


def run(args: argparse.Namespace) -> int:
    """Import the file; print what happened. Exit 2 with one line on failure."""
    from evgrid.adapters.store.baseload import import_base_load, import_transformer_meters

    if args.action == "meters":
        count = import_file("baseload meters", args.database_url,
                            lambda session: import_transformer_meters(session, args.file))
        if count is None:
            return 2
        sys.stdout.write(f"{args.file}: {count} transformer meter(s)\n")
        return 0
    report = import_file("baseload import", args.database_url, lambda session: import_base_load(session, args.file))
    if report is None:
        return 2
    sys.stdout.write(f"{args.file}: {report.profiles} daily profile(s), {report.forecasts} forecast slot(s)\n")
    return 0
