"""A small SQLite store (stdlib sqlite3) for services that keep their own data.

The reference billing and MDM services stand in for external systems, and a portal host
runs at the customer's side, so each keeps its data in its own file rather than in the
operation system's schema. Each store gives them what exactly-once needs:

- a journal of applied MessageIDs, the message each is bound to (verb, noun, digest)
  and their replies, used by :class:`evgrid.messaging.router.Router` (a replay gets the
  stored reply, the MessageID on another message is refused);
- a unit of work: one ``BEGIN IMMEDIATE`` transaction per message, so the handler's rows,
  the journal entry and any queued outbound message commit together or not at all;
- an outbox table (:class:`~evgrid.messaging.outbox.OutboxStore`) for what the
  service sends on, e.g. billing's bill information to the operation system.

One connection serialised by a lock: a reference service handles a few messages per
second, and a single writer is what SQLite allows anyway.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from evgrid.messaging.outbox import Due, OutboxItem

MEMORY = ":memory:"

_BASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound (
    message_id TEXT PRIMARY KEY, verb TEXT NOT NULL, noun TEXT NOT NULL, source TEXT,
    reply BLOB NOT NULL, received_at TEXT NOT NULL, payload_digest TEXT);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL UNIQUE, destination TEXT NOT NULL,
    body BLOB NOT NULL, status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL, delivered_at TEXT, last_error TEXT,
    reply BLOB);
"""


def utc_text(moment: datetime) -> str:
    """Fixed-width UTC text: compares in SQL as it does in time."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"


def from_utc_text(text: str) -> datetime:
    """The aware UTC datetime :func:`utc_text` wrote."""
    return datetime.fromisoformat(text)


# Columns added since a table was first created: a file written by an older evgrid gets
# them (NULL in its rows) when it is opened. CREATE TABLE IF NOT EXISTS leaves it alone.
_ADDED_COLUMNS = (("inbound", "payload_digest", "TEXT"),)


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    for table, column, kind in _ADDED_COLUMNS:
        if column not in {row["name"] for row in connection.execute(f"PRAGMA table_info({table})")}:
            connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


class SqliteStore:
    """One SQLite database (a file, or :data:`MEMORY`) with journal, outbox and the service's tables."""

    def __init__(self, path: str | Path, schema: str = "") -> None:
        self.path = str(path)
        self.lock = threading.RLock()
        self.connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        self.connection.row_factory = sqlite3.Row
        if self.path != MEMORY:
            # WAL: readers (a test, an operator) never block the service; NORMAL loses no
            # committed transaction when the process is killed, only on power loss.
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.executescript(_BASE_SCHEMA + schema)
        _add_missing_columns(self.connection)
        self.after_commit: list[Callable[[], None]] = []

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.connection.close()

    def unit_of_work(self) -> SqliteUnitOfWork:
        """A new unit of work (enter it to begin the transaction)."""
        return SqliteUnitOfWork(self)

    def query(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Rows of a read outside any unit of work."""
        with self.lock:
            return list(self.connection.execute(sql, params))

    def write(self, sql: str, *params: Any) -> int:
        """One statement in its own transaction; returns the number of rows it changed."""
        with self.lock:
            return self.connection.execute(sql, params).rowcount


class _Journal:
    """The Router's InboundJournal on the ``inbound`` table."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def reply_for(self, message_id: str) -> tuple[str | None, bytes, str, str, str | None] | None:
        row = self._db.execute("SELECT source, reply, verb, noun, payload_digest FROM inbound WHERE message_id = ?",
                               (message_id,)).fetchone()
        return (row["source"], bytes(row["reply"]), row["verb"], row["noun"], row["payload_digest"]) if row else None

    def remember(self, message_id: str, verb: str, noun: str, source: str | None, reply: bytes,
                 digest: str | None = None) -> None:
        self._db.execute("INSERT INTO inbound (message_id, verb, noun, source, reply, received_at, payload_digest) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (message_id, verb, noun, source, reply,
                                                          utc_text(datetime.now(UTC)), digest))


class SqliteUnitOfWork:
    """One transaction: what the Router needs (``inbound``, ``commit``) plus ``db`` for handlers."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.db = store.connection
        self.inbound = _Journal(store.connection)
        self.now = datetime.now(UTC)

    def __enter__(self) -> SqliteUnitOfWork:
        self._store.lock.acquire()
        try:
            self.now = datetime.now(UTC)
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._store.lock.release()
            raise
        return self

    def commit(self) -> None:
        self.db.execute("COMMIT")
        for hook in self._store.after_commit:
            hook()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        finally:
            self._store.lock.release()

    def queue(self, message_id: str, destination: str, body: bytes) -> None:
        """Put a message in the outbox, in this transaction; the same MessageID is queued once."""
        self.db.execute("INSERT OR IGNORE INTO outbox (message_id, destination, body, next_attempt_at) "
                        "VALUES (?, ?, ?, ?)", (message_id, destination, body, utc_text(self.now)))


class SqliteOutbox:
    """:class:`~evgrid.messaging.outbox.OutboxStore` on a store's ``outbox`` table."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def pending(self, limit: int, *, due: Due) -> list[OutboxItem]:
        # Rows of the destinations whose oldest row is due (see OutboxStore.pending); a
        # portal host has one destination per site, so matching them here is cheap.
        rows = self._store.query(
            "SELECT o.id, o.message_id, o.destination, o.body, o.attempts, o.next_attempt_at FROM outbox o "
            "JOIN (SELECT destination, MIN(id) AS head_id FROM outbox WHERE status = 'pending' GROUP BY destination) h "
            "ON h.destination = o.destination JOIN outbox head ON head.id = h.head_id "
            "WHERE o.status = 'pending' AND (head.next_attempt_at <= ? OR head.next_attempt_at > ?) ORDER BY o.id",
            utc_text(due.now), utc_text(due.now + due.horizon))
        return [OutboxItem(r["id"], r["message_id"], r["destination"], bytes(r["body"]), r["attempts"],
                           from_utc_text(r["next_attempt_at"])) for r in rows if due.matches(r["destination"])][:limit]

    def claim(self, item: OutboxItem, until: datetime) -> bool:
        return self._store.write("UPDATE outbox SET attempts = ?, next_attempt_at = ? WHERE id = ? "
                                 "AND status = 'pending' AND attempts = ?",
                                 item.attempts + 1, utc_text(until), item.id, item.attempts) == 1

    def delivered(self, item: OutboxItem, reply: bytes, at: datetime) -> None:
        self._store.write("UPDATE outbox SET status = 'delivered', delivered_at = ?, reply = ?, last_error = NULL "
                          "WHERE id = ?", utc_text(at), reply, item.id)

    def retry(self, item: OutboxItem, error: str, at: datetime) -> None:
        self._store.write("UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ?",
                          utc_text(at), error, item.id)

    def give_up(self, item: OutboxItem, error: str) -> None:
        self._store.write("UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ?", error, item.id)
