"""Domain types of the EV Operation System: plain frozen dataclasses.

They never import the generated CIM classes, lxml, zeep or a protocol binding;
:mod:`evgrid.mappings` translates between them and the wire. Energy is in Wh as an
integer, power in kW, money as Decimal, times aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RegisterReading:
    """A cumulative energy register value (IEC 61968-9 Reading on a register ReadingType)."""

    meter_mrid: str
    usage_point_mrid: str | None
    reading_type: str
    timestamp_utc: datetime
    energy_wh: int


@dataclass(frozen=True, slots=True)
class IntervalBlock:
    """Energy per interval of one meter (IEC 61968-9 IntervalBlock).

    ``readings`` holds (interval end, Wh) pairs rather than one object per interval:
    a day of 15-minute data is 96 of them, and they arrive by the million.
    """

    meter_mrid: str
    usage_point_mrid: str | None
    reading_type: str
    readings: tuple[tuple[datetime, int], ...]


@dataclass(frozen=True, slots=True)
class MeterReadingSet:
    """What a MeterReadings payload says: registers and interval blocks."""

    registers: tuple[RegisterReading, ...]
    intervals: tuple[IntervalBlock, ...]
