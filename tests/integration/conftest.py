"""Integration fixtures: the store fixtures (SQLite and PostgreSQL) are shared."""

from pathlib import Path

from evgrid.adapters.store.database import make_engine, session_factory, upgrade
from evgrid.adapters.store.registry import import_registry
from evgrid.adapters.store.tariff import import_tariff
from tests.integration.test_iec61850 import ied_factory  # noqa: F401  (shared with test_power_limit)
from tests.unit.store.conftest import engine, examples, sessions, store_url  # noqa: F401


def seed_store(url: str, folder: Path) -> None:
    """Migrate the database at ``url`` and load ``folder``/registry.csv and tariff.toml."""
    database = make_engine(url)
    try:
        upgrade(database)
        with session_factory(database).begin() as db:
            import_registry(db, folder / "registry.csv")
            import_tariff(db, folder / "tariff.toml")
    finally:
        database.dispose()
