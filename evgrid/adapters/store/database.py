"""Engines, sessions and migrations of the evgrid store.

The URL comes from the caller, else ``EVGRID_DATABASE_URL``, else an SQLite file
``evgrid.db`` in the current directory; the environment is read when asked, never at
import. Migrations are the Alembic scripts shipped in ``migrations/`` and run
programmatically, so users need no ``alembic.ini``.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from evgrid.errors import StoreError

ENV_VARIABLE = "EVGRID_DATABASE_URL"
DEFAULT_URL = "sqlite:///evgrid.db"
SCRIPT_LOCATION = "evgrid.adapters.store:migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Any constant shared by every evgrid worker: serialises concurrent `upgrade` calls.
_MIGRATION_LOCK_KEY = 0x65766772  # "evgr"
# SQLite reports a missing table and a locked file alike as OperationalError: only these
# messages mean "try again later" (a busy writer, a file or disk that is not there now).
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o")


def database_url(explicit: str | None = None) -> str:
    """The database URL: ``explicit``, else ``$EVGRID_DATABASE_URL``, else ``sqlite:///evgrid.db``."""
    if explicit:
        return explicit
    return os.environ.get(ENV_VARIABLE) or DEFAULT_URL


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with evgrid's connection settings.

    SQLite: WAL journal (readers never block the writer), foreign keys enforced (SQLite
    ignores them unless asked, per connection), a busy timeout so that concurrent
    writers wait instead of failing at once. PostgreSQL: ``pool_pre_ping`` so that a
    connection dropped by a server restart or a proxy is replaced, not handed out.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed)
        event.listen(engine, "connect", _configure_sqlite_connection)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _configure_sqlite_connection(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # The busy timeout first, so that every later statement waits for a writer.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _enter_wal_mode(cursor)
        # In WAL mode NORMAL loses no committed data on an application crash, only
        # possibly the last transactions on power loss, and spares an fsync per commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _enter_wal_mode(cursor: sqlite3.Cursor) -> None:
    # WAL is a property of the file and persists, so most connections find it already
    # set. Switching needs an exclusive lock, and SQLite answers "database is locked" at
    # once, without calling the busy handler, while another connection is opening or
    # switching the same new file: hence a bounded retry.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    """An Alembic configuration pointing at the shipped migrations (no ini file)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str | None:
    """The newest revision the shipped migrations know."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when it was never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(target: Engine | str, revision: str = "head") -> None:
    """Apply every pending migration up to ``revision`` (``alembic upgrade head``).

    Safe to run again (it does nothing when the database is current) and from several
    processes at once: they are serialised (PostgreSQL: an advisory lock; SQLite: the
    write lock, taken up front). On both, the migration is one transaction: a failing
    one leaves the database as it was.

    Args:
        target: an engine, or a URL (an engine is made and disposed of).
        revision: the Alembic revision to reach.
    """
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Batch migrations copy and drop tables; with foreign keys on, dropping a
                # referenced table would fail or cascade. The pragma is a no-op inside a
                # transaction, hence before begin(), and it is checked again after.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    if sqlite:
                        # Python's sqlite3 would run each DDL statement outside any
                        # transaction; an explicit BEGIN IMMEDIATE makes the migration
                        # atomic and makes a concurrent upgrader wait (busy timeout)
                        # instead of reading a version that is about to change.
                        connection.exec_driver_sql("BEGIN IMMEDIATE")
                    elif connection.dialect.name == "postgresql":
                        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                    config = alembic_config()
                    config.attributes["connection"] = connection
                    command.upgrade(config, revision)
                    if sqlite:
                        _check_foreign_keys(connection)
            finally:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
    finally:
        if engine is not target:
            engine.dispose()


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise StoreError(f"migration left {len(broken)} broken foreign key(s) in {', '.join(tables)}")


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn SQLAlchemy and Alembic errors into :class:`StoreError` with a one-line reason.

    For the commands and other edges that report errors to people: the driver's first
    line says what happened (connection refused, no such table, a constraint) without
    the SQL and parameters SQLAlchemy appends.
    """
    try:
        yield
    except CommandError as exc:
        raise StoreError(f"migration failed: {exc}") from exc
    except SQLAlchemyError as exc:
        original = getattr(exc, "orig", None)
        message = str(original if original is not None else exc).strip()
        first = message.splitlines()[0] if message else type(exc).__name__
        raise StoreError(f"database error: {first}") from exc


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached or used right now.

    True for lost or refused connections and operational failures (SQLAlchemy
    ``OperationalError``, ``InterfaceError``, ``DisconnectionError``; psycopg's
    ``OperationalError``, which includes serialization failures and deadlocks), and for
    SQLite's busy, locked or unopenable files, also when wrapped (``raise ... from``,
    :class:`StoreError`). Such a message may succeed later; anything else will not.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _unavailable_here(current):
            return True
        # As tracebacks do: the explicit cause, else the implicit context unless suppressed.
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return False


def _unavailable_here(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, InterfaceError | DisconnectionError):
        return True
    if isinstance(error, OperationalError):
        original = error.orig
        return not isinstance(original, sqlite3.OperationalError) or _sqlite_unavailable(original)
    if isinstance(error, sqlite3.OperationalError):
        return _sqlite_unavailable(error)
    # psycopg is optional: when it was never imported, none of its errors can exist.
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, psycopg.OperationalError)


def _sqlite_unavailable(error: sqlite3.OperationalError) -> bool:
    message = str(error).lower()
    return any(part in message for part in _SQLITE_UNAVAILABLE)


def ping(engine: Engine) -> None:
    """One ``SELECT 1`` on a pooled connection: raises :class:`StoreError` when the database does not answer.

    For health checks: it proves a connection can be had and used, and changes nothing.
    """
    with translate_errors(), engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def shared_database(database_url: str) -> bool:
    """Whether several workers can share the database at ``database_url`` (PostgreSQL, not SQLite).

    ``serve`` runs as a scale-out worker there (:func:`evgrid.apps.evos.system.operation_system` with a
    ``worker_id``), also when it is the only one.
    """
    return make_url(database_url).get_backend_name() == "postgresql"
