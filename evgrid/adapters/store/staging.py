"""The registry import's staging table and its set-based checks and upserts.

Rows checked one by one in :mod:`.registry` are loaded into a temporary table; what
needs the whole file (do two rows agree about the same premise? is a meter number on two
premises?) and the upserts are then a handful of SQL statements per target table, the
same on SQLite and PostgreSQL: ``UPDATE ... FROM`` for keys whose values changed,
``INSERT ... SELECT ... WHERE NOT EXISTS`` for new keys. Their row counts are the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    Numeric,
    Select,
    String,
    Table,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable, Index

from evgrid.adapters.store.models import (
    ID_LENGTH,
    POWER_KW,
    Base,
    ChargingStation,
    Customer,
    CustomerAccount,
    ElectricVehicle,
    Feeder,
    ServiceLocation,
    Tariff,
    Transformer,
)

# Its own MetaData: the staging table is no part of the schema the migrations create.
STAGE = Table(
    "evgrid_registry_stage",
    MetaData(),
    Column("line", Integer, primary_key=True),
    Column("customer_id", String(ID_LENGTH)),
    Column("customer_name", String(200)),
    Column("account_id", String(ID_LENGTH)),
    Column("account_status", String(8)),
    Column("tariff_id", String(ID_LENGTH)),
    Column("premise_number", String(ID_LENGTH)),
    Column("usage_point_id", String(ID_LENGTH)),
    Column("meter_number", String(ID_LENGTH)),
    Column("transformer_id", String(ID_LENGTH)),
    Column("transformer_capacity_kw", POWER_KW),
    Column("feeder_id", String(ID_LENGTH)),
    Column("feeder_capacity_kw", POWER_KW),
    Column("station_id", String(ID_LENGTH)),
    Column("station_max_kw", POWER_KW),
    Column("ev_id", String(ID_LENGTH)),
    Column("ev_battery_wh", BigInteger),
    Column("ev_max_kw", POWER_KW),
    Column("ev_rate", Boolean),
    prefixes=["TEMPORARY"],
)
COLUMNS: tuple[str, ...] = tuple(column.name for column in STAGE.c)
_ROW = itemgetter(*COLUMNS)
_NUMERIC = tuple(i for i, column in enumerate(STAGE.c) if isinstance(column.type, Numeric))
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_INDEXED = ("customer_id", "account_id", "premise_number", "usage_point_id", "meter_number",
            "transformer_id", "feeder_id", "station_id", "ev_id")


@dataclass(frozen=True, slots=True)
class Target:
    """A registry table fed from the staging table."""

    name: str  # in the report
    noun: str  # in problem messages
    table: Table
    columns: dict[str, str]  # target column -> staging column; the first is the key

    @property
    def key(self) -> str:
        """The staging column holding the target's primary key."""
        return next(iter(self.columns.values()))


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


# In foreign-key order: a row's parents are written before it.
TARGETS: tuple[Target, ...] = (
    Target("feeders", "feeder", _table(Feeder),
           {"feeder_id": "feeder_id", "capacity_kw": "feeder_capacity_kw"}),
    Target("transformers", "transformer", _table(Transformer),
           {"transformer_id": "transformer_id", "capacity_kw": "transformer_capacity_kw",
            "feeder_id": "feeder_id"}),
    Target("customers", "customer", _table(Customer),
           {"customer_id": "customer_id", "name": "customer_name"}),
    Target("customer_accounts", "account", _table(CustomerAccount),
           {"account_id": "account_id", "customer_id": "customer_id", "status": "account_status",
            "tariff_id": "tariff_id"}),
    Target("service_locations", "premise", _table(ServiceLocation),
           {"premise_number": "premise_number", "usage_point_id": "usage_point_id",
            "meter_number": "meter_number", "account_id": "account_id", "transformer_id": "transformer_id"}),
    Target("charging_stations", "station", _table(ChargingStation),
           {"station_id": "station_id", "premise_number": "premise_number", "max_power_kw": "station_max_kw"}),
    Target("evs", "EV", _table(ElectricVehicle),
           {"ev_id": "ev_id", "owner_account_id": "account_id", "battery_wh": "ev_battery_wh",
            "max_power_kw": "ev_max_kw", "ev_rate": "ev_rate"}),
)
# Unique columns of a premise besides its number: (staging column, noun)
_PREMISE_UNIQUE = (("meter_number", "meter number"), ("usage_point_id", "usage point"))


def create(connection: Connection) -> None:
    """(Re)create the empty staging table on this connection.

    On SQLite a failed import can leave it behind (DDL outside a transaction is not
    rolled back), hence the drop first.
    """
    connection.execute(DropTable(STAGE, if_exists=True))
    connection.execute(CreateTable(STAGE))


