"""Import transformers' base load: a daily profile and forecasts per 15-minute slot.

``evgrid baseload import FILE.csv`` upgrades the database first, checks the file (every
transformer in the registry, times on quarter hours, kW non-negative) and writes it, all
or nothing. Rows ``transformer_id,HH:MM,kW`` give the daily profile (UTC, each value
until the next row); rows with an ISO date-time give the forecast of that slot, which
beats the profile. Running workers plan with it from their next placement. The format
is in docs/formats.md (and in ``evgrid.adapters.store.baseload``).
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


def run(args: argparse.Namespace) -> int:
    """Import the file; print what happened. Exit 2 with one line on failure."""
    from evgrid.adapters.store.baseload import import_base_load

    report = import_file("baseload import", args.database_url, lambda session: import_base_load(session, args.file))
    if report is None:
        return 2
    sys.stdout.write(f"{args.file}: {report.profiles} daily profile(s), {report.forecasts} forecast slot(s)\n")
    return 0
