"""The EV Operation System's use-case handlers, one per step the utility side receives.

Each is ``fn(command, uow, now) -> outcome``: it reads and changes state through the
unit of work's ports and puts outbound events in the outbox. Handlers do not commit:
the caller commits once, together with the reply it stores for the MessageID, so a
failure anywhere leaves nothing half-changed and a replay gets the same reply.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from evgrid.errors import (
    AccountClosed,
    AlreadyCharging,
    InvalidParameter,
    SchedulingConflict,
    SecurityRejected,
    StationBusy,
    UnknownReference,
)
from evgrid.operations import events, grid_load, metering
from evgrid.operations.model import AccountStatus, ChargingKind, ChargingRequest, MeterReadingSet, Rate, Tariff
from evgrid.operations.ports import Allotment, UnitOfWork
from evgrid.operations.rates import PricedWindow, default_rate, windows
from evgrid.operations.session import Session, SessionState, advance, opened

S = SessionState
WH_PER_KWH = 1000
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True, slots=True)
class Confirmation:
    """Steps 2.1.1 / 3.1.3 (and 2.2 / 3.2): what the request's reply says.

    With the applicable rate (2.1 / 3.1.2): the EV owner's ``tariff``, its priced
    ``windows`` from plug-in to departure at the session's rate, and the owner's
    customer id (the session holds the owner's account).
    """

    session: Session
    effective_power_kw: Decimal
    allotment: Allotment
    tariff: Tariff | None = None
    windows: tuple[PricedWindow, ...] = ()
    owner_customer_id: str | None = None

    @property
    def partial(self) -> bool:
        """True when less than the requested energy is reachable by departure (or planned, see beyond_plan)."""
        return (self.session.reachable_wh or 0) < self.session.requested_wh

    @property
    def beyond_plan(self) -> bool:
        """The departure is after the planning horizon: only what the plan holds is confirmed."""
        until = self.allotment.planned_until_utc
        return until is not None and self.session.departure_utc > until


def request_charging(cmd: ChargingRequest, uow: UnitOfWork, now: datetime,
                     message_id: str | None = None) -> Confirmation:
    """1.1.2 -> 1.2 / 3.1 (3.1.1) -> 2.1 / 3.1.2 -> 2.1.1 / 3.1.3 -> 2.2 / 3.2 (2.2.1 / 3.2.1)."""
    ev = uow.registry.ev(cmd.ev_id)
    if ev is None:
        raise UnknownReference(f"unknown EV {cmd.ev_id}", mrid=cmd.ev_id)
    station = uow.registry.station(cmd.station_id)
    if station is None:
        raise UnknownReference(f"station {cmd.station_id} is at no registered premise", mrid=cmd.station_id)
    premise = station.premise
    if cmd.usage_point_id != premise.usage_point_id or cmd.customer_id != premise.account.customer_id:
        raise SecurityRejected(
            f"the portal of customer {cmd.customer_id} at {cmd.usage_point_id} may not act for "
            f"station {cmd.station_id}"
        )
    if ev.owner.status is not AccountStatus.OPEN:
        raise AccountClosed(f"account {ev.owner.account_id} of EV {ev.ev_id} is closed")
    if cmd.departure_utc <= max(cmd.plugged_in_utc, now):
        raise InvalidParameter(f"departure {cmd.departure_utc.isoformat()} is not after arrival")
    if cmd.requested_wh <= 0 or cmd.requested_wh > ev.battery_wh:
        raise InvalidParameter(
            f"requested energy {cmd.requested_wh} Wh is not within 1..{ev.battery_wh} Wh (the battery)"
        )
    if cmd.max_power_kw <= 0:
        raise InvalidParameter(f"maximum power {cmd.max_power_kw} kW is not positive")
    busy = _unless_expired(uow, uow.sessions.active_for_ev(ev.ev_id), now, message_id)
    if busy is not None:
        raise AlreadyCharging(f"EV {ev.ev_id} already has session {busy.session_id} at {busy.station_id}")
    occupied = _unless_expired(uow, uow.sessions.active_at_station(station.station_id), now, message_id)
    if occupied is not None:
        raise StationBusy(f"station {station.station_id} is serving session {occupied.session_id}")

    limits = [station.max_power_kw, ev.max_power_kw, cmd.max_power_kw]
    if cmd.ev_max_power_kw is not None:
        limits.append(cmd.ev_max_power_kw)
    power_kw = min(limits)
    session = Session(
        session_id=f"S-{cmd.request_mrid}", request_mrid=cmd.request_mrid, ev_id=ev.ev_id,
        station_id=station.station_id, premise_number=premise.premise_number,
        meter_number=premise.meter_number, transformer_id=premise.transformer_id,
        owner_account_id=ev.owner.account_id, host_account_id=premise.account.account_id,
        kind=ChargingKind.HOME, state=S.REQUESTED, requested_wh=cmd.requested_wh,
        max_power_kw=power_kw, plugged_in_utc=cmd.plugged_in_utc, departure_utc=cmd.departure_utc,
    )
    uow.sessions.add(session, opened(session, now, message_id))

    # 1.2 / 3.1: home when the EV's owner is the portal's customer.
    home = ev.owner.customer_id == cmd.customer_id
    kind = ChargingKind.HOME if home else ChargingKind.THIRD_PARTY
    session = _move(uow, session, S.CLASSIFIED, now, message_id, "1.2" if home else "3.1", kind=kind)
    if not home:  # 3.1.1
        uow.outbox.put(events.ThirdPartyRecorded(session, ev.owner.customer_id, cmd.customer_id,
                                                 premise.usage_point_id))

    # 2.1 / 3.1.2: the applicable rate (see evgrid.operations.rates for the rule): the
    # EV owner's tariff wherever it charges; at home the EV night prices if the EV is
    # enrolled in the EV rate, else the plain price; at another's premise the quick charge.
    tariff = uow.registry.tariff(ev.owner.tariff_id)
    rate = Rate.QUICK_CHARGE if not home else Rate.EV_NIGHT if ev.ev_rate else Rate.PLAIN
    session = _move(uow, session, S.RATED, now, message_id, "2.1" if home else "3.1.2",
                    tariff_id=tariff.tariff_id, rate=rate)
    priced = tuple(windows(tariff, kind, cmd.plugged_in_utc, cmd.departure_utc, rate))

    # 2.1.1 / 3.1.3: what is reachable by departure at the lower of station and EV power.
    hours = Decimal((cmd.departure_utc - max(now, cmd.plugged_in_utc)).total_seconds()) / SECONDS_PER_HOUR
    reachable = min(cmd.requested_wh, int(power_kw * hours * WH_PER_KWH))
    session = _move(uow, session, S.CONFIRMED, now, message_id, "2.1.1" if home else "3.1.3",
                    reachable_wh=reachable)

    # 2.2 / 3.2: the scheduler's slot; 2.2.1 / 3.2.1: the start time to the portal.
    allotment = uow.planner.place(session, now)
    if allotment.start_utc is None:
        # Every slot before departure is taken up to the transformer's (or feeder's) limit.
        raise SchedulingConflict(f"transformer {session.transformer_id} has no capacity left for "
                                 f"{session.session_id} before its departure {cmd.departure_utc.isoformat()}")
    # A departure beyond the planning horizon (more than a day away): what the plan holds
    # is what is confirmed, PARTIAL; a request sent again nearer the time plans the rest.
    until = allotment.planned_until_utc
    confirmed = (min(session.reachable_wh or 0, allotment.planned_wh)
                 if until is not None and cmd.departure_utc > until else session.reachable_wh)
    session = _move(uow, session, S.SCHEDULED, now, message_id, "2.2" if home else "3.2",
                    planned_start_utc=allotment.start_utc, planned_end_utc=allotment.end_utc,
                    planned_wh=allotment.planned_wh, reachable_wh=confirmed)
    uow.sessions.allot(allotment)
    uow.outbox.put(events.SlotAllotted(session, allotment))
    return Confirmation(session, power_kw, allotment, tariff, priced, ev.owner.customer_id)


def start_due(session_id: str, uow: UnitOfWork, now: datetime) -> bool:
    """2.3 / 3.3: the assigned start time has come: tell the portal to switch the station on.

    A start that fires late (after a restart) for a session that has moved on, or fires
    twice, does nothing: returns False. One that fires after the EV's departure (evgrid
    was down that long) expires the session rather than switch on a station another EV
    may be at by now.
    """
    session = uow.sessions.get(session_id)
    if session.state is not S.SCHEDULED or _unless_expired(uow, session, now, None) is None:
        return False
    uow.outbox.put(events.SwitchStation(session, close=True))
    return True


def stop_due(session_id: str, uow: UnitOfWork, now: datetime) -> bool:
    """The allotment has ended and the EV still draws: switch the station off.

    The portal then reports completion (2.3.4).
    """
    session = uow.sessions.get(session_id)
    if session.state is not S.CHARGING:
        return False
    uow.outbox.put(events.SwitchStation(session, close=False))
    return True


@dataclass(frozen=True, slots=True)
class StartReading:
    """2.3.1 / 3.3.1: the meter's register when the contactor closed."""

    session_id: str
    meter_number: str
    at_utc: datetime
    register_wh: int


