"""Import a tariff with time-of-use intervals and the EV night rate.

``evgrid tariff import FILE.toml`` upgrades the database first, checks the file (the
intervals cover the local day exactly once, at least one is the EV night rate, an ISO
4217 currency, an IANA time zone, decimal prices as strings, windows changing on quarter
hours) and creates or replaces the tariff of that id; ``default = true`` in the file
makes it the default tariff (of accounts that name none). The format is in
docs/formats.md (and in ``evgrid.adapters.store.tariff``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evgrid.commands.db import DATABASE_URL_HELP, import_file


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``tariff`` actions."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    load = actions.add_parser("import", help="create or replace a tariff from a TOML file",
                              description="Create or replace a tariff from a TOML file.")
    load.add_argument("file", type=Path, metavar="FILE.toml", help="the tariff TOML")
    load.add_argument("--database-url", metavar="URL", help=DATABASE_URL_HELP)


def run(args: argparse.Namespace) -> int:
    """Import the tariff; print what happened. Exit 2 with one line on failure."""
    from evgrid.adapters.store.tariff import import_tariff

    report = import_file("tariff import", args.database_url, lambda session: import_tariff(session, args.file))
    if report is None:
        return 2
    default = ", the default tariff" if report.default else ""
    sys.stdout.write(f"{args.file}: tariff {report.tariff_id} {report.outcome} ({report.intervals} intervals{default})\n")
    return 0
