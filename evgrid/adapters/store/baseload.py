"""Import transformers' base load from CSV: a daily profile, and forecasts per 15-minute slot.

Format (UTF-8, a header row; one value per row)::

    transformer_id,time,kw
    T-001,00:00,12.5                 # HH:MM (UTC): the daily profile, from this time on
    T-001,17:00,31.0                 #   until the transformer's next profile row (wrapping)
    T-001,2026-01-15T17:15:00Z,38.2  # a date-time: the forecast of that 15-minute slot

Rules: every transformer is in the registry; times are on a quarter hour; a date-time
carries its zone; kW is a non-negative decimal; no transformer and time twice. A
profile given for a transformer replaces its whole profile (96 quarter-hour values);
a forecast replaces that slot's forecast, and a forecast beats the profile in its slot.
The import is all or nothing, and running planners read it at their next placement
(the registry version moves).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from evgrid.adapters.store import models as m
from evgrid.errors import ImportRejected

COLUMNS = ("transformer_id", "time", "kw")
QUARTERS_PER_DAY = 96
_CLOCK = re.compile(r"([01]\d|2[0-3]):(00|15|30|45)")
_MAX_KW = Decimal(10) ** 7  # Numeric(10, 3)


@dataclass(frozen=True, slots=True)
class BaseLoadReport:
    """What an import did."""

    profiles: int  # transformers whose daily profile was replaced
    forecasts: int  # 15-minute slots forecast


def import_base_load(session: Session, csv_path: str | Path) -> BaseLoadReport:
    """Check the file and write it inside ``session``'s transaction (the caller commits).

    Raises:
        ImportRejected: an unreadable file or broken rules, every problem with its line;
            nothing was written.
    """
    source = str(csv_path)
    try:
        with Path(csv_path).open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
            header = tuple(rows[0].keys()) if rows else None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ImportRejected(source, [f"cannot read the file: {error}"]) from error
    if header is not None and tuple(header) != COLUMNS:
        raise ImportRejected(source, [f"the header must be {','.join(COLUMNS)}, not {','.join(map(str, header))}"])
    known = set(session.scalars(select(m.Transformer.transformer_id)))
    problems: list[str] = []
    profiles: dict[str, dict[int, Decimal]] = {}
    forecasts: dict[tuple[str, datetime], Decimal] = {}
    for line, row in enumerate(rows, start=2):
        transformer = (row.get("transformer_id") or "").strip()
        when = (row.get("time") or "").strip()
        kw = _kw(row.get("kw"), line, problems)
        if transformer not in known:
            problems.append(f"line {line}: transformer {transformer!r} is not in the registry")
            continue
        if _CLOCK.fullmatch(when):
            quarter = int(when[:2]) * 4 + int(when[3:]) // 15
            if quarter in profiles.setdefault(transformer, {}):
                problems.append(f"line {line}: {transformer} at {when} is given twice")
            elif kw is not None:
                profiles[transformer][quarter] = kw
            continue
        slot = _slot(when, line, problems)
        if slot is None:
            continue
        if (transformer, slot) in forecasts:
            problems.append(f"line {line}: {transformer} at {slot.isoformat()} is given twice")
        elif kw is not None:
            forecasts[transformer, slot] = kw
    if problems:
        raise ImportRejected(source, problems)
    for transformer, points in profiles.items():
        session.get_one(m.Transformer, transformer).base_load_kw = _profile(points)
    for (transformer, slot), kw in forecasts.items():
        session.merge(m.BaseLoadForecast(transformer_id=transformer, slot_start=slot, kw=kw))
    m.bump_registry_version(session)
    return BaseLoadReport(len(profiles), len(forecasts))


def _kw(text: str | None, line: int, problems: list[str]) -> Decimal | None:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        problems.append(f"line {line}: kw {text!r} is not a number")
        return None
    if not value.is_finite() or value < 0 or value >= _MAX_KW:
        problems.append(f"line {line}: kw {text} is not within 0 to {_MAX_KW}")
        return None
    return value


def _slot(text: str, line: int, problems: list[str]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        problems.append(f"line {line}: time {text!r} is neither HH:MM nor an ISO date-time")
        return None
    if moment.tzinfo is None:
        problems.append(f"line {line}: time {text} has no time zone")
        return None
    if moment.minute % 15 or moment.second or moment.microsecond:
        problems.append(f"line {line}: time {text} is not on a quarter hour")
        return None
    return moment


def _profile(points: dict[int, Decimal]) -> list[float]:
    """96 quarter-hour values: each point holds until the next one, wrapping past midnight."""
    ordered = sorted(points)
    values = []
    for quarter in range(QUARTERS_PER_DAY):
        earlier = [q for q in ordered if q <= quarter]
        values.append(float(points[earlier[-1] if earlier else ordered[-1]]))
    return values


METER_COLUMNS = ("transformer_id", "meter_number")


def import_transformer_meters(session: Session, csv_path: str | Path) -> int:
    """Name each transformer's own meter (``transformer_id,meter_number``): its readings are the live load.

    Rules: every transformer is in the registry, a meter is no premise's and named once;
    an empty meter number takes a transformer's meter away. All or nothing; returns the
    number of rows.

    Raises:
        ImportRejected: an unreadable file or broken rules, every problem with its line.
    """
    source = str(csv_path)
    try:
        with Path(csv_path).open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ImportRejected(source, [f"cannot read the file: {error}"]) from error
    if rows and tuple(rows[0].keys()) != METER_COLUMNS:
        raise ImportRejected(source, [f"the header must be {','.join(METER_COLUMNS)}, "
                                      f"not {','.join(map(str, rows[0].keys()))}"])
    known = set(session.scalars(select(m.Transformer.transformer_id)))
    premise_meters = set(session.scalars(select(m.ServiceLocation.meter_number)))
    problems: list[str] = []
    meters: dict[str, str | None] = {}
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        transformer = (row.get("transformer_id") or "").strip()
        meter = (row.get("meter_number") or "").strip() or None
        if transformer not in known:
            problems.append(f"line {line}: transformer {transformer!r} is not in the registry")
        elif transformer in meters:
            problems.append(f"line {line}: transformer {transformer} is given twice")
        elif meter in premise_meters:
            problems.append(f"line {line}: meter {meter} is a premise's meter")
        elif meter is not None and meter in seen:
            problems.append(f"line {line}: meter {meter} is given twice (also line {seen[meter]})")
        else:
            meters[transformer] = meter
            if meter is not None:
                seen[meter] = line
    if problems:
        raise ImportRejected(source, problems)
    # Taken away first: a meter moving from one transformer to another is not a duplicate.
    for transformer in meters:
        session.get_one(m.Transformer, transformer).meter_number = None
    session.flush()
    for transformer, meter in meters.items():
        session.get_one(m.Transformer, transformer).meter_number = meter
    m.bump_registry_version(session)
    return len(meters)
