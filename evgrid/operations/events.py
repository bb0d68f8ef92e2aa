"""Outbound events of the EV Operation System.

Handlers put them in the outbox inside their transaction; the outbox adapter renders
each as a CIM message for its destination and delivers it later (store-and-forward).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from evgrid.operations.model import MeterReadingSet, Rate, Tariff
from evgrid.operations.ports import Allotment
from evgrid.operations.rates import ChargeLine, PricedWindow
from evgrid.operations.session import Session

PORTAL = "portal"
BILLING = "billing"
SCHEDULER = "scheduler"
MDM = "mdm"


@dataclass(frozen=True, slots=True)
class SlotAllotted:
    """2.2.1 / 3.2.1: the start time (and slots) to the station's portal."""

    session: Session
    allotment: Allotment
    destination: str = PORTAL
    # Set when the slots are planned again (a transformer read over its limit): the
    # MessageID of what moved them, so each new allotment is a message of its own.
    revision: str | None = None


@dataclass(frozen=True, slots=True)
class SwitchStation:
    """2.3 / 3.3: close (start) or open (stop) the station's contactor, via its portal."""

    session: Session
    close: bool
    destination: str = PORTAL


@dataclass(frozen=True, slots=True)
class ThirdPartyRecorded:
    """3.1.1: a third-party charge with the ids of EV, owner and host, to billing."""

    session: Session
    owner_customer_id: str
    host_customer_id: str
    usage_point_id: str
    destination: str = BILLING


@dataclass(frozen=True, slots=True)
class ReadingsForMdm:
    """2.3.1 / 2.3.3 / 3.3.1 / 3.3.3: accepted meter readings, on to meter data management.

    ``message_id`` is the inbound MeterReadings' own: MDM gets each once, however often
    the portal resent it.
    """

    readings: MeterReadingSet
    message_id: str
    destination: str = MDM


@dataclass(frozen=True, slots=True)
class ConsumptionForBilling:
    """4.1: a session's consumption and rate, charged to the EV owner's account.

    ``windows``: the session's ``rate`` at its ``tariff``, from the start of the metered
    15-minute interval holding the session's start to the end of the one holding its end;
    ``usage_point_id``: where it was metered (billing fetches that meter's intervals).
    """

    session: Session
    tariff: Tariff
    windows: tuple[PricedWindow, ...]
    destination: str = BILLING
    rate: Rate | None = None
    usage_point_id: str | None = None


@dataclass(frozen=True, slots=True)
class BillInformation:
    """4.1.1: bill information for one session, for the EV owner's portal."""

    bill_id: str
    session_id: str
    account_id: str
    currency: str
    lines: tuple[ChargeLine, ...]
    energy_wh: int
    amount: Decimal
    issued_utc: datetime
    destination: str = PORTAL


@dataclass(frozen=True, slots=True)
class SessionAcknowledged:
    """4.1.2: billing is done; the scheduler may close the session."""

    session_id: str
    bill_id: str
    account_id: str
    destination: str = SCHEDULER
