"""The EV Operation System on the real store (SQLite and PostgreSQL), through the router:
61968-100 messages in, replies and outbox messages out, every step persisted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from evgrid.adapters.store import models as m
from evgrid.apps.evos.system import OperationSystem, operation_system
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.generated import ev_charging as ev
from evgrid.cim.generated import meter_readings as mr
from evgrid.mappings import catalog, codes, examples
from evgrid.mappings.ev_charging import xml_time
from evgrid.scheduler.partitions import RollingHorizon
from tests.integration.conftest import seed_store

NIGHT = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
MSG = ns.MESSAGE
codec = Codec()


class Clock:
    def __init__(self) -> None:
        self.moment = NIGHT + timedelta(minutes=40)

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def evos(store_url: str, examples: Path, clock: Clock) -> OperationSystem:

    seed_store(store_url, examples)
    system = operation_system(store_url, horizon=RollingHorizon(NIGHT), clock=clock)
    yield system
    system.close()


def request_message(ev_id: str, station: str, customer: str, usage_point: str, *, wh: int = 20_000,
                    hours: float = 13, message_id: str | None = None, mrid: str | None = None, day: int = 0,
                    plugged_in: datetime | None = None) -> bytes:
    """A ChargingRequest plugged in 35 minutes into the night (``day`` nights after NIGHT), leaving ``hours`` after
    the night's start; or plugged in at ``plugged_in``, leaving ``hours`` after it."""
    night = NIGHT + timedelta(days=day)
    arrival = plugged_in or night + timedelta(minutes=35)
    departure = (plugged_in or night) + timedelta(hours=hours)
    payload = replace(
        examples.charging_request(False), m_rid=mrid or f"R-{ev_id}", created_date_time=xml_time(arrival),
        electric_vehicle=ev.ElectricVehicle(m_rid=ev_id), charging_station=ev.ChargingStation(m_rid=station),
        customer=ev.Customer(m_rid=customer), usage_point=ev.UsagePoint(m_rid=usage_point),
        requested_energy=wh, departure_time=xml_time(departure),
    )
    return codec.dump(env.request(env.Verb.CREATE, "ChargingRequest", payload, source="portal",
                                  message_id=message_id or f"M-{ev_id}"))


def event_message(noun: str, payload: object, message_id: str) -> bytes:
    return codec.dump(env.event(env.Verb.CREATED, noun, payload, source="portal", message_id=message_id))


def register(meter: str, at: datetime, wh: int) -> object:
    return mr.MeterReadings(meter_reading=[mr.MeterReading(
        meter=mr.Meter(m_rid=meter), readings=[mr.Reading(
            time_stamp=xml_time(at), value=str(wh), reading_type=mr.Reading.ReadingType(ref=codes.REGISTER_WH))])])


def completion(session_id: str, station: str, ev_id: str, meter: str, start: datetime, end: datetime,
               start_wh: int, end_wh: int) -> object:
    return ev.ChargingCompletion(
        charging_session=ev.Reference(m_rid=session_id), charging_station=ev.Reference(m_rid=station),
        electric_vehicle=ev.Reference(m_rid=ev_id), meter=ev.Meter(m_rid=meter),
        actual_interval=ev.DateTimeInterval(start=xml_time(start), end=xml_time(end)),
        start_register=start_wh, end_register=end_wh, consumed_energy=end_wh - start_wh,
        reason=ev.CompletionReason.EV_FULL)


def result(reply: bytes) -> tuple[str, str | None]:
    root = etree.fromstring(reply)
    return (root.findtext(f"{{{MSG}}}Reply/{{{MSG}}}Result"),
            root.findtext(f"{{{MSG}}}Reply/{{{MSG}}}Error/{{{MSG}}}code"))


def count(evos: OperationSystem, model: type) -> int:
    with evos.sessions() as db:
        return db.scalar(select(func.count()).select_from(model))