def record_start(cmd: StartReading, uow: UnitOfWork, now: datetime, message_id: str | None = None) -> Session:
    """The station is on and the meter measures: the session is charging."""
    session = uow.sessions.get(cmd.session_id)
    _check_meter(session, cmd.meter_number)
    uow.ledger.record_register(cmd.meter_number, cmd.at_utc, cmd.register_wh, session.session_id, message_id)
    charging = _move(uow, session, S.CHARGING, now, message_id, "2.3.1" if not session.third_party else "3.3.1",
                     started_utc=cmd.at_utc, start_register_wh=cmd.register_wh)
    if charging.planned_end_utc is not None and charging.planned_end_utc <= now:
        # The start came through after the allotment ended (a delayed order, a retried close):
        # the stop job already fired while the session was still scheduled, so stop it now.
        uow.outbox.put(events.SwitchStation(charging, close=False))
    return charging


def record_readings(readings: MeterReadingSet, uow: UnitOfWork, now: datetime,
                    message_id: str | None = None) -> tuple[Session, ...]:
    """2.3.1 / 2.3.3 / 3.3.1 / 3.3.3: a meter's register reads and 15-minute intervals.

    Checked per meter by the interval rules (:func:`evgrid.operations.metering.spans`),
    against the register read before them, and against the session charging on that meter
    (no reading before its start or in the future). A register read on the meter of a
    scheduled session starts it. Every reading is kept, and queued for meter data
    management (once per MessageID). Any broken rule refuses the whole message.
    """
    started: list[Session] = []
    per_meter = _per_meter(readings)
    at_premise = {meter: uow.registry.usage_point_of(meter) for meter, *_ in per_meter}
    if None in at_premise.values():
        transformers = {meter: uow.registry.transformer_of_meter(meter) for meter, *_ in per_meter
                        if at_premise[meter] is None}
        if any(transformers.values()):
            # A transformer's own meter: its live load, for the plan (not a customer's energy).
            if len(transformers) < len(per_meter) or not all(transformers.values()):
                raise InvalidParameter("a message gives transformer meters with other meters: send them apart")
            for meter, _, registers, intervals in per_meter:
                grid_load.record_transformer_load(transformers[meter], meter, registers, intervals,  # type: ignore[arg-type]
                                                  uow, now, message_id)
            return ()
    for meter, usage_point, registers, intervals in per_meter:
        what = f"meter {meter}"
        _check_usage_point(meter, usage_point, at_premise[meter])
        checked = metering.spans(registers, intervals, what=what)
        first = min(registers, key=lambda r: r.at_utc, default=None)
        if first is not None:
            before = uow.ledger.last_register(meter, first.at_utc)
            if before is not None and before[1] > first.wh:
                raise InvalidParameter(f"{what}: the register goes backwards from {before[1]} Wh at "
                                       f"{before[0].isoformat()} to {first.wh} Wh at {first.at_utc.isoformat()}")
        latest = max((r.at_utc for r in registers), default=None)
        if latest is not None and latest > now + metering.CLOCK_SKEW:
            raise InvalidParameter(f"{what}: a register read at {latest.isoformat()} is in the future")
        session = uow.sessions.charging_on_meter(meter)
        starting = uow.sessions.starting_on_meter(meter) if session is None else None
        if session is not None and first is not None and session.started_utc and first.at_utc < session.started_utc:
            raise InvalidParameter(f"{what}: the read at {first.at_utc.isoformat()} is before session "
                                   f"{session.session_id} started ({session.started_utc.isoformat()})")
        owner = session.session_id if session is not None else None
        for register in sorted(registers, key=lambda r: r.at_utc):
            if starting is not None and register is first:
                started.append(record_start(StartReading(starting.session_id, meter, register.at_utc, register.wh),
                                            uow, now, message_id))
                owner = starting.session_id
                continue
            uow.ledger.record_register(meter, register.at_utc, register.wh, owner, message_id)
        for span in checked:
            for interval in span.intervals:
                uow.ledger.record_interval(meter, interval.end_utc, interval.wh, owner, message_id)
    if readings.registers or readings.intervals:
        uow.outbox.put(events.ReadingsForMdm(readings, message_id or _readings_key(readings)))
    return tuple(started)




