"""In-memory fakes of the core's ports: a transaction is a copy that commit() keeps."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from types import TracebackType

from evgrid.errors import UnknownReference
from evgrid.operations.model import (
    Account,
    AccountStatus,
    ElectricVehicle,
    Premise,
    Station,
    Tariff,
    TariffInterval,
)
from evgrid.operations.ports import Allotment, LoadChange
from evgrid.operations.session import ACTIVE, Session, SessionState, Transition

NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
NIGHT_START = NOW.replace(hour=23)
TARIFF = Tariff(
    tariff_id="T-EV", name="Residential with EV night rate", currency="EUR", timezone="UTC",
    intervals=(
        TariffInterval(1, "day", time(7), time(23), Decimal("0.28"), ev_night=False),
        TariffInterval(2, "EV night", time(23), time(7), Decimal("0.09"), ev_night=True),
    ),
    third_party_price_per_kwh=Decimal("0.31"),
)
# A second tariff, with an evening peak and a plain price: accounts naming "T-PEAK" pay it.
PEAK = Tariff(
    tariff_id="T-PEAK", name="Residential with evening peak", currency="EUR", timezone="UTC",
    intervals=(
        TariffInterval(1, "day", time(7), time(17), Decimal("0.25"), ev_night=False),
        TariffInterval(2, "peak", time(17), time(21), Decimal("0.35"), ev_night=False),
        TariffInterval(3, "evening", time(21), time(0, 30), Decimal("0.25"), ev_night=False),
        TariffInterval(4, "EV night", time(0, 30), time(7), Decimal("0.07"), ev_night=True),
    ),
    third_party_price_per_kwh=Decimal("0.33"), plain_price_per_kwh=Decimal("0.22"),
)
TARIFFS = {TARIFF.tariff_id: TARIFF, PEAK.tariff_id: PEAK}  # TARIFF is the default


def world() -> dict[str, object]:
    """Two customers; Alice's premise has a station; Bob owns an EV; Carol's account is closed."""
    alice = Account("ACC-A", "C-A", AccountStatus.OPEN)
    bob = Account("ACC-B", "C-B", AccountStatus.OPEN)
    carol = Account("ACC-C", "C-C", AccountStatus.CLOSED)
    premise = Premise("P-A", "UP-A", "MTR-A", alice, "TX-1")
    return {
        "stations": {"EVSE-A": Station("EVSE-A", premise, Decimal("7.2"))},
        "evs": {
            "EV-A": ElectricVehicle("EV-A", alice, 60_000, Decimal("11")),
            "EV-B": ElectricVehicle("EV-B", bob, 40_000, Decimal("3.7")),
            "EV-C": ElectricVehicle("EV-C", carol, 40_000, Decimal("7.2")),
        },
        "accounts": {a.account_id: a for a in (alice, bob, carol)},
    }


@dataclass
class FakeRegistry:
    data: dict[str, object] = field(default_factory=world)

    def ev(self, ev_id: str) -> ElectricVehicle | None:
        return self.data["evs"].get(ev_id)  # type: ignore[union-attr]

    def station(self, station_id: str) -> Station | None:
        return self.data["stations"].get(station_id)  # type: ignore[union-attr]

    def meter_at(self, usage_point_id: str) -> str | None:
        stations = self.data["stations"].values()  # type: ignore[union-attr]
        return next((s.premise.meter_number for s in stations if s.premise.usage_point_id == usage_point_id), None)

    def usage_point_of(self, meter_number: str) -> str | None:
        stations = self.data["stations"].values()  # type: ignore[union-attr]
        return next((s.premise.usage_point_id for s in stations if s.premise.meter_number == meter_number), None)

    def transformer_of_meter(self, meter_number: str) -> str | None:
        return self.data.get("transformer_meters", {}).get(meter_number)  # type: ignore[union-attr]

    def account(self, account_id: str) -> Account | None:
        return self.data["accounts"].get(account_id)  # type: ignore[union-attr]

    def tariff(self, tariff_id: str | None = None) -> Tariff:
        found = TARIFFS.get(tariff_id or TARIFF.tariff_id)
        if found is None:
            raise UnknownReference(f"no tariff {tariff_id}", mrid=tariff_id or "-")
        return found


@dataclass
class State:
    sessions: dict[str, Session] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    registers: list[tuple[str, datetime, int, str | None]] = field(default_factory=list)
    intervals: list[tuple[str, datetime, int, str | None]] = field(default_factory=list)
    settlements: list[tuple[str, str, str, int]] = field(default_factory=list)
    bills: list[object] = field(default_factory=list)
    outbox: list[object] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    allotments: dict[str, Allotment] = field(default_factory=dict)
    base_loads: list[tuple[str, dict[datetime, float]]] = field(default_factory=list)
    observed: list[tuple[str, datetime, float]] = field(default_factory=list)


class FakeSessions:
    def __init__(self, state: State) -> None:
        self.state = state

    def add(self, session: Session, transition: Transition) -> None:
        assert session.session_id not in self.state.sessions
        self.save(session, transition)

    def get(self, session_id: str) -> Session:
        if session_id not in self.state.sessions:
            raise UnknownReference(f"unknown session {session_id}", mrid=session_id)
        return self.state.sessions[session_id]

    def active_for_ev(self, ev_id: str) -> Session | None:
        return next((s for s in self.state.sessions.values() if s.ev_id == ev_id and s.state in ACTIVE), None)

    def active_at_station(self, station_id: str) -> Session | None:
        return next((s for s in self.state.sessions.values()
                     if s.station_id == station_id and s.state in ACTIVE), None)

    def starting_on_meter(self, meter_number: str) -> Session | None:
        return next((s for s in self.state.sessions.values()
                     if s.meter_number == meter_number and s.state is SessionState.SCHEDULED), None)

    def charging_on_meter(self, meter_number: str) -> Session | None:
        return next((s for s in self.state.sessions.values()
                     if s.meter_number == meter_number and s.state is SessionState.CHARGING), None)

    def save(self, session: Session, transition: Transition) -> None:
        self.state.sessions[session.session_id] = session
        self.state.transitions.append(transition)

    def allot(self, allotment: Allotment) -> None:
        self.state.allotments[allotment.session_id] = allotment


class FakeLedger:
    def __init__(self, state: State) -> None:
        self.state = state

    def record_base_load(self, transformer_id: str, base_kw: dict[datetime, float]) -> None:
        self.state.base_loads.append((transformer_id, base_kw))

    def record_register(self, meter_number: str, at_utc: datetime, value_wh: int, session_id: str | None,
                        message_id: str | None) -> None:
        self.state.registers.append((meter_number, at_utc, value_wh, session_id))

    def last_register(self, meter_number: str, before_utc: datetime) -> tuple[datetime, int] | None:
        earlier = [(at, wh) for meter, at, wh, _ in self.state.registers if meter == meter_number and at < before_utc]
        return max(earlier) if earlier else None

    def record_interval(self, meter_number: str, end_utc: datetime, value_wh: int, session_id: str | None,
                        message_id: str | None) -> None:
        self.state.intervals.append((meter_number, end_utc, value_wh, session_id))

    def settle(self, session_id: str, from_account_id: str, to_account_id: str, energy_wh: int,
               at_utc: datetime) -> None:
        self.state.settlements.append((session_id, from_account_id, to_account_id, energy_wh))

    def record_bill(self, bill: object) -> None:
        self.state.bills.append(bill)


class FakeOutbox:
    def __init__(self, state: State) -> None:
        self.state = state

    def put(self, event: object) -> None:
        self.state.outbox.append(event)


class FakePlanner:
    """Third party: from now at full power; home: from 23:00 at full power."""

    def __init__(self, state: State, night_start: datetime = NIGHT_START) -> None:
        self.state = state
        self.night_start = night_start

    def place(self, session: Session, now: datetime | None = None) -> Allotment:
        start = (now or NOW) if session.third_party else max(self.night_start, now or NOW)
        slots, planned, cursor = [], 0, start
        while planned < (session.reachable_wh or 0) and cursor < session.departure_utc:
            wh = min(int(session.max_power_kw * 250), (session.reachable_wh or 0) - planned)
            slots.append((cursor, session.max_power_kw))
            planned += wh
            cursor += timedelta(minutes=15)
        return Allotment(session.session_id, session.transformer_id, tuple(slots), 15, planned)

    def release(self, session_id: str, transformer_id: str) -> None:
        self.state.released.append(session_id)

    def observe_load(self, transformer_id: str, interval_start: datetime, measured_kw: float,
                     now: datetime) -> LoadChange:
        """Records the reading; no overload (the scheduler's own tests cover what it does)."""
        self.state.observed.append((transformer_id, interval_start, measured_kw))
        return LoadChange({interval_start + timedelta(minutes=15): measured_kw}, ())

    def reshape(self, session: Session, from_utc: datetime) -> Allotment:
        raise AssertionError("no overload in the fake planner")


class FakeUnitOfWork:
    """Works on a copy of the committed state; commit() makes the copy the state."""

    def __init__(self) -> None:
        self.committed = State()
        self.registry = FakeRegistry()
        self.now = NOW
        self.inbound = None

    def __enter__(self) -> FakeUnitOfWork:
        self.working = copy.deepcopy(self.committed)
        self.sessions = FakeSessions(self.working)
        self.ledger = FakeLedger(self.working)
        self.outbox = FakeOutbox(self.working)
        self.planner = FakePlanner(self.working)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        del self.working

    def commit(self) -> None:
        self.committed = copy.deepcopy(self.working)
