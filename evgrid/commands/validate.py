"""Validate IEC 61968-100 / CIM XML files against evgrid's schemas.

The message kind is told from the root element (a SOAP envelope is unwrapped) and the
payload must be an element of the Header's noun. Both the generic 61968-100 envelope and
the noun-specific IEC 61968-9 wrappers (CreatedMeterReadings, ...) are accepted. One line
per file; the exit code is 0 only when every file is valid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``validate`` options."""
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="XML files to check")


def run(args: argparse.Namespace) -> int:
    """Validate every file; print OK or the errors with line numbers."""
    from evgrid.cim.codec import Codec
    from evgrid.errors import AdapterError
    from evgrid.mappings.validation import check_message

    codec = Codec()
    failures = 0
    for path in args.files:
        try:
            kind, noun = check_message(codec, path.read_bytes())
            sys.stdout.write(f"{path}: OK ({kind} {noun})\n")
        except OSError as exc:
            failures += 1
            sys.stdout.write(f"{path}: FAILED cannot read: {exc.strerror}\n")
        except AdapterError as exc:
            failures += 1
            sys.stdout.write(f"{path}: FAILED [{exc.code}] {exc.reason}\n")
    return 1 if failures else 0