def _per_meter(readings: MeterReadingSet) -> list[tuple[str, str | None, list[metering.Register],
                                                        list[metering.Interval]]]:
    found: dict[str, tuple[str | None, list[metering.Register], list[metering.Interval]]] = {}
    for reading in readings.registers:
        entry = found.setdefault(reading.meter_mrid, (reading.usage_point_mrid, [], []))
        _same_usage_point(reading.meter_mrid, entry[0], reading.usage_point_mrid)
        entry[1].append(metering.Register(reading.timestamp_utc, reading.energy_wh))
    for block in readings.intervals:
        entry = found.setdefault(block.meter_mrid, (block.usage_point_mrid, [], []))
        _same_usage_point(block.meter_mrid, entry[0], block.usage_point_mrid)
        entry[2].extend(metering.Interval(end, wh) for end, wh in block.readings)
    return [(meter, usage_point, registers, intervals) for meter, (usage_point, registers, intervals) in found.items()]


def _same_usage_point(meter: str, known: str | None, given: str | None) -> None:
    if known != given:
        raise InvalidParameter(f"meter {meter} is given at usage points {known} and {given}")


def _check_usage_point(meter: str, usage_point: str | None, registered: str | None) -> None:
    """The meter must be in the registry (at ``registered``), and at the usage point the reading names (if any)."""
    if registered is None:
        raise UnknownReference(f"unknown meter {meter}", mrid=meter)
    if usage_point is not None and usage_point != registered:
        raise UnknownReference(f"meter {meter} is not at usage point {usage_point} (it is at {registered})",
                               mrid=usage_point)


