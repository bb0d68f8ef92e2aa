"""The ``evgrid`` command.

Each subcommand lives in its own module under :mod:`evgrid.commands` and exposes
``configure(parser)`` and ``run(args) -> int``. Command modules import their heavy
libraries inside ``run`` so that ``evgrid --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from evgrid import __version__

# name -> (module, one-line help). One explicit table, no registry decorators.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("evgrid.commands.demo", "simulate a night of EV charging through the whole use case, with report"),
    "catalog": ("evgrid.commands.catalog", "write the use-case step catalog and example messages"),
    "validate": ("evgrid.commands.validate", "validate IEC 61968-100 / CIM XML files"),
    "db": ("evgrid.commands.db", "database migrations (Alembic)"),
    "registry": ("evgrid.commands.registry", "import customers, premises, meters, transformers, stations and EVs (CSV)"),
    "tariff": ("evgrid.commands.tariff", "import a tariff with time-of-use intervals and the EV night rate"),
    "baseload": ("evgrid.commands.baseload", "import transformers' base load: daily profiles and 15-minute forecasts"),
    "ied": ("evgrid.commands.ied", "serve an SCL-defined IED over MMS (IEC 61850)"),
    "plan": ("evgrid.commands.plan", "generate or plan a night of EV charging (slot assignment)"),
    "sim": ("evgrid.commands.sim", "run the reference billing or meter data management service"),
    "serve": ("evgrid.commands.serve", "serve the EV Operation System over SOAP, with dispatch and outbox delivery"),
    "portal": ("evgrid.commands.portal", "run the Customer Communication Portals of one gateway IED"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand configured."""
    parser = argparse.ArgumentParser(
        prog="evgrid",
        description="IEC 61850 / CIM integration adapter for EV charging.",
    )
    parser.add_argument("--version", action="version", version=f"evgrid {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text, description=module.__doc__)
        module.configure(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``evgrid`` command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`evgrid validate ... | head`): not an error to report. Point
        # stdout at /dev/null so that the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports it


if __name__ == "__main__":
    sys.exit(main())
