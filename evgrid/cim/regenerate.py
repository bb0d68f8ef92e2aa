"""Regenerate the committed xsdata bindings in ``evgrid/cim/generated``.

``python -m evgrid.cim.regenerate`` (``make generate``) rewrites them from the XSDs in
``evgrid/schemas``; ``--check`` only reports whether the committed code differs from a
fresh generation (the test suite runs it, so a schema change without a regeneration, or
a hand edit of generated code, fails CI).
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMAS_DIR = PACKAGE_DIR.parent / "schemas"
CONFIG = PACKAGE_DIR / ".xsdata.xml"
GENERATED_DIR = PACKAGE_DIR / "generated"
HEADER = (
    "# Generated from evgrid/schemas/*.xsd by xsdata (`make generate`): do not edit.\n"
    "# ruff: noqa\n"
)


def generate(target: Path) -> Path:
    """Generate the bindings under ``target``; returns the generated package folder."""
    sources = target / "xsd"
    sources.mkdir()
    for xsd in sorted(SCHEMAS_DIR.glob("*.xsd")):
        shutil.copy(xsd, sources / xsd.name)
    # xsdata formats its output with ruff, which lives beside this interpreter.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(
        [sys.executable, "-m", "xsdata", "generate", str(sources), "--config", str(CONFIG)],
        cwd=target,
        env=env,
        check=True,
        capture_output=True,
    )
    package = target / "evgrid" / "cim" / "generated"
    for module in package.glob("*.py"):
        module.write_text(HEADER + module.read_text(encoding="utf-8"), encoding="utf-8")
    return package


def _differences(fresh: Path) -> list[str]:
    lines: list[str] = []
    names = {p.name for p in fresh.glob("*.py")} | {p.name for p in GENERATED_DIR.glob("*.py")}
    for name in sorted(names):
        new = fresh / name
        old = GENERATED_DIR / name
        new_text = new.read_text(encoding="utf-8").splitlines() if new.exists() else []
        old_text = old.read_text(encoding="utf-8").splitlines() if old.exists() else []
        lines.extend(
            difflib.unified_diff(old_text, new_text, f"committed/{name}", f"fresh/{name}", lineterm="")
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Regenerate, or with ``--check`` compare; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code differs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        if args.check:
            diff = _differences(fresh)
            sys.stdout.write("\n".join(diff[:200]) + ("\n" if diff else ""))
            return 1 if diff else 0
        shutil.rmtree(GENERATED_DIR, ignore_errors=True)
        shutil.copytree(fresh, GENERATED_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