def load(connection: Connection, rows: Sequence[dict[str, object]]) -> None:
    """Insert checked rows, keyed by :data:`COLUMNS`, through the driver's bulk path.

    The driver is called directly (COPY on psycopg, else one ``executemany``) because
    SQLAlchemy's per-row parameter processing costs three times the insert itself; the
    values are plain ``str``/``int``/``Decimal``.
    """
    if not rows:
        return
    values = [_ROW(row) for row in rows]
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        # COPY is PostgreSQL's bulk path: five times executemany's speed here (100,000 rows).
        cursor = connection.connection.cursor()
        try:
            with cursor.copy(f"COPY {STAGE.name} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    placeholder = _PLACEHOLDERS.get(dialect.paramstyle)
    if placeholder is None:  # a driver we do not know the syntax of: the portable way
        connection.execute(insert(STAGE), [dict(row) for row in rows])
        return
    if dialect.name == "sqlite":
        values = [_decimals_as_text(row) for row in values]
    connection.exec_driver_sql(_insert_sql(placeholder), values)


def _decimals_as_text(row: tuple[object, ...]) -> tuple[object, ...]:
    """sqlite3 cannot bind Decimal; text in a NUMERIC column is stored as the number."""
    values = list(row)
    for i in _NUMERIC:
        if values[i] is not None:
            values[i] = str(values[i])
    return tuple(values)


def _insert_sql(placeholder: str) -> str:
    names = ", ".join(COLUMNS)
    marks = ", ".join([placeholder] * len(COLUMNS))
    return f"INSERT INTO {STAGE.name} ({names}) VALUES ({marks})"


def index(connection: Connection) -> None:
    """Index the key columns after loading (cheaper than row by row), then gather statistics."""
    for name in _INDEXED:
        connection.execute(CreateIndex(Index(f"ix_evgrid_registry_stage_{name}", STAGE.c[name])))
    if connection.dialect.name == "postgresql":
        # Autovacuum never analyses temporary tables; without statistics the planner
        # picks nested loops over the self-joins and a 100,000-row check takes minutes.
        connection.exec_driver_sql(f"ANALYZE {STAGE.name}")


def drop(connection: Connection) -> None:
    """Drop the staging table (its indexes go with it)."""
    connection.execute(DropTable(STAGE, if_exists=True))


def targets(absent: frozenset[str] = frozenset()) -> tuple[Target, ...]:
    """:data:`TARGETS` without the staging columns ``absent`` from the file: those are kept as stored."""
    if not absent:
        return TARGETS
    return tuple(replace(t, columns={name: column for name, column in t.columns.items() if column not in absent})
                 for t in TARGETS)


def conflicts(connection: Connection, limit: int, absent: frozenset[str] = frozenset()) -> list[str]:
    """Rows that disagree with an earlier row, or with the database, about the same thing.

    Also rows naming a tariff that is not imported. ``absent``: optional columns the
    file does not have.
    """
    problems: list[tuple[int, str]] = []
    if "tariff_id" not in absent:
        problems += _unknown_tariffs(connection, limit)
    for target in targets(absent):
        values = [source for source in target.columns.values() if source != target.key]
        problems += _disagreements(connection, target.key, values, target.noun, limit)
    for column, noun in _PREMISE_UNIQUE:
        problems += _disagreements(connection, column, ["premise_number"], noun, limit, shared=True)
        problems += _taken(connection, column, noun, limit)
    problems.sort()
    return [message for _line, message in problems[:limit]]


def _first_by_line(pairs: Select[Any], limit: int) -> Select[Any]:
    """The first ``limit`` rows of ``pairs`` by line, planned without the LIMIT.

    On PostgreSQL, ``ORDER BY line LIMIT n`` over a join that finds nothing makes the
    planner bet on a fast-start nested loop and lose (minutes for 100,000 rows); a
    materialised CTE is planned on its own, for all its rows.
    """
    found = pairs.cte("found").prefix_with("MATERIALIZED", dialect="postgresql")
    return select(found).order_by(found.c.line).limit(limit)


def _disagreements(connection: Connection, key: str, values: Sequence[str], noun: str, limit: int,
                   *, shared: bool = False) -> list[tuple[int, str]]:
    """Rows whose ``values`` differ from those on the first row with the same ``key``."""
    row, first = STAGE.alias("row"), STAGE.alias("first")
    firsts = (
        select(STAGE.c[key].label("key"), func.min(STAGE.c.line).label("line"))
        .where(STAGE.c[key].is_not(None)).group_by(STAGE.c[key])
        .having(func.count() > 1)  # a key on one row only cannot disagree: skip it early
        .subquery("firsts")
    )
    pairs = (
        select(row.c.line, first.c.line.label("first_line"), row.c[key].label("key_value"),
               *(row.c[v].label(f"mine_{i}") for i, v in enumerate(values)),
               *(first.c[v].label(f"theirs_{i}") for i, v in enumerate(values)))
        .select_from(row.join(firsts, row.c[key] == firsts.c.key).join(first, first.c.line == firsts.c.line))
        .where(row.c.line != first.c.line, or_(*(row.c[v].is_distinct_from(first.c[v]) for v in values)))
    )
    found = []
    for line, first_line, key_value, *pair in connection.execute(_first_by_line(pairs, limit)):
        mine, theirs = pair[: len(values)], pair[len(values):]
        if shared:
            message = (f"{noun} {key_value!r} is on premise {mine[0]!r}, "
                       f"but line {first_line} puts it on premise {theirs[0]!r}")
        else:
            differing = [i for i, v in enumerate(values) if mine[i] != theirs[i]]
            said = ", ".join(f"{values[i]}={_show(mine[i])}" for i in differing)
            earlier = ", ".join(f"{values[i]}={_show(theirs[i])}" for i in differing)
            message = f"{noun} {key_value!r} has {said}, but line {first_line} has {earlier}"
        found.append((int(line), f"line {line}: {message}"))
    return found


def _taken(connection: Connection, column: str, noun: str, limit: int) -> list[tuple[int, str]]:
    """Meter numbers or usage points the database already has on another premise."""
    premises = _table(ServiceLocation)
    pairs = (
        select(STAGE.c.line, STAGE.c[column].label("value"), premises.c.premise_number)
        .join(premises, premises.c[column] == STAGE.c[column])
        .where(premises.c.premise_number != STAGE.c.premise_number)
    )
    found: dict[str, tuple[int, str]] = {}
    for line, value, other in connection.execute(_first_by_line(pairs, limit)):
        # the rows of one premise agree (checked first), so report each value once
        message = f"line {line}: {noun} {value!r} is already registered to premise {other!r}"
        found.setdefault(value, (int(line), message))
    return list(found.values())


def _unknown_tariffs(connection: Connection, limit: int) -> list[tuple[int, str]]:
    """Rows whose ``tariff_id`` is no imported tariff; each id once."""
    tariffs = _table(Tariff)
    pairs = (
        select(STAGE.c.line, STAGE.c.tariff_id.label("value"))
        .where(STAGE.c.tariff_id.is_not(None), ~exists().where(tariffs.c.tariff_id == STAGE.c.tariff_id))
    )
    found: dict[str, tuple[int, str]] = {}
    for line, value in connection.execute(_first_by_line(pairs, limit)):
        message = f"line {line}: tariff_id {value!r} is not an imported tariff (import it first: evgrid tariff import)"
        found.setdefault(value, (int(line), message))
    return list(found.values())


def _show(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return repr("yes" if value else "no")
    if isinstance(value, Decimal):
        return repr(f"{value.normalize():f}")  # '60', as in the file, not the column's '60.000'
    return repr(str(value))


def apply(connection: Connection, absent: frozenset[str] = frozenset()) -> dict[str, tuple[int, int, int]]:
    """Upsert every target from the staging table; (inserted, updated, unchanged) per table.

    Columns fed by a staging column in ``absent`` are left as stored (new rows: the default).
    """
    return {target.name: _upsert(connection, target) for target in targets(absent)}


def _upsert(connection: Connection, target: Target) -> tuple[int, int, int]:
    table, key = target.table, target.key
    # Several rows may share a key (a premise with two EVs); conflicts() has made sure
    # they agree, so any of them may update the target and DISTINCT leaves one to insert.
    # (Picking "the first row per key" instead costs PostgreSQL a million index probes.)
    source = (
        select(*(STAGE.c[column].label(name) for name, column in target.columns.items()))
        .where(STAGE.c[key].is_not(None))
        .subquery("source")
    )
    key_name, *value_names = target.columns
    matches = table.c[key_name] == source.c[key_name]
    # Updates first: a premise giving up a meter number frees it for a new premise.
    updated = connection.execute(
        update(table)
        .values({name: source.c[name] for name in value_names})
        .where(matches, or_(*(table.c[name].is_distinct_from(source.c[name]) for name in value_names)))
    ).rowcount
    new_rows = select(source).distinct().where(~exists().where(matches)).subquery("new_rows")
    inserted = connection.execute(
        # in key order: appending to the primary-key B-tree beats inserting at random
        insert(table).from_select(list(target.columns), select(new_rows).order_by(new_rows.c[key_name])),
        # SQLAlchemy keeps an INSERT's row count only when asked
        execution_options={"preserve_rowcount": True},
    ).rowcount
    total = connection.execute(select(func.count(STAGE.c[key].distinct()))).scalar_one()
    return inserted, updated, int(total) - inserted - updated