def _readings_key(readings: MeterReadingSet) -> str:
    """A MessageID for readings that came without one: their first meter and time."""
    first = readings.registers[0] if readings.registers else None
    if first is not None:
        return f"MeterReadings:{first.meter_mrid}:{first.timestamp_utc:%Y%m%dT%H%M%S}"
    block = readings.intervals[0]
    return f"MeterReadings:{block.meter_mrid}:{block.readings[0][0]:%Y%m%dT%H%M%S}"


class DeviceEventKind(enum.Enum):
    """What a relayed station event says (the IEC 61968-9 EndDeviceEventType, read by the mapping)."""

    PLUGGED_IN = "plugged-in"  # 1
    UNPLUGGED = "unplugged"  # the EV left
    CHARGING_COMPLETE = "charging-complete"  # 2.3.2 / 3.3.2
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """1 / 2.3.2 / 3.3.2: a station event a portal relays."""

    kind: DeviceEventKind
    station_id: str
    ev_id: str | None
    at_utc: datetime
    usage_point_id: str | None


def record_device_events(device_events: tuple[DeviceEvent, ...], uow: UnitOfWork, now: datetime,
                         message_id: str | None = None) -> None:
    """Accept relayed station events from the station's own site; the journal keeps them.

    Plug-in and charging complete inform, they do not drive: the charging request
    (1.1.2) and the completion (2.3.4) carry what the session needs. An EV that leaves
    before its charging started cancels its session: its slots are freed, and a start
    order that comes later finds nothing to start.
    """
    for event in device_events:
        station = uow.registry.station(event.station_id)
        if station is None:
            raise UnknownReference(f"station {event.station_id} is at no registered premise", mrid=event.station_id)
        if event.usage_point_id is not None and event.usage_point_id != station.premise.usage_point_id:
            raise InvalidParameter(f"station {event.station_id} is not at usage point {event.usage_point_id}")
        if event.kind is DeviceEventKind.UNPLUGGED and event.ev_id:
            session = uow.sessions.active_for_ev(event.ev_id)
            if session is not None and session.station_id == station.station_id and session.state is not S.CHARGING:
                _cancel(uow, session, now, message_id, "EV left before charging started")


