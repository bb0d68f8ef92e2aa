"""Write the use-case step catalog and its example messages.

catalog.md, catalog.json and, for every step a CIM message carries, one example message
named after the step (e.g. 2.2.1_TimeSlotAllotment.xml).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``catalog`` options."""
    parser.add_argument("--out", type=Path, required=True, help="folder to write into (created)")


def run(args: argparse.Namespace) -> int:
    """Write the catalog and the example messages."""
    from evgrid.cim.codec import Codec
    from evgrid.mappings import catalog, examples

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    codec = Codec()
    written = 0
    for row in catalog.STEPS:
        if row.carries_cim:
            (out / row.example_name).write_bytes(codec.dump(examples.example_message(row)))
            written += 1
    (out / "catalog.md").write_text(catalog.as_markdown(), encoding="utf-8")
    rows = [row.as_dict() | {"example": row.example_name if row.carries_cim else None}
            for row in catalog.STEPS]
    (out / "catalog.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"{len(catalog.STEPS)} steps, {written} example messages written to {out}\n")
    return 0
