"""Import the registry of customers, premises, meters, transformers, stations and EVs.

``evgrid registry import FILE.csv`` upgrades the database first, then upserts the file
in one transaction: new keys are inserted, changed ones updated, nothing is deleted,
and a file with any bad row is rejected whole, its problems listed with their line
numbers. The CSV columns are documented in the README (and in
``evgrid.adapters.store.registry``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evgrid.commands.db import DATABASE_URL_HELP, import_file


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``registry`` actions."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    load = actions.add_parser("import", help="upsert a registry CSV file",
                              description="Upsert a registry CSV file (all or nothing).")
    load.add_argument("file", type=Path, metavar="FILE.csv", help="the registry CSV")
    load.add_argument("--database-url", metavar="URL", help=DATABASE_URL_HELP)


def run(args: argparse.Namespace) -> int:
    """Import the file; print the counts per table. Exit 2 with one line on failure."""
    from evgrid.adapters.store.registry import import_registry

    report = import_file("registry import", args.database_url, lambda session: import_registry(session, args.file))
    if report is None:
        return 2
    sys.stdout.write(report.summary() + "\n")
    return 0
