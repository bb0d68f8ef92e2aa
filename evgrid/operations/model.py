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


class Rate(enum.Enum):
    """Steps 2.1 / 3.1.2: which of its tariff's prices a session pays (the PricingStructure code).

    The tariff is the EV owner's account's, wherever the EV charges.
    """

    EV_NIGHT = "evNight"  # home, EV enrolled in the EV rate: the TOU intervals, EV-night prices
    PLAIN = "plain"  # home, EV not enrolled: the ev_night intervals at the tariff's plain price
    QUICK_CHARGE = "quickCharge"  # third party: the tariff's quick-charge price, whatever the hour


class AccountStatus(enum.Enum):
    """Whether an account may be charged."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Account:
    """A customer account (CIM CustomerAccount), its customer's id and its tariff.

    ``tariff_id`` None: the default tariff.
    """

    account_id: str
    customer_id: str
    status: AccountStatus
    tariff_id: str | None = None


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
    """An EV: the utility-assigned EV Id, keyed to its owner's account.

    ``ev_rate``: enrolled in the EV rate (the EV night prices at home); not enrolled, it
    pays the tariff's plain price in the EV night intervals.
    """

    ev_id: str
    owner: Account
    battery_wh: int
    max_power_kw: Decimal
    ev_rate: bool = True


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
    """A tariff (CIM Tariff with TimeTariffIntervals), its EV night rate and third-party rate.

    ``plain_price_per_kwh``: what an EV not enrolled in the EV rate pays in the ev_night
    intervals; None: see :attr:`plain_price`.
    """

    tariff_id: str
    name: str
    currency: str
    timezone: str
    intervals: tuple[TariffInterval, ...]
    third_party_price_per_kwh: Decimal
    plain_price_per_kwh: Decimal | None = None

    @property
    def plain_price(self) -> Decimal:
        """The ev_night intervals' price for an EV not enrolled in the EV rate.

        The tariff's ``plain_price_per_kwh``; without one, the highest price among its
        other (not ev_night) intervals, or among all of them if every one is ev_night.
        """
        if self.plain_price_per_kwh is not None:
            return self.plain_price_per_kwh
        others = [i.price_per_kwh for i in self.intervals if not i.ev_night]
        return max(others or [i.price_per_kwh for i in self.intervals])


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
