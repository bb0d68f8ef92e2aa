"""Database migrations (Alembic).

``evgrid db upgrade`` applies every migration the installed evgrid ships, creating the
schema on an empty database; running it again does nothing. The database is
``--database-url``, else ``$EVGRID_DATABASE_URL``, else ``sqlite:///evgrid.db`` in the
current directory. PostgreSQL URLs look like ``postgresql+psycopg://user@host/db``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DATABASE_URL_HELP = "SQLAlchemy URL; default $EVGRID_DATABASE_URL, else sqlite:///evgrid.db"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``db`` actions."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply every pending migration (creates the schema)",
                                 description="Apply every pending migration up to the newest one.")
    upgrade.add_argument("--database-url", metavar="URL", help=DATABASE_URL_HELP)


def run(args: argparse.Namespace) -> int:
    """Upgrade the database; print where it now is. Exit 2 with one line on failure."""
    from evgrid.adapters.store import database as store
    from evgrid.errors import AdapterError

    try:
        with store.translate_errors():
            engine = store.make_engine(store.database_url(args.database_url))
            try:
                before = store.current_revision(engine)
                store.upgrade(engine)
                after = store.current_revision(engine)
                where = engine.url.render_as_string(hide_password=True)
            finally:
                engine.dispose()
    except AdapterError as exc:
        sys.stderr.write(f"evgrid db upgrade: {exc.reason}\n")
        return 2
    change = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    sys.stdout.write(f"{where}: {change} revision {after}\n")
    return 0


def import_file(command: str, database_url: str | None, load: Callable[[object], T]) -> T | None:
    """Upgrade the database, then run ``load(session)`` in one transaction.

    Shared by ``evgrid registry import`` and ``evgrid tariff import``: on failure, one
    line on stderr naming ``command`` and None; nothing of the file is written.
    """
    from evgrid.adapters.store import database as store
    from evgrid.errors import AdapterError

    try:
        with store.translate_errors():
            engine = store.make_engine(store.database_url(database_url))
            try:
                store.upgrade(engine)
                with store.session_factory(engine).begin() as session:
                    return load(session)
            finally:
                engine.dispose()
    except AdapterError as exc:
        sys.stderr.write(f"evgrid {command}: {exc.reason}\n")
        return None
