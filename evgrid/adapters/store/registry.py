"""Import the registry CSV: customers, accounts, premises, meters, transformers, stations, EVs.

File format: UTF-8 (a byte-order mark is accepted), comma-separated, one header line
naming the columns below in any order; other columns are ignored. One row per premise,
optionally with one charging station and one EV. An account with several EVs is several
rows with the same premise; their premise, account, customer and transformer columns
must then agree. Blank lines are skipped. Surrounding spaces are trimmed.

====================== ======== =====================================================
column                 required meaning
====================== ======== =====================================================
customer_id            yes      CIM Customer mRID
customer_name          yes      the customer's name (at most 200 characters)
account_id             yes      CIM CustomerAccount billed at the premise; owns the EV
account_status         yes      ``open`` or ``closed`` (a closed account cannot charge)
premise_number         yes      the premise (service location) number
usage_point_id         yes      CIM UsagePoint mRID, unique across premises
meter_number           yes      the meter's number, unique across premises
transformer_id         yes      the distribution transformer feeding the premise
transformer_capacity_kw yes     the transformer's capacity, kW
feeder_id              no       the feeder of the transformer; empty: none modelled
feeder_capacity_kw     if feeder the feeder's capacity, kW
station_id             no       the charging station at the premise; empty: none
station_max_kw         if station the station's maximum power, kW
ev_id                  no       the utility-assigned EV Id; empty: no EV on this row
ev_battery_kwh         if EV    usable battery capacity, kWh (stored as integer Wh)
ev_max_kw              if EV    the EV's maximum charging power, kW
tariff_id              no       the account's tariff (an imported tariff id); empty:
                                the default tariff
ev_rate                no       the EV is enrolled in the EV rate: ``yes``/``no`` or
                                ``true``/``false``; empty: enrolled. Only with an EV.
====================== ======== =====================================================

The columns ``tariff_id`` and ``ev_rate`` may be left out of the header altogether:
every account and EV then keeps what it has (a new account gets the default tariff, a
new EV is enrolled). Every other column must be in the header, even if empty.

Identifiers are at most 64 characters. Powers are positive decimals with at most three
decimals; a battery is a positive number of kWh that is a whole number of Wh.

Semantics: an upsert. A row whose key is new is inserted, a known key with changed
values is updated, an unchanged one is left alone, so importing the same file twice
changes nothing. Nothing is ever deleted. The whole file is one transaction (the
caller's): a bad row rejects the file and nothing of it is written. Problems are
reported with their CSV line numbers: a missing column, an empty required field, a
non-numeric or non-positive kW, an unknown account status, a ``tariff_id`` that is
no imported tariff (import tariffs first), an ``ev_rate`` not yes/no, two rows that disagree about
the same customer, account, premise, transformer, feeder, station or EV, and a meter
number or usage point used by two premises (in the file, or in the file and the
database). A transformer's base-load curve is not in the file and is kept as it is.

Speed: rows are checked in Python and loaded in batches (``executemany``) into a
temporary staging table; the cross-row checks and the upserts are then a few set-based
statements per table, so memory stays flat and a million rows take seconds.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session

from evgrid.adapters.store import staging
from evgrid.adapters.store.database import make_engine, session_factory, upgrade
from evgrid.adapters.store.models import ID_LENGTH, bump_registry_version
from evgrid.adapters.store.tariff import import_tariff
from evgrid.errors import ImportRejected

COLUMNS: tuple[str, ...] = (
    "customer_id", "customer_name", "account_id", "account_status",
    "premise_number", "usage_point_id", "meter_number",
    "transformer_id", "transformer_capacity_kw", "feeder_id", "feeder_capacity_kw",
    "station_id", "station_max_kw", "ev_id", "ev_battery_kwh", "ev_max_kw",
)
# May be left out of the header: the stored values are then kept (see the module docstring).
OPTIONAL_COLUMNS: tuple[str, ...] = ("tariff_id", "ev_rate")
EV_RATE_VALUES = {"yes": True, "true": True, "no": False, "false": False}
ACCOUNT_STATUSES = frozenset({"open", "closed"})
MAX_PROBLEMS = 20
DEFAULT_BATCH_SIZE = 10_000
_MAX_KW = Decimal(10) ** 7  # Numeric(10, 3)
_MAX_KWH = Decimal(10) ** 9
_NAME_LENGTH = 200
_REQUIRED = ("customer_id", "customer_name", "account_id", "account_status", "premise_number",
             "usage_point_id", "meter_number", "transformer_id", "transformer_capacity_kw")
# optional id -> the columns it needs, and that must stay empty without it
_DEPENDENT = {
    "feeder_id": ("feeder_capacity_kw",),
    "station_id": ("station_max_kw",),
    "ev_id": ("ev_battery_kwh", "ev_max_kw"),
}


@dataclass(frozen=True, slots=True)
class TableCounts:
    """What an import did to one table."""

    inserted: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        """Distinct keys of this table in the file."""
        return self.inserted + self.updated + self.unchanged


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of one registry import."""

    source: str
    rows: int
    tables: Mapping[str, TableCounts]
    seconds: float

    @property
    def changed(self) -> bool:
        """True when any row was inserted or updated."""
        return any(c.inserted or c.updated for c in self.tables.values())

    def summary(self) -> str:
        """One line per table: ``premises: 6 (6 new, 0 updated, 0 unchanged)``."""
        lines = [f"{self.source}: {self.rows} rows in {self.seconds:.2f} s"]
        for name, c in self.tables.items():
            lines.append(f"  {name}: {c.total} ({c.inserted} new, {c.updated} updated, {c.unchanged} unchanged)")
        return "\n".join(lines)