@dataclass(frozen=True, slots=True)
class Completion:
    """2.3.4 / 3.3.4: the session ended (EV full, or it left); registers at start and end."""

    session_id: str
    meter_number: str
    started_utc: datetime
    completed_utc: datetime
    start_register_wh: int
    end_register_wh: int
    reason: str


def complete(cmd: Completion, uow: UnitOfWork, now: datetime, message_id: str | None = None) -> Session:
    """Record the consumption (2.3.4 / 3.3.4).

    A home session goes on to billing (4.1); a third-party one waits for its usage
    assignment (3.3.5).
    """
    session = uow.sessions.get(cmd.session_id)
    _check_meter(session, cmd.meter_number)
    consumed = cmd.end_register_wh - cmd.start_register_wh
    if consumed < 0:
        raise InvalidParameter(
            f"end register {cmd.end_register_wh} Wh is below start register {cmd.start_register_wh} Wh"
        )
    if cmd.completed_utc < cmd.started_utc:
        raise InvalidParameter("completion is before the start")
    if session.start_register_wh is not None and session.start_register_wh != cmd.start_register_wh:
        raise InvalidParameter(
            f"start register {cmd.start_register_wh} Wh differs from the {session.start_register_wh} Wh "
            "read at start (2.3.1)"
        )
    uow.ledger.record_register(cmd.meter_number, cmd.completed_utc, cmd.end_register_wh, session.session_id,
                               message_id)
    session = _move(uow, session, S.COMPLETED, now, message_id, "3.3.4" if session.third_party else "2.3.4",
                    started_utc=cmd.started_utc, start_register_wh=cmd.start_register_wh,
                    end_register_wh=cmd.end_register_wh, consumed_wh=consumed,
                    completed_utc=cmd.completed_utc)
    uow.planner.release(session.session_id, session.transformer_id)
    if not session.third_party:
        session = _hand_to_billing(uow, session, now, message_id)
    return session


@dataclass(frozen=True, slots=True)
class UsageAssignment:
    """3.3.5: the session's energy leaves the host's account for the EV owner's."""

    session_id: str
    from_account_id: str
    to_account_id: str
    energy_wh: int


def assign_usage(cmd: UsageAssignment, uow: UnitOfWork, now: datetime, message_id: str | None = None) -> Session:
    """One auditable settlement record, then the consumption goes to billing (4.1)."""
    session = uow.sessions.get(cmd.session_id)
    if not session.third_party:
        raise InvalidParameter(f"session {session.session_id} is a home charge: nothing to assign")
    if (cmd.from_account_id, cmd.to_account_id) != (session.host_account_id, session.owner_account_id):
        raise InvalidParameter(
            f"usage of {session.session_id} moves from {session.host_account_id} to "
            f"{session.owner_account_id}, not from {cmd.from_account_id} to {cmd.to_account_id}"
        )
    if session.state is not S.COMPLETED or cmd.energy_wh != session.consumed_wh:
        # Energy is conserved: exactly the metered Wh move, once the session is complete.
        raise InvalidParameter(
            f"session {session.session_id} ({session.state.value}) metered {session.consumed_wh} Wh; "
            f"cannot assign {cmd.energy_wh} Wh"
        )
    uow.ledger.settle(session.session_id, cmd.from_account_id, cmd.to_account_id, cmd.energy_wh, now)
    session = _move(uow, session, S.SETTLED, now, message_id, "3.3.5")
    return _hand_to_billing(uow, session, now, message_id)


