"""The inbound journals bind a MessageID to its message (verb, noun, digest), on the SQL
store (SQLite and PostgreSQL, revision 0003) and on the services' SQLite store; entries
journaled before that (revision 0002 rows, old SQLite files) still replay."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from sqlalchemy import Engine, func, insert, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    session_factory,
    upgrade,
)
from evgrid.adapters.store.sqlite_store import SqliteStore
from evgrid.adapters.store.uow import SqlInboundJournal
from evgrid.cim.codec import Codec
from evgrid.messaging.router import Router, message_digest
from tests.unit.messaging.test_router_inbound import request, result
from tests.unit.messaging.test_router_message_ids import readings, reason, two_routes

codec = Codec()


class JournalOnly:
    """A unit of work with nothing but the SQL journal: what the router needs of it."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> JournalOnly:
        self.db = self._sessions()
        self.inbound = SqlInboundJournal(self.db)
        return self

    def commit(self) -> None:
        self.db.commit()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.db.rollback()
        self.db.close()


def router_on(unit_of_work: Any) -> Router:
    return Router(two_routes()[0].routes, codec=codec, source="test", unit_of_work=unit_of_work)


def rows(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with sessions() as db:
        return [tuple(r) for r in db.execute(select(
            m.InboundMessage.message_id, m.InboundMessage.verb, m.InboundMessage.noun, m.InboundMessage.source,
            m.InboundMessage.reply, m.InboundMessage.payload_digest).order_by(m.InboundMessage.message_id))]


def test_the_sql_journal_keeps_verb_noun_and_digest(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        SqlInboundJournal(db).remember("J-1", "create", "ChargingRequest", "portal-1", b"<r/>", "ab" * 32)
    with sessions() as db:
        assert SqlInboundJournal(db).reply_for("J-1") == ("portal-1", b"<r/>", "create", "ChargingRequest", "ab" * 32)
        assert SqlInboundJournal(db).reply_for("J-2") is None


def test_a_reused_message_id_is_refused_on_the_sql_journal_and_stores_nothing(sessions: sessionmaker[Session]) -> None:
    router = router_on(lambda: JournalOnly(sessions))
    first = router.handle(request("S-1"), sender="portal-1")
    assert result(first) == ("OK", None)
    before = rows(sessions)
    assert before[0][5] == message_digest(codec.decode(request("S-1")))
    other_noun = router.handle(readings("S-1"), sender="portal-1")
    other_body = router.handle(request("S-1").replace(b"24000", b"12000"), sender="portal-1")
    assert result(other_noun) == result(other_body) == ("FAILED", "2.6")
    assert "'created MeterReadings'" in reason(other_noun) and "another payload" in reason(other_body)
    assert rows(sessions) == before
    assert router.handle(request("S-1"), sender="portal-1") == first


def test_rows_journaled_at_0002_upgrade_to_0003_and_still_replay(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0002")
        assert "payload_digest" not in {c["name"] for c in inspect(engine).get_columns("inbound_messages")}
        table = m.InboundMessage.__table__
        with engine.begin() as connection:  # the columns revision 0002 has
            connection.execute(insert(table), [
                {"message_id": "OLD-1", "verb": "create", "noun": "ChargingRequest", "source": "portal-1",
                 "reply": b"<the reply of 2025/>", "received_at": m.utc_now()},
                {"message_id": "OLD-2", "verb": "created", "noun": "MeterReadings", "source": None,
                 "reply": b"<another/>", "received_at": m.utc_now()},
            ])
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        sessions = session_factory(engine)
        assert [r[5] for r in rows(sessions)] == [None, None]
        router = router_on(lambda: JournalOnly(sessions))
        assert router.handle(request("OLD-1"), sender="portal-1") == b"<the reply of 2025/>"
        assert router.handle(readings("OLD-2")) == b"<another/>"
        assert result(router.handle(readings("OLD-1"), sender="portal-1")) == ("FAILED", "2.6")
        with sessions() as db:
            assert db.scalar(select(func.count()).select_from(m.InboundMessage)) == 2
    finally:
        engine.dispose()


def test_downgrade_to_0002_keeps_the_journal(engine: Engine) -> None:
    sessions = session_factory(engine)
    router_on(lambda: JournalOnly(sessions)).handle(request("D-1"))
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert "payload_digest" not in {c["name"] for c in inspect(engine).get_columns("inbound_messages")}
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT message_id FROM inbound_messages").scalars().all() == ["D-1"]


def test_the_sqlite_store_journal_binds_message_ids(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "service.db")
    try:
        router = router_on(store.unit_of_work)
        first = router.handle(request("Q-1"))
        assert router.handle(request("Q-1")) == first
        assert result(router.handle(readings("Q-1"))) == ("FAILED", "2.6")
        assert result(router.handle(request("Q-1").replace(b"24000", b"12000"))) == ("FAILED", "2.6")
        (row,) = store.query("SELECT message_id, verb, noun, payload_digest FROM inbound")
        assert tuple(row) == ("Q-1", "create", "ChargingRequest", message_digest(codec.decode(request("Q-1"))))
    finally:
        store.close()


def test_an_old_sqlite_store_file_gets_the_column_and_its_rows_still_replay(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE inbound (message_id TEXT PRIMARY KEY, verb TEXT NOT NULL, noun TEXT NOT NULL, source TEXT,
                              reply BLOB NOT NULL, received_at TEXT NOT NULL);
        INSERT INTO inbound VALUES ('OLD-1', 'create', 'ChargingRequest', 'portal-1', X'3C6F6C642F3E',
                                    '2025-11-26T18:40:00.000000Z');
    """)
    old.commit()
    old.close()
    for _ in range(2):  # opened twice: the column is added once
        store = SqliteStore(path)
        try:
            columns = [r["name"] for r in store.query("PRAGMA table_info(inbound)")]
            assert columns.count("payload_digest") == 1
            router = router_on(store.unit_of_work)
            assert router.handle(request("OLD-1"), sender="portal-1") == b"<old/>"
            assert result(router.handle(readings("OLD-1"), sender="portal-1")) == ("FAILED", "2.6")
            assert result(router.handle(request("NEW-1")))[0] == "OK"
        finally:
            store.close()
    store = SqliteStore(path)
    try:
        assert [r["message_id"] for r in store.query("SELECT message_id FROM inbound ORDER BY 1")] == ["NEW-1", "OLD-1"]
    finally:
        store.close()
