"""Integration fixtures: the store fixtures (SQLite and PostgreSQL) are shared."""

from pathlib import Path

from evgrid.adapters.store.registry import seed
from tests.integration.test_iec61850 import ied_factory  # noqa: F401  (shared with test_power_limit)
from tests.unit.adapters.store.conftest import engine, examples, sessions, store_url  # noqa: F401


def seed_store(url: str, folder: Path) -> None:
    """Migrate the database at ``url`` and load ``folder``/registry.csv and tariff.toml."""
    seed(url, folder / "registry.csv", folder / "tariff.toml")