class _Problems:
    """Collects problems up to a limit and counts the rest."""

    def __init__(self, limit: int = MAX_PROBLEMS) -> None:
        self.listed: list[str] = []
        self.more = 0
        self._limit = limit

    def add(self, problem: str) -> None:
        if len(self.listed) < self._limit:
            self.listed.append(problem)
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.listed)


def import_registry(session: Session, csv_path: str | Path, *,
                    batch_size: int = DEFAULT_BATCH_SIZE) -> ImportReport:
    """Upsert the registry CSV at ``csv_path`` inside ``session``'s transaction.

    The caller commits (or rolls back); on :class:`ImportRejected` nothing of the file
    has been written to the registry tables.

    Args:
        session: an ORM session; its connection and transaction are used.
        csv_path: the CSV file (format in this module's docstring).
        batch_size: rows per bulk load (COPY or ``executemany``) into the staging table.

    Returns:
        Per table, how many keys were inserted, updated or unchanged.

    Raises:
        ImportRejected: an unreadable file, a bad header or bad rows (with line
            numbers); nothing of the file was written.
    """
    started = time.perf_counter()
    path = Path(csv_path)
    source = str(csv_path)
    connection = session.connection()
    staging.create(connection)
    problems = _Problems()
    rows = 0
    batch: list[dict[str, object]] = []
    absent: set[str] = set()
    try:
        for line, parsed in _read(path, problems, absent):
            rows += 1
            if problems:
                continue  # keep reading for more problems, stop loading
            batch.append(parsed | {"line": line})
            if len(batch) >= batch_size:
                staging.load(connection, batch)
                batch = []
    except OSError as exc:
        raise ImportRejected(source, [f"cannot read the file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ImportRejected(source, ["not UTF-8 text"]) from exc
    except csv.Error as exc:
        raise ImportRejected(source, [f"not a readable CSV file: {exc}"]) from exc
    if problems:
        raise ImportRejected(source, problems.listed, more=problems.more)
    staging.load(connection, batch)
    staging.index(connection)
    for problem in staging.conflicts(connection, MAX_PROBLEMS, frozenset(absent)):
        problems.add(problem)
    if problems:
        raise ImportRejected(source, problems.listed, more=problems.more)
    counts = staging.apply(connection, frozenset(absent))
    staging.drop(connection)
    # ORM objects loaded earlier in this session may now be stale.
    session.expire_all()
    bump_registry_version(session)  # running planners read the grid afresh (same transaction)
    tables = {name: TableCounts(*triple) for name, triple in counts.items()}
    return ImportReport(source, rows, tables, time.perf_counter() - started)


def _read(path: Path, problems: _Problems, absent: set[str]) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield (line number, staged row) for each data row; record problems as they come.

    The optional columns the header leaves out are added to ``absent``.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            problems.add(f"line 1: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
            return
        known = COLUMNS + OPTIONAL_COLUMNS
        doubled = sorted({name for name in header if name in known and header.count(name) > 1})
        if doubled:
            problems.add(f"line 1: column{'s' if len(doubled) > 1 else ''} {', '.join(doubled)} given twice")
            return
        absent.update(name for name in OPTIONAL_COLUMNS if name not in header)
        positions = [(name, header.index(name)) for name in known if name in header]
        width = len(header)
        for values in reader:
            line = reader.line_num
            if not any(values):  # a blank line, or only separators (spreadsheet exports)
                continue
            if len(values) != width:
                problems.add(f"line {line}: {len(values)} fields, but the header has {width}")
                yield line, {}
                continue
            fields = dict.fromkeys(absent, "") | {name: values[index].strip() for name, index in positions}
            row_problems: list[str] = []
            parsed = _parse(fields, row_problems)
            for problem in row_problems:
                problems.add(f"line {line}: {problem}")
            yield line, parsed


def _parse(fields: dict[str, str], problems: list[str]) -> dict[str, object]:
    """Check one row's fields and convert them to staging-table values."""
    for name in _REQUIRED:
        if not fields[name]:
            problems.append(f"{name} is empty")
    for optional, needed in _DEPENDENT.items():
        for name in needed:
            if fields[optional] and not fields[name]:
                problems.append(f"{name} is empty but {optional} is {fields[optional]!r}")
            elif fields[name] and not fields[optional]:
                problems.append(f"{name} is given but {optional} is empty")
    for name in ("customer_id", "account_id", "premise_number", "usage_point_id", "meter_number",
                 "transformer_id", "feeder_id", "station_id", "ev_id", "tariff_id"):
        if len(fields[name]) > ID_LENGTH:
            problems.append(f"{name} is longer than {ID_LENGTH} characters")
    if len(fields["customer_name"]) > _NAME_LENGTH:
        problems.append(f"customer_name is longer than {_NAME_LENGTH} characters")
    status = fields["account_status"].lower()
    if fields["account_status"] and status not in ACCOUNT_STATUSES:
        problems.append(f"account_status {fields['account_status']!r} is not 'open' or 'closed'")
    ev_rate = EV_RATE_VALUES.get(fields["ev_rate"].lower()) if fields["ev_rate"] else None
    if fields["ev_rate"] and ev_rate is None:
        problems.append(f"ev_rate {fields['ev_rate']!r} is not yes, no, true or false")
    elif fields["ev_rate"] and not fields["ev_id"]:
        problems.append("ev_rate is given but ev_id is empty")
    if ev_rate is None and fields["ev_id"]:
        ev_rate = True  # empty: enrolled
    battery_kwh = _decimal(fields, "ev_battery_kwh", problems, _MAX_KWH)
    battery_wh = None
    if battery_kwh is not None:
        wh = battery_kwh * 1000
        if wh != wh.to_integral_value():
            problems.append(f"ev_battery_kwh {fields['ev_battery_kwh']!r} is not a whole number of Wh")
        else:
            battery_wh = int(wh)
    return {
        "customer_id": fields["customer_id"],
        "customer_name": fields["customer_name"],
        "account_id": fields["account_id"],
        "account_status": status,
        "tariff_id": fields["tariff_id"] or None,
        "premise_number": fields["premise_number"],
        "usage_point_id": fields["usage_point_id"],
        "meter_number": fields["meter_number"],
        "transformer_id": fields["transformer_id"],
        "transformer_capacity_kw": _decimal(fields, "transformer_capacity_kw", problems, _MAX_KW, places=3),
        "feeder_id": fields["feeder_id"] or None,
        "feeder_capacity_kw": _decimal(fields, "feeder_capacity_kw", problems, _MAX_KW, places=3),
        "station_id": fields["station_id"] or None,
        "station_max_kw": _decimal(fields, "station_max_kw", problems, _MAX_KW, places=3),
        "ev_id": fields["ev_id"] or None,
        "ev_battery_wh": battery_wh,
        "ev_max_kw": _decimal(fields, "ev_max_kw", problems, _MAX_KW, places=3),
        "ev_rate": ev_rate,
    }


def _decimal(fields: dict[str, str], name: str, problems: list[str], limit: Decimal,
             places: int | None = None) -> Decimal | None:
    """Parse a positive decimal below ``limit`` with at most ``places`` decimals; None if empty."""
    text = fields[name]
    if not text:
        return None
    value = _checked_decimal(text, limit, places)
    if isinstance(value, str):
        problems.append(f"{name} {text!r} {value}")
        return None
    return value


@lru_cache(maxsize=4096)
def _checked_decimal(text: str, limit: Decimal, places: int | None) -> Decimal | str:
    """The value of ``text``, or what is wrong with it.

    Cached: a registry repeats the same few ratings (7.2 kW, 37.5 kW, ...) a million times.
    """
    try:
        value = Decimal(text)
    except InvalidOperation:
        return "is not a number"
    if not value.is_finite() or value <= 0 or value >= limit:
        return f"is not a positive number below {limit:,}"
    exponent = value.as_tuple().exponent
    if places is not None and isinstance(exponent, int) and exponent < -places:
        return f"has more than {places} decimals"
    return value


def seed(database_url: str, registry_csv: Path, tariff_toml: Path | Sequence[Path],
         then: Callable[[Session], None] | None = None) -> None:
    """Migrate the database at ``database_url``, then import tariffs and a registry in one transaction.

    The tariffs (one file, or several in order) come first: the registry's accounts
    name them. ``then`` does more in that transaction (the demo sets each transformer's
    base load). What ``evgrid db upgrade``, ``tariff import`` and ``registry import`` do,
    for the demo, the benchmarks and the tests.
    """
    tariffs = [tariff_toml] if isinstance(tariff_toml, Path | str) else list(tariff_toml)
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with session_factory(engine).begin() as db:
            for toml in tariffs:
                import_tariff(db, toml)
            import_registry(db, registry_csv)
            if then is not None:
                then(db)
    finally:
        engine.dispose()