def test_uc_home_and_third_party_through_the_store(evos: OperationSystem, clock: Clock) -> None:
    home = evos.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001"))
    assert result(home) == ("OK", None)
    decoded = codec.decode(home)
    confirmation = decoded.root.find(f".//{{{ns.EV_CHARGING}}}ChargingConfirmation")
    assert confirmation.findtext(f"{{{ns.EV_CHARGING}}}kind") == "home"
    assert decoded.root.find(f".//{{{ns.EV_CHARGING}}}TimeSlotAllotment") is not None

    # The same MessageID again: the same reply, nothing new stored.
    assert evos.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")) == home
    assert count(evos, m.ChargingSession) == 1

    third = evos.router.handle(request_message("EV-1002", "S-1003", "C-1003", "UP-1003", wh=8_000))
    assert result(third) == ("OK", None)
    with evos.sessions() as db:
        sessions = {s.ev_id: s for s in db.scalars(select(m.ChargingSession))}
        assert sessions["EV-1001"].kind == "home" and sessions["EV-1002"].kind == "thirdParty"
        assert sessions["EV-1002"].owner_account_id == "A-1002" and sessions["EV-1002"].host_account_id == "A-1003"
        assert all(s.state == "scheduled" for s in sessions.values())
        home_id, third_id = sessions["EV-1001"].session_id, sessions["EV-1002"].session_id
        # Third party charges at once; home waits for the night rate (23:00 in Amsterdam).
        assert sessions["EV-1002"].planned_start <= NIGHT + timedelta(minutes=45)
        assert sessions["EV-1001"].planned_start >= datetime(2026, 11, 26, 22, tzinfo=UTC)
        outbox = {(o.destination, o.noun) for o in db.scalars(select(m.OutboxMessage))}
    assert ("portal:P-1001", "TimeSlotAllotment") in outbox and ("portal:P-1003", "TimeSlotAllotment") in outbox
    assert ("billing", "ThirdPartyCharging") in outbox

    # Third party: start reading, completion, usage assignment, bill.
    start, end = NIGHT + timedelta(minutes=45), NIGHT + timedelta(minutes=115)
    clock.moment = start
    assert result(evos.router.handle(event_message("MeterReadings", register("M-1003", start, 500_000), "r1")))[0] == "OK"
    clock.moment = end
    done = completion(third_id, "S-1003", "EV-1002", "M-1003", start, end, 500_000, 508_000)
    assert result(evos.router.handle(event_message("ChargingCompletion", done, "c1")))[0] == "OK"
    assign = ev.UsageAssignment(
        charging_session=ev.Reference(m_rid=third_id), electric_vehicle=ev.Reference(m_rid="EV-1002"),
        host_usage_point=ev.UsagePoint(m_rid="UP-1003"), from_account=ev.CustomerAccount(m_rid="A-1003"),
        to_account=ev.CustomerAccount(m_rid="A-1002"),
        interval=ev.DateTimeInterval(start=xml_time(start), end=xml_time(end)), energy=8_000)
    assert result(evos.router.handle(event_message("UsageAssignment", assign, "u1")))[0] == "OK"
    # A second assignment of the same session is refused, and nothing moves twice.
    assert result(evos.router.handle(event_message("UsageAssignment", assign, "u2"))) == ("FAILED", "2.6")

    bill = examples.billing_information()
    bill = replace(bill, m_rid="B-3", charging_session=ev.Reference(m_rid=third_id),
                   customer_account=ev.CustomerAccount(m_rid="A-1002"), total_energy=8_000,
                   charge=[replace(bill.charge[0], energy=8_000, amount=bill.charge[0].unit_price * 8)],
                   total_amount=bill.charge[0].unit_price * 8)
    assert result(evos.router.handle(event_message("BillingInformation", bill, "b1")))[0] == "OK"

    with evos.sessions() as db:
        session = db.get(m.ChargingSession, third_id)
        assert session.state == "acknowledged" and session.consumed_wh == 8_000
        (settlement,) = db.scalars(select(m.SettlementRecord)).all()
        assert (settlement.from_account_id, settlement.to_account_id, settlement.energy_wh) == ("A-1003", "A-1002", 8_000)
        steps = [t.detail for t in db.scalars(select(m.SessionTransition).where(
            m.SessionTransition.session_id == third_id).order_by(m.SessionTransition.id))]
        assert steps == ["1.1.2", "3.1", "3.1.2", "3.1.3", "3.2", "3.3.1", "3.3.4", "3.3.5", "4.1", "4.1.1", "4.1.2"]
        outbox = {(o.destination, o.noun) for o in db.scalars(select(m.OutboxMessage))}
    # 4.1.1: the bill goes to the EV owner's own portal (P-1002), not the host's.
    assert ("portal:P-1002", "BillingInformation") in outbox
    assert ("scheduler", "ChargingAcknowledgment") in outbox
    assert ("billing", "ChargingConsumption") in outbox
    assert home_id != third_id


