"""Import a tariff from TOML: time-of-use intervals, the EV night rate, the third-party rate.

Format (``tomllib``; prices are strings so that they stay exact decimals)::

    id = "NL-EV-TOU-2025"            # at most 52 characters
    name = "Residential time-of-use with EV night rate"
    currency = "EUR"                 # ISO 4217: three capital letters
    timezone = "Europe/Amsterdam"    # IANA name; interval times are local to it
    third_party_price_per_kwh = "0.31"
    plain_price_per_kwh = "0.28"     # optional; see below
    default = true                   # optional; see below

    [[interval]]
    label = "day"
    start = "07:00"                  # HH:MM on a quarter hour (minutes 00, 15, 30, 45)
    end = "23:00"                    # an end not after the start wraps past midnight
    price_per_kwh = "0.28"
    ev_night = false                 # true: the EV night (off-peak) rate

Rules: the intervals cover the 24 hours of the local day exactly once (no gap, no
overlap); at least one is an EV night interval; every start and end is on a quarter
hour (billing prices metered 15-minute intervals, each by the window holding its start,
so no window may change inside one); prices are non-negative with at most six
decimals. Unknown keys are refused (a typo would otherwise be dropped silently). The id
is at most 52 characters: the rate a session is told is named ``<id>:<rate>`` (rate
``evNight``, ``plain`` or ``quickCharge``), an mRID of at most 64.

``plain_price_per_kwh``: what an EV that is *not* enrolled in the EV rate (registry
column ``ev_rate = no``) pays in the ``ev_night`` intervals at home; its other intervals
are priced as they are. Absent: the highest price among the tariff's intervals that are
not ``ev_night``.

Several tariffs are kept, each account names its own (registry column ``tariff_id``)
and exactly one is the default, the tariff of accounts that name none. ``default =
true`` makes this tariff the default (the mark leaves the previous one); absent or
``false``, the mark stays where it is, except that the first tariff imported into a
database is the default whatever it says.

Importing a tariff id again replaces that tariff; importing the same file again changes
nothing.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from evgrid.adapters.store.models import ID_LENGTH, Tariff, TariffInterval, bump_registry_version
from evgrid.errors import ImportRejected

MINUTES_PER_DAY = 24 * 60
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_CURRENCY = re.compile(r"[A-Z]{3}")
_MAX_PRICE = Decimal(10) ** 8  # Numeric(14, 6)
_TOP_KEYS = {"id", "name", "currency", "timezone", "third_party_price_per_kwh", "plain_price_per_kwh", "default",
             "interval"}
# "<tariff id>:quickCharge" (the PricingStructure mRID of a rate) must stay an mRID (64).
MAX_TARIFF_ID = ID_LENGTH - len(":quickCharge")
QUARTER_HOUR = 15
_INTERVAL_KEYS = {"label", "start", "end", "price_per_kwh", "ev_night"}


@dataclass(frozen=True, slots=True)
class IntervalSpec:
    """One checked ``[[interval]]``."""

    label: str
    start_local: str
    end_local: str
    price_per_kwh: Decimal
    ev_night: bool


@dataclass(frozen=True, slots=True)
class TariffSpec:
    """A checked tariff file."""

    tariff_id: str
    name: str
    currency: str
    timezone: str
    third_party_price_per_kwh: Decimal
    intervals: tuple[IntervalSpec, ...]
    plain_price_per_kwh: Decimal | None = None
    default: bool = False


@dataclass(frozen=True, slots=True)
class TariffImportReport:
    """What importing a tariff did; ``default``: it is the default tariff now."""

    tariff_id: str
    outcome: Literal["created", "updated", "unchanged"]
    intervals: int
    default: bool = False


def import_tariff(session: Session, toml_path: str | Path, *, now: datetime | None = None) -> TariffImportReport:
    """Create or replace the tariff in ``toml_path`` inside ``session``'s transaction.

    Args:
        session: an ORM session; the caller commits.
        toml_path: the TOML file (format in this module's docstring).
        now: the import time recorded (aware); default the wall clock.

    Returns:
        Whether the tariff was created, updated or already exactly so.

    Raises:
        ImportRejected: an unreadable file, invalid TOML or broken rules (every
            problem listed); nothing was written.
    """
    source = str(toml_path)
    try:
        document = tomllib.loads(Path(toml_path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImportRejected(source, [f"cannot read the file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ImportRejected(source, ["not UTF-8 text"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ImportRejected(source, [f"not valid TOML: {exc}"]) from exc
    spec = parse_tariff(document, source)
    existing = session.get(Tariff, spec.tariff_id)
    # the first tariff is the default: there is always exactly one
    make_default = spec.default or session.scalar(select(Tariff.tariff_id).where(Tariff.is_default).limit(1)) is None
    if existing is not None and _same(existing, spec) and (existing.is_default or not make_default):
        return TariffImportReport(spec.tariff_id, "unchanged", len(spec.intervals), existing.is_default)
    imported_at = now or datetime.now(UTC)
    if make_default:
        # the mark leaves the old default first: at most one row may hold it (a unique index)
        session.execute(update(Tariff).where(Tariff.is_default, Tariff.tariff_id != spec.tariff_id)
                        .values(is_default=False))
    if existing is None:
        tariff = Tariff(tariff_id=spec.tariff_id, is_default=make_default)
        session.add(tariff)
    else:
        tariff = existing
        tariff.is_default = tariff.is_default or make_default
        tariff.intervals.clear()
        # the old rows must be gone before new ones reuse their (tariff_id, sequence)
        session.flush()
    tariff.name, tariff.currency, tariff.timezone = spec.name, spec.currency, spec.timezone
    tariff.third_party_price_per_kwh = spec.third_party_price_per_kwh
    tariff.plain_price_per_kwh = spec.plain_price_per_kwh
    tariff.imported_at = imported_at
    tariff.intervals.extend(
        TariffInterval(sequence=number, label=i.label, start_local=i.start_local, end_local=i.end_local,
                       price_per_kwh=i.price_per_kwh, ev_night=i.ev_night)
        for number, i in enumerate(spec.intervals, start=1)
    )
    session.flush()
    bump_registry_version(session)
    return TariffImportReport(spec.tariff_id, "created" if existing is None else "updated", len(spec.intervals),
                              tariff.is_default)


def _same(tariff: Tariff, spec: TariffSpec) -> bool:
    stored = tuple(
        IntervalSpec(i.label, i.start_local, i.end_local, i.price_per_kwh, i.ev_night) for i in tariff.intervals
    )
    return (tariff.name, tariff.currency, tariff.timezone, tariff.third_party_price_per_kwh,
            tariff.plain_price_per_kwh, stored) == (
        spec.name, spec.currency, spec.timezone, spec.third_party_price_per_kwh, spec.plain_price_per_kwh,
        spec.intervals)


def parse_tariff(document: dict[str, object], source: str = "tariff") -> TariffSpec:
    """Check a parsed TOML document and return the tariff it describes.

    Raises:
        ImportRejected: with every problem found, keys and interval numbers named.
    """
    problems: list[str] = []
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        problems.append(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    tariff_id = _string(document, "id", problems, max_length=MAX_TARIFF_ID)
    name = _string(document, "name", problems, max_length=200)
    currency = _string(document, "currency", problems)
    if currency and not _CURRENCY.fullmatch(currency):
        problems.append(f"currency {currency!r} is not three capital letters (ISO 4217)")
    timezone = _string(document, "timezone", problems, max_length=64)
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone {timezone!r} is not an IANA time zone")
    third_party = _price(document, "third_party_price_per_kwh", problems)
    plain = _price(document, "plain_price_per_kwh", problems) if "plain_price_per_kwh" in document else None
    default = document.get("default", False)
    if not isinstance(default, bool):
        problems.append(f"default must be true or false, not {default!r}")
    intervals = _intervals(document.get("interval"), problems)
    if problems or third_party is None:  # a None always comes with a problem; this tells mypy
        raise ImportRejected(source, problems)
    return TariffSpec(tariff_id, name, currency, timezone, third_party, intervals, plain, default is True)


def _intervals(raw: object, problems: list[str]) -> tuple[IntervalSpec, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append("no [[interval]] tables")
        return ()
    intervals: list[IntervalSpec] = []
    for number, table in enumerate(raw, start=1):
        where = f"interval {number}"
        if not isinstance(table, dict):
            problems.append(f"{where} is not a table")
            continue
        before = len(problems)
        unknown = sorted(set(table) - _INTERVAL_KEYS)
        if unknown:
            problems.append(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
        label = _string(table, "label", problems, where=where, max_length=64)
        start = _clock(table, "start", problems, where)
        end = _clock(table, "end", problems, where)
        price = _price(table, "price_per_kwh", problems, where)
        ev_night = table.get("ev_night")
        if not isinstance(ev_night, bool):
            problems.append(f"{where}: ev_night must be true or false")
        if len(problems) == before and price is not None and isinstance(ev_night, bool):
            intervals.append(IntervalSpec(label, start, end, price, ev_night))
    if len(intervals) == len(raw):
        problems.extend(coverage_problems(intervals))
        if not any(i.ev_night for i in intervals):
            problems.append("no interval has ev_night = true (the EV night rate)")
    return tuple(intervals)


def coverage_problems(intervals: list[IntervalSpec] | tuple[IntervalSpec, ...]) -> list[str]:
    """Gaps and overlaps of the intervals over one local day, to the minute."""
    covered: list[list[str]] = [[] for _ in range(MINUTES_PER_DAY)]
    for interval in intervals:
        start, end = _minutes(interval.start_local), _minutes(interval.end_local)
        # end <= start wraps past midnight; start == end is the whole day
        spans = [(start, end)] if end > start else [(start, MINUTES_PER_DAY), (0, end)]
        for first, last in spans:
            for minute in range(first, last):
                covered[minute].append(interval.label)
    problems = []
    minute = 0
    while minute < MINUTES_PER_DAY:
        labels = covered[minute]
        run_end = minute
        while run_end < MINUTES_PER_DAY and covered[run_end] == labels:
            run_end += 1
        if not labels:
            problems.append(f"no interval covers {_hhmm(minute)}-{_hhmm(run_end)}")
        elif len(labels) > 1:
            problems.append(f"intervals {', '.join(map(repr, labels))} overlap at {_hhmm(minute)}-{_hhmm(run_end)}")
        minute = run_end
    return problems


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _string(table: dict[str, object], key: str, problems: list[str], *, where: str = "",
            max_length: int | None = None) -> str:
    prefix = f"{where}: " if where else ""
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{prefix}{key} is missing or not a non-empty string")
        return ""
    if max_length is not None and len(value) > max_length:
        problems.append(f"{prefix}{key} is longer than {max_length} characters")
    return value.strip()


def _clock(table: dict[str, object], key: str, problems: list[str], where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        problems.append(f"{where}: {key} must be a string \"HH:MM\" from 00:00 to 23:59, not {value!r}")
        return ""
    if _minutes(value) % QUARTER_HOUR:
        problems.append(f"{where}: {key} {value} is not on a quarter hour (minutes 00, 15, 30 or 45): "
                        "billing prices 15-minute intervals")
        return ""
    return value


def _price(table: dict[str, object], key: str, problems: list[str], where: str = "") -> Decimal | None:
    prefix = f"{where}: " if where else ""
    value = table.get(key)
    if not isinstance(value, str):
        # A TOML float is binary: 0.1 is not 0.1. Money is written as a string.
        problems.append(f"{prefix}{key} must be a decimal string such as \"0.28\", not {value!r}")
        return None
    try:
        price = Decimal(value.strip())
    except InvalidOperation:
        problems.append(f"{prefix}{key} {value!r} is not a decimal number")
        return None
    exponent = price.as_tuple().exponent
    if not price.is_finite() or price < 0 or price >= _MAX_PRICE or (isinstance(exponent, int) and exponent < -6):
        problems.append(f"{prefix}{key} {value!r} must be at least 0, below {_MAX_PRICE:,}, with at most 6 decimals")
        return None
    return price
