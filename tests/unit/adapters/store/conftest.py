"""Store fixtures: every store test runs on SQLite (a file) and on PostgreSQL.

The PostgreSQL variant needs ``EVGRID_DATABASE_URL`` (it skips without it, and fails
under ``EVGRID_REQUIRE_SERVICES=1``). Each test gets a schema of its own, created empty
and dropped afterwards, reached through ``search_path`` in the URL, so parallel runs and
other suites on the same database never meet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from evgrid.adapters.store.database import make_engine, session_factory, upgrade
from evgrid.adapters.store.testing import scratch_schema

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


@pytest.fixture(scope="session")
def examples() -> Path:
    """The example files at the repository root (``examples/``)."""
    return EXAMPLES


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'evgrid.db'}"
        return
    with scratch_schema(request.getfixturevalue("database_url")) as url:
        yield url


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine on a database upgraded to the newest revision."""
    engine = make_engine(store_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """The store's session factory on ``engine``."""
    return session_factory(engine)


EXAMPLE_TARIFFS = ("tariff.toml", "tariff-peak.toml")  # the default first


def import_example_tariffs(db: Session, examples: Path = EXAMPLES) -> None:
    """Import the example tariffs (before the example registry: its accounts name them)."""
    from evgrid.adapters.store.tariff import import_tariff

    for name in EXAMPLE_TARIFFS:
        import_tariff(db, examples / name)


REGISTRY_HEADER = ("customer_id,customer_name,account_id,account_status,premise_number,usage_point_id,meter_number,"
                   "transformer_id,transformer_capacity_kw,feeder_id,feeder_capacity_kw,station_id,station_max_kw,"
                   "ev_id,ev_battery_kwh,ev_max_kw")


def write_registry(path: Path, count: int, *, transformer_kw: float = 50.0, station_kw: float = 11.0,
                   battery_kwh: int = 60) -> Path:
    """A registry CSV of ``count`` premises on one transformer, each with a station and an EV.

    Premise ``i`` is P-i, with customer C-i, account A-i, usage point UP-i, meter M-i,
    station S-i and EV EV-i (numbered from 1, four digits).
    """
    lines = [REGISTRY_HEADER]
    for i in range(1, count + 1):
        n = f"{i:04d}"
        lines.append(f"C-{n},Customer {n},A-{n},open,P-{n},UP-{n},M-{n},T-1,{transformer_kw},F-1,10000,"
                     f"S-{n},{station_kw},EV-{n},{battery_kwh},{station_kw}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
