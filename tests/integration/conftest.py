"""Integration fixtures: the store fixtures (SQLite and PostgreSQL) are shared."""

from tests.unit.store.conftest import engine, examples, sessions, store_url  # noqa: F401
