"""Ports owned by the EV Operation System: what the core needs from the outside.

Adapters implement them (the store with SQLAlchemy, the planner with the scheduler, the
outbox that turns events into CIM messages); unit tests use small fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Protocol

from evgrid.operations.model import Account, ElectricVehicle, Station, Tariff
from evgrid.operations.session import Session, Transition


class Clock(Protocol):
    """Current time, aware UTC (an accelerated clock in the demo)."""

    def now(self) -> datetime: ...


class Registry(Protocol):
    """Customers, premises, stations, EVs and tariffs (read only for the core)."""

    def ev(self, ev_id: str) -> ElectricVehicle | None: ...

    def station(self, station_id: str) -> Station | None: ...

    def meter_at(self, usage_point_id: str) -> str | None: ...

    def usage_point_of(self, meter_number: str) -> str | None: ...

    def transformer_of_meter(self, meter_number: str) -> str | None:
        """The transformer whose own meter this is (its live load), if any."""
        ...

    def account(self, account_id: str) -> Account | None: ...

    def tariff(self, tariff_id: str | None = None) -> Tariff: ...


class Sessions(Protocol):
    """Charging sessions; every save persists the transition that caused it."""

    def add(self, session: Session, transition: Transition) -> None: ...

    def get(self, session_id: str) -> Session: ...

    def active_for_ev(self, ev_id: str) -> Session | None: ...

    def active_at_station(self, station_id: str) -> Session | None: ...

    def starting_on_meter(self, meter_number: str) -> Session | None: ...

    def charging_on_meter(self, meter_number: str) -> Session | None: ...

    def save(self, session: Session, transition: Transition) -> None: ...

    def allot(self, allotment: Allotment) -> None: ...


@dataclass(frozen=True, slots=True)
class Allotment:
    """Steps 2.2 / 3.2: the slots a session was given (power per 15-minute slot)."""

    session_id: str
    transformer_id: str
    slots: tuple[tuple[datetime, Decimal], ...]
    slot_minutes: int
    planned_wh: int
    # The end of the planning horizon the slots were chosen in: nothing is planned after it.
    planned_until_utc: datetime | None = None

    @property
    def start_utc(self) -> datetime | None:
        """The first slot with power: when the contactor closes."""
        return next((start for start, kw in self.slots if kw > 0), None)

    @property
    def end_utc(self) -> datetime | None:
        """The end of the last slot with power."""
        last = next((start for start, kw in reversed(self.slots) if kw > 0), None)
        return last + timedelta(minutes=self.slot_minutes) if last else None


@dataclass(frozen=True, slots=True)
class LoadChange:
    """A live transformer reading taken into the plan: its base load per slot, and the sessions now over a limit."""

    base_kw: dict[datetime, float]
    overloaded: tuple[str, ...]


class Planner(Protocol):
    """The EV Charging Scheduler as the core sees it."""

    def place(self, session: Session, now: datetime | None = None) -> Allotment: ...

    def release(self, session_id: str, transformer_id: str) -> None: ...

    def observe_load(self, transformer_id: str, interval_start: datetime, measured_kw: float,
                     now: datetime) -> LoadChange:
        """A transformer's whole load measured over the interval from ``interval_start``."""
        ...

    def reshape(self, session: Session, from_utc: datetime) -> Allotment:
        """A charging session keeps its slots before ``from_utc``; the rest is placed again."""
        ...


class Ledger(Protocol):
    """Readings, settlement records and bills."""

    def record_register(self, meter_number: str, at_utc: datetime, value_wh: int,
                        session_id: str | None, message_id: str | None) -> None: ...

    def last_register(self, meter_number: str, before_utc: datetime) -> tuple[datetime, int] | None:
        """(time, Wh) of the meter's latest register read before ``before_utc``."""
        ...

    def record_base_load(self, transformer_id: str, base_kw: dict[datetime, float]) -> None:
        """A transformer's base load per slot, read live: it beats the forecast for those slots."""
        ...

    def record_interval(self, meter_number: str, end_utc: datetime, value_wh: int,
                        session_id: str | None, message_id: str | None) -> None:
        """Keep a 15-minute interval's energy; the same value again is kept once, another is refused."""
        ...

    def settle(self, session_id: str, from_account_id: str, to_account_id: str, energy_wh: int,
               at_utc: datetime) -> None: ...

    def record_bill(self, bill: object) -> None: ...


class Outbox(Protocol):
    """Store-and-forward of outbound messages: written in the same transaction as the state."""

    def put(self, event: object) -> None: ...


class InboundJournal(Protocol):
    """Every applied inbound MessageID, who sent it, what it was and the reply it got.

    A replay of the same message gets the same reply; the MessageID on another message is
    refused. ``digest`` is the router's digest of the message (verb, noun, body); None in
    entries journaled before digests were kept (they match on verb and noun).
    """

    def reply_for(self, message_id: str) -> tuple[str | None, bytes, str, str, str | None] | None:
        """``(source, reply, verb, noun, digest)`` of a journaled MessageID, else None."""
        ...

    def remember(self, message_id: str, verb: str, noun: str, source: str | None, reply: bytes,
                 digest: str | None = None) -> None: ...


class UnitOfWork(Protocol):
    """One transaction over every port; nothing is half-changed when a handler fails."""

    now: datetime
    inbound: InboundJournal
    registry: Registry
    sessions: Sessions
    ledger: Ledger
    outbox: Outbox
    planner: Planner

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def commit(self) -> None: ...
