"""Database URL, engines and migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, column, insert, inspect, select
from sqlalchemy import table as sa_table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import TableClause

from evgrid.adapters.store import database
from evgrid.adapters.store.database import (
    alembic_config,
    current_revision,
    database_url,
    head_revision,
    make_engine,
    session_factory,
    translate_errors,
    upgrade,
)
from evgrid.adapters.store.models import (
    Base,
    ChargingSession,
    CustomerAccount,
    ElectricVehicle,
    Tariff,
    UtcDateTime,
)
from evgrid.adapters.store.uow import SqlRegistry, SqlSessions
from evgrid.errors import AdapterError, StoreError
from evgrid.operations.model import Rate


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
        assert current_revision(engine) == head_revision() == "0006"
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


def _rows_at_0003() -> list[tuple[TableClause, list[dict[str, object]]]]:
    """A little of everything revision 0004 changes, in the columns revision 0003 has."""
    at = datetime(2026, 1, 15, 18, tzinfo=UTC)
    when = column("at", UtcDateTime())

    def table(name: str, *names: str, times: tuple[str, ...] = ()) -> TableClause:
        return sa_table(name, *(column(n) for n in names), *(column(t, when.type) for t in times))

    session = {"request_mrid": "R", "ev_id": "EV-1", "station_id": "S-1", "premise_number": "P-1",
               "owner_account_id": "A-1", "host_account_id": "A-1", "state": "billing", "requested_wh": 1000,
               "max_power_kw": 7.2, "plugged_in_at": at, "departure_at": at, "version": 1, "created_at": at,
               "updated_at": at}
    return [
        (table("tariffs", "tariff_id", "name", "currency", "timezone", "third_party_price_per_kwh",
               times=("imported_at",)),
         [{"tariff_id": "T-OLD", "name": "old", "currency": "EUR", "timezone": "UTC",
           "third_party_price_per_kwh": 0.3, "imported_at": at},
          {"tariff_id": "T-NEW", "name": "new", "currency": "EUR", "timezone": "UTC",
           "third_party_price_per_kwh": 0.3, "imported_at": at.replace(month=6)}]),
        (table("customers", "customer_id", "name"), [{"customer_id": "C-1", "name": "c"}]),
        (table("customer_accounts", "account_id", "customer_id", "status"),
         [{"account_id": "A-1", "customer_id": "C-1", "status": "open"}]),
        (table("transformers", "transformer_id", "capacity_kw"), [{"transformer_id": "TX", "capacity_kw": 50}]),
        (table("service_locations", "premise_number", "usage_point_id", "meter_number", "account_id",
               "transformer_id"),
         [{"premise_number": "P-1", "usage_point_id": "UP-1", "meter_number": "M-1", "account_id": "A-1",
           "transformer_id": "TX"}]),
        (table("charging_stations", "station_id", "premise_number", "max_power_kw"),
         [{"station_id": "S-1", "premise_number": "P-1", "max_power_kw": 7.2}]),
        (table("evs", "ev_id", "owner_account_id", "battery_wh", "max_power_kw"),
         [{"ev_id": "EV-1", "owner_account_id": "A-1", "battery_wh": 60_000, "max_power_kw": 11}]),
        (table("charging_sessions", *session, "session_id", "kind", "tariff_id",
               times=("plugged_in_at", "departure_at", "created_at", "updated_at")),
         [session | {"session_id": "S-HOME", "kind": "home", "tariff_id": "T-NEW"},
          session | {"session_id": "S-AWAY", "kind": "thirdParty", "tariff_id": "T-OLD"},
          session | {"session_id": "S-NEW", "kind": "home", "tariff_id": None, "state": "requested"}]),
    ]


def test_a_database_at_0003_upgrades_to_0004_with_its_rows(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0003")
        with engine.begin() as connection:
            for table, rows in _rows_at_0003():
                # the times as their own type (aware UTC), the rest as given
                connection.execute(insert(table), rows)
        upgrade(engine, "0004")
        assert current_revision(engine) == "0004"
        with session_factory(engine)() as db:
            # the newest tariff is the default (what "the tariff" meant before 0004)
            assert {t.tariff_id: t.is_default for t in db.scalars(select(Tariff))} == {"T-OLD": False, "T-NEW": True}
            assert db.get_one(Tariff, "T-OLD").plain_price_per_kwh is None
            assert db.get_one(CustomerAccount, "A-1").tariff_id is None
            assert db.get_one(ElectricVehicle, "EV-1").ev_rate is True
            rates = {s.session_id: s.rate for s in db.scalars(select(ChargingSession))}
            assert rates == {"S-HOME": "evNight", "S-AWAY": "quickCharge", "S-NEW": None}
            registry = SqlRegistry(db, None)
            assert registry.tariff().tariff_id == "T-NEW"
            ev = registry.ev("EV-1")
            assert ev is not None and (ev.ev_rate, ev.owner.tariff_id) == (True, None)
            assert SqlSessions(db).get("S-AWAY").rate is Rate.QUICK_CHARGE
        with engine.connect() as connection:  # and back to 0003
            if connection.dialect.name == "sqlite":  # batch mode copies tables: as upgrade() does
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            with connection.begin():
                config = alembic_config()
                config.attributes["connection"] = connection
                command.downgrade(config, "0003")
        assert current_revision(engine) == "0003"
        assert "ev_rate" not in {c["name"] for c in inspect(engine).get_columns("evs")}
        upgrade(engine, "0004")
        assert current_revision(engine) == "0004"
    finally:
        engine.dispose()


def test_at_most_one_tariff_is_the_default(engine: Engine) -> None:
    with session_factory(engine).begin() as db:
        db.add_all(Tariff(tariff_id=t, name=t, currency="EUR", timezone="UTC", third_party_price_per_kwh=1,
                          is_default=True) for t in ("A", "B"))
        with pytest.raises(IntegrityError):
            db.flush()
        db.rollback()