@pytest.mark.parametrize(("ev_id", "station", "customer", "usage_point", "code"), [
    ("EV-9999", "S-1001", "C-1001", "UP-1001", "2.7"),
    ("EV-1005", "S-1005", "C-1005", "UP-1005", "6.3"),
    ("EV-1001", "S-1002", "C-1001", "UP-1001", "7.0"),
    ("EV-1001", "S-9999", "C-1001", "UP-1001", "2.7"),
], ids=["unknown_ev", "closed_account", "portal_for_another_site", "station_at_no_premise"])
def test_bad_requests_get_their_code_and_store_nothing(evos: OperationSystem, ev_id: str, station: str,
                                                       customer: str, usage_point: str, code: str) -> None:
    message = request_message(ev_id, station, customer, usage_point)
    reply = evos.router.handle(message)
    assert result(reply) == ("FAILED", code)
    assert count(evos, m.ChargingSession) == 0 and count(evos, m.OutboxMessage) == 0
    assert evos.router.handle(message) == reply  # a replay gets the same answer


def test_departure_before_arrival_and_impossible_energy(evos: OperationSystem) -> None:
    early = request_message("EV-1001", "S-1001", "C-1001", "UP-1001", hours=0.5, message_id="a")
    assert result(evos.router.handle(early)) == ("FAILED", "2.6")
    huge = request_message("EV-1001", "S-1001", "C-1001", "UP-1001", wh=10**9, message_id="b")
    assert result(evos.router.handle(huge)) == ("FAILED", "2.6")
    assert count(evos, m.ChargingSession) == 0


