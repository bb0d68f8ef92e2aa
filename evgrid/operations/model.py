"""Domain types of the EV Operation System: plain frozen dataclasses.

They never import the generated CIM classes, lxml, zeep or a protocol binding;
:mod:`evgrid.mappings` translates between them and the wire. Energy is in Wh as an
integer, power in kW, money as Decimal, times aware UTC.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal


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


class ChargingKind(enum.Enum):
    """Use-case step 1.2: the EV owner's own premise, or another customer's (3.x)."""

    HOME = "home"
    THIRD_PARTY = "thirdParty"


class AccountStatus(enum.Enum):
    """Whether an account may be charged."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Account:
    """A customer account (CIM CustomerAccount) and its customer's id."""

    account_id: str
    customer_id: str
    status: AccountStatus


@dataclass(frozen=True, slots=True)
class Premise:
    """A service location: premise number, usage point, meter and the account billed there."""

    premise_number: str
    usage_point_id: str
    meter_number: str
    account: Account
    transformer_id: str


@dataclass(frozen=True, slots=True)
class Station:
    """A charging station (IEC 61850-90-8 DESE) at a premise."""

    station_id: str
    premise: Premise
    max_power_kw: Decimal


@dataclass(frozen=True, slots=True)
class ElectricVehicle:
    """An EV: the utility-assigned EV Id, keyed to its owner's account."""

    ev_id: str
    owner: Account
    battery_wh: int
    max_power_kw: Decimal


@dataclass(frozen=True, slots=True)
class TariffInterval:
    """A time-of-use window in the tariff's local time; end <= start wraps past midnight."""

    sequence: int
    label: str
    start_local: time
    end_local: time
    price_per_kwh: Decimal
    ev_night: bool

    def contains(self, moment: time) -> bool:
        """True when the local clock time ``moment`` falls in this window."""
        if self.start_local < self.end_local:
            return self.start_local <= moment < self.end_local
        return moment >= self.start_local or moment < self.end_local


@dataclass(frozen=True, slots=True)
class Tariff:
    """A tariff (CIM Tariff with TimeTariffIntervals), its EV night rate and third-party rate."""

    tariff_id: str
    name: str
    currency: str
    timezone: str
    intervals: tuple[TariffInterval, ...]
    third_party_price_per_kwh: Decimal


@dataclass(frozen=True, slots=True)
class ChargingRequest:
    """Steps 1.1.1 / 1.1.2: what the EV asked for and where the portal says it is."""

    request_mrid: str
    ev_id: str
    station_id: str
    customer_id: str
    usage_point_id: str
    premise_number: str | None
    requested_wh: int
    departure_utc: datetime
    max_power_kw: Decimal
    plugged_in_utc: datetime
    ev_max_power_kw: Decimal | None = None
