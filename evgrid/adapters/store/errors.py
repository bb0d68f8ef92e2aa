"""Errors of the store, in evgrid's one exception tree (:mod:`evgrid.errors`).

Library errors (SQLAlchemy, Alembic) leave the store as :class:`StoreError` wherever a
caller asks for translation (:func:`evgrid.adapters.store.database.translate_errors`):
the commands and the router only need to know :class:`~evgrid.errors.AdapterError`.
"""

from __future__ import annotations

from collections.abc import Sequence

from evgrid.errors import AdapterError


class StoreError(AdapterError):
    """The database failed or refused: unreachable, locked, a constraint, a migration."""

    code = "5.0"


class ImportRejected(AdapterError, ValueError):
    """A registry or tariff file is unacceptable, or unreadable; nothing of it was written.

    ``problems`` lists the problems found (with CSV line numbers or TOML keys) up to the
    importer's limit, ``more`` counts the rest; the reason is all of it on one line.
    """

    code = "2.0"

    def __init__(self, source: str, problems: Sequence[str], *, more: int = 0) -> None:
        """Reject ``source`` for ``problems`` (and ``more`` problems not listed)."""
        self.source = source
        self.problems = tuple(problems) or ("rejected",)
        self.more = more
        extra = f"; and {more} more problem{'s' if more > 1 else ''}" if more else ""
        super().__init__(f"{source} rejected, nothing written: {'; '.join(self.problems)}{extra}",
                         details="\n".join(self.problems))
