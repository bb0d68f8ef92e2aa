"""``python -m evgrid``: the same as the ``evgrid`` command."""

import sys

from evgrid.cli import main

sys.exit(main())
