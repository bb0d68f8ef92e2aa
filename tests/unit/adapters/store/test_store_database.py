"""Database URL, engines and migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, inspect

from evgrid.adapters.store import database
from evgrid.adapters.store.database import (
    alembic_config,
    current_revision,
    database_url,
    head_revision,
    make_engine,
    translate_errors,
    upgrade,
)
from evgrid.adapters.store.models import Base
from evgrid.errors import AdapterError, StoreError


def test_database_url_explicit_then_environment_then_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVGRID_DATABASE_URL", raising=False)
    assert database_url(None) == "sqlite:///evgrid.db"
    # read when called, not at import: the module is long imported by now
    monkeypatch.setenv("EVGRID_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert database_url(None) == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:///other.db") == "sqlite:///other.db"


def test_upgrade_from_empty_creates_every_table(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        assert current_revision(engine) is None
        assert inspect(engine).get_table_names() == []
        upgrade(engine)
        assert current_revision(engine) == head_revision() == "0003"
        assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def _schema(engine: Engine) -> dict[str, object]:
    inspector = inspect(engine)
    return {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
            sorted(str(i["name"]) for i in inspector.get_indexes(name)),
        )
        for name in inspector.get_table_names()
    }


def test_upgrade_again_changes_nothing(store_url: str) -> None:
    upgrade(store_url)  # from a URL: the engine is made and disposed of inside
    engine = make_engine(store_url)
    try:
        before = _schema(engine)
        upgrade(engine)
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert _schema(engine) == before
    finally:
        engine.dispose()


def test_migrations_produce_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        # Alembic does not compare CHECK constraints: compare their names here.
        inspector = inspect(connection)
        for table in Base.metadata.sorted_tables:
            expected = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
            assert {c["name"] for c in inspector.get_check_constraints(table.name)} == expected, table.name


def test_downgrade_to_empty_and_up_again(engine: Engine) -> None:
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/pragmas.db")
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == database.SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()


def test_unreachable_database_is_one_store_error(port: int) -> None:
    engine = make_engine(f"postgresql+psycopg://evgrid@127.0.0.1:{port}/nowhere")
    try:
        with pytest.raises(StoreError) as info, translate_errors():
            upgrade(engine)
    finally:
        engine.dispose()
    assert isinstance(info.value, AdapterError)
    assert info.value.reason.startswith("database error: ")
    assert "\n" not in info.value.reason
