"""Values of the Customer Communication Portal: its site, what the station says, what the utility says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Site:
    """One customer's premise as its portal knows it (the portal's own configuration)."""

    station_id: str
    meter_number: str
    customer_id: str
    account_id: str
    usage_point_id: str
    premise_number: str
    station_max_kw: float


@dataclass(frozen=True, slots=True)
class EvView:
    """The outlet and the connected EV as the station reports them (1.1.1)."""

    plugged_in: bool
    ev_id: str | None
    energy_wh: int
    departure_utc: datetime | None
    max_power_kw: float


@dataclass(frozen=True, slots=True)
class PlugIn:
    """An EV that plugged in, as the portal requests charging for it (1.1.2)."""

    request_mrid: str
    ev_id: str
    plugged_in_utc: datetime
    departure_utc: datetime
    requested_wh: int
    ev_max_power_kw: float


@dataclass(frozen=True, slots=True)
class Confirmed:
    """The reply to the request: session, home or third party, what is reachable (2.1.1 / 3.1.3)."""

    request_mrid: str
    session_id: str
    third_party: bool
    requested_wh: int
    reachable_wh: int
    owner_account_id: str | None
    owner_customer_id: str | None


@dataclass(frozen=True, slots=True)
class Allotted:
    """The scheduler's slots for a session: (start, end, kW) each (2.2.1 / 3.2.1)."""

    session_id: str
    station_id: str
    slots: tuple[tuple[datetime, datetime, float], ...]
    planned_wh: int

    def limit_at(self, moment: datetime) -> float:
        """The power the session may draw at ``moment`` (0 outside its slots)."""
        for start, end, kw in self.slots:
            if start <= moment < end:
                return kw
        return 0.0


@dataclass(frozen=True, slots=True)
class SwitchOrder:
    """2.3 / 3.3: close (start) or open (stop) a station's contactor for a session."""

    station_id: str
    close: bool
    session_id: str | None
    control_mrid: str | None


@dataclass(frozen=True, slots=True)
class Completed:
    """2.3.4 / 3.3.4: a finished session with the registers read at start and end."""

    session_id: str
    ev_id: str
    started_utc: datetime
    completed_utc: datetime
    start_register_wh: int
    end_register_wh: int
    reason: str  # evFull, departure, unplugged, stopped (CIM CompletionReason)

    @property
    def consumed_wh(self) -> int:
        """The meter delta: what the session used."""
        return self.end_register_wh - self.start_register_wh


@dataclass(frozen=True, slots=True)
class Bill:
    """4.1.1: bill information the owner's portal keeps."""

    bill_id: str
    session_id: str
    account_id: str
    energy_wh: int
    amount: Decimal
    currency: str
    issued_utc: datetime