def record_bill(bill: events.BillInformation, uow: UnitOfWork, now: datetime,
                message_id: str | None = None) -> Session:
    """4.1.1 bill information to the owner's portal, then 4.1.2 the acknowledgment."""
    session = uow.sessions.get(bill.session_id)
    if bill.account_id != session.owner_account_id:
        raise InvalidParameter(
            f"session {session.session_id} is billed to {session.owner_account_id}, not {bill.account_id}"
        )
    if bill.energy_wh != session.consumed_wh:
        raise InvalidParameter(f"bill of {bill.energy_wh} Wh for a session that metered {session.consumed_wh} Wh")
    uow.ledger.record_bill(bill)
    session = _move(uow, session, S.BILLED, now, message_id, "4.1.1")
    uow.outbox.put(bill)
    session = _move(uow, session, S.ACKNOWLEDGED, now, message_id, "4.1.2")
    uow.outbox.put(events.SessionAcknowledged(session.session_id, bill.bill_id, bill.account_id))
    return session


def _hand_to_billing(uow: UnitOfWork, session: Session, now: datetime, message_id: str | None) -> Session:
    """4.1: the consumption with its rate's windows over every metered 15-minute interval it touches.

    Billing prices each interval by the window holding its start, so the windows run
    from the start of the interval holding the session's start to the end of the one
    holding its end (at least one interval). A session rated before rates were recorded
    gets its kind's rate.
    """
    tariff = uow.registry.tariff(session.tariff_id)
    rate = session.rate or default_rate(session.kind)
    start = session.started_utc or session.plugged_in_utc
    end = max(session.completed_utc or now, start)
    first = metering.floor_interval(start)
    last = max(metering.ceil_interval(end), first + metering.INTERVAL)
    priced = tuple(windows(tariff, session.kind, first, last, rate))
    station = uow.registry.station(session.station_id)
    usage_point = station.premise.usage_point_id if station is not None else None
    session = _move(uow, session, S.BILLING, now, message_id, "4.1")
    uow.outbox.put(events.ConsumptionForBilling(session, tariff, priced, rate=rate, usage_point_id=usage_point))
    return session


def _check_meter(session: Session, meter_number: str) -> None:
    if meter_number != session.meter_number:
        raise InvalidParameter(
            f"meter {meter_number} does not measure session {session.session_id} (meter {session.meter_number})"
        )


def _unless_expired(uow: UnitOfWork, session: Session | None, now: datetime, message_id: str | None) -> Session | None:
    """``session``, unless it never started and its departure has passed: then it is cancelled.

    Its portal never sent the start's outcome or the unplug (a portal down all night):
    the EV is long gone, and must not be refused at its next plug-in, nor the station.
    One that started may hold unbilled energy: it stays until its completion comes.
    """
    if session is None or session.state is S.CHARGING or session.departure_utc > now:
        return session
    _cancel(uow, session, now, message_id, "expired: departed without charging")
    return None


def _cancel(uow: UnitOfWork, session: Session, now: datetime, message_id: str | None, why: str) -> None:
    _move(uow, session, S.CANCELLED, now, message_id, why)
    uow.planner.release(session.session_id, session.transformer_id)


def _move(uow: UnitOfWork, session: Session, to: SessionState, now: datetime, message_id: str | None,
          step: str, **changes: object) -> Session:
    moved, transition = advance(session, to, now, message_id=message_id, detail=step, **changes)
    uow.sessions.save(moved, transition)
    return moved