def test_the_same_ev_cannot_charge_at_two_stations(evos: OperationSystem) -> None:
    assert result(evos.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
    elsewhere = request_message("EV-1001", "S-1003", "C-1003", "UP-1003", message_id="again")
    assert result(evos.router.handle(elsewhere)) == ("FAILED", "6.4")
    assert count(evos, m.ChargingSession) == 1


def test_catalog_example_requests_are_routed(evos: OperationSystem) -> None:
    # The catalog's example is for a premise this registry does not have: a clean 2.7.
    reply = evos.router.handle(codec.dump(examples.example_message(catalog.step("1.1.2"))))
    assert result(reply) == ("FAILED", "2.7")


def test_uc_2_3_dispatch_sends_the_start_to_the_portal_once(store_url: str, examples: Path, clock: Clock,
                                                            tmp_path: Path) -> None:
    from evgrid.apps.evos.system import schedule_jobs
    from evgrid.scheduler.jobs import Dispatcher

    seed_store(store_url, examples)
    # Jobs far in the wall-clock future: this test fires them itself.
    dispatcher = Dispatcher(f"sqlite:///{tmp_path / 'jobs.db'}", to_wall=lambda t: t + timedelta(days=3650))
    system = operation_system(store_url, horizon=RollingHorizon(NIGHT), clock=clock,
                              after_commit=schedule_jobs(dispatcher))
    dispatcher.bind(system)
    try:
        with dispatcher:
            reply = system.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001"))
            assert result(reply) == ("OK", None)
            (session_id, start, stop) = system.pending_dispatch()[0]
            assert stop is not None and stop > start
            assert dispatcher.pending() == sorted([f"start:{session_id}", f"stop:{session_id}"])

            system.start_session(session_id)
            system.start_session(session_id)  # a second (late) fire changes nothing
            system.stop_session(session_id)  # not charging yet: nothing to stop
        with system.sessions() as db:
            controls = [o for o in db.scalars(select(m.OutboxMessage)) if o.noun == "EndDeviceControls"]
        assert len(controls) == 1 and controls[0].destination == "portal:P-1001"
        message = codec.decode(controls[0].body)
        assert codes.CONNECT_LOAD_SWITCH.encode() in controls[0].body and message.header.verb is env.Verb.CREATE
    finally:
        system.close()


def rounded_powers(system: OperationSystem) -> dict[str, tuple[float, ...]]:
    """Each planned session's power per slot as stored and sent: to the W."""
    return {session_id: tuple(round(kw, 3) for kw in power)
            for session_id, (_, power) in system.planner.planned().items()}


def test_a_restarted_operation_system_keeps_the_nights_plan(evos: OperationSystem, store_url: str,
                                                           clock: Clock) -> None:
    # The portals were told these slots: after a restart they stand, and a new request
    # is placed around them, never on top of them.
    assert result(evos.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
    before = rounded_powers(evos)
    assert any(any(kw > 0 for kw in row) for row in before.values())
    evos.close()
    again = operation_system(store_url, horizon=RollingHorizon(NIGHT), clock=clock)
    try:
        assert rounded_powers(again) == {}  # a partition is opened (restored) when first used
        assert result(again.router.handle(request_message("EV-1002", "S-1002", "C-1002", "UP-1002")))[0] == "OK"
        after = rounded_powers(again)
        assert len(after) == 2 and all(after[s] == before[s] for s in before)
    finally:
        again.close()


def test_the_next_night_is_planned_when_this_one_is_over_and_after_a_restart(evos: OperationSystem, store_url: str,
                                                                             clock: Clock) -> None:
    assert result(evos.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
    # The next evening: the same EV again, and another. Its portal never reported last
    # night's session (never started): it expired, and blocks neither the EV nor the station.
    tomorrow = NIGHT + timedelta(days=1)
    clock.moment = tomorrow + timedelta(minutes=40)
    for ev_id, station, customer, point in (("EV-1001", "S-1001", "C-1001", "UP-1001"),
                                            ("EV-1002", "S-1002", "C-1002", "UP-1002")):
        reply = evos.router.handle(request_message(ev_id, station, customer, point, day=1,
                                                   message_id=f"M2-{ev_id}", mrid=f"R2-{ev_id}"))
        assert result(reply) == ("OK", None)
    with evos.sessions() as db:
        rows = db.execute(select(m.ChargingSession.session_id, m.ChargingSession.state,
                                 m.ChargingSession.planned_start)).all()
    assert {row.session_id: row.state for row in rows} == {
        "S-R-EV-1001": "cancelled", "S-R2-EV-1001": "scheduled", "S-R2-EV-1002": "scheduled"}
    tonight = {row.session_id for row in rows if row.planned_start.replace(tzinfo=UTC) >= tomorrow}
    assert tonight == {"S-R2-EV-1001", "S-R2-EV-1002"}
    assert set(evos.planner.planned()) == tonight
    assert set(evos.planner.windows().values()) == {tomorrow}

    # Restarted during that night (configured with the first one): it plans the window it
    # is in, with tonight's sessions; last night's stale one has nothing in it.
    evos.close()
    again = operation_system(store_url, horizon=RollingHorizon(NIGHT), clock=clock)
    try:
        assert result(again.router.handle(request_message("EV-1003", "S-1003", "C-1003", "UP-1003", day=1,
                                                          message_id="M2-EV-1003", mrid="R2-EV-1003")))[0] == "OK"
        assert set(again.planner.windows().values()) == {tomorrow}
        assert set(again.planner.planned()) == tonight | {"S-R2-EV-1003"}
        restored = rounded_powers(again)
        assert {s: restored[s] for s in tonight} == rounded_powers(evos)  # as stored: to the W
    finally:
        again.close()


def test_an_ev_that_leaves_before_charging_cancels_its_session_and_frees_its_slots(evos: OperationSystem) -> None:
    from evgrid.cim.generated import end_device_events as ede

    assert result(evos.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
    with evos.sessions() as db:
        session_id = db.scalar(select(m.ChargingSession.session_id))
    assert session_id in evos.planner.planned()
    left = ede.EndDeviceEvents(end_device_event=[ede.EndDeviceEvent(
        m_rid="E-1", created_date_time=xml_time(NIGHT + timedelta(hours=1)), assets=ede.Asset(m_rid="S-1001"),
        end_device_event_details=[ede.EndDeviceEventDetail(name="EVId", value="EV-1001")],
        end_device_event_type=ede.EndDeviceEvent.EndDeviceEventType(ref=codes.EV_UNPLUGGED),
        usage_point=ede.UsagePoint(m_rid="UP-1001"))])
    assert result(evos.router.handle(event_message("EndDeviceEvents", left, "u1")))[0] == "OK"
    with evos.sessions() as db:
        assert db.scalar(select(m.ChargingSession.state)) == "cancelled"
    assert session_id not in evos.planner.planned()
    evos.start_session(session_id)  # the start job fires anyway: nothing happens
    with evos.sessions() as db:
        assert not db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.message_id.like("%:start"))).all()
