"""The committed xsdata bindings are exactly what the generator makes from our XSDs."""

from __future__ import annotations

import subprocess
import sys


def test_generated_bindings_match_a_fresh_generation() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "evgrid.cim.regenerate", "--check"], capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 0, "run `make generate`:\n" + result.stdout[-3000:] + result.stderr[-2000:]
