"""The EV Operation System's handlers against in-memory fakes, one test per step."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from evgrid.errors import (
    AccountClosed,
    AlreadyCharging,
    InvalidParameter,
    SecurityRejected,
    StationBusy,
    UnknownReference,
)
from evgrid.operations import events, handlers
from evgrid.operations.model import ChargingKind, ChargingRequest
from evgrid.operations.rates import ChargeLine
from evgrid.operations.session import IllegalTransition, SessionState
from tests.unit.operations.fakes import NOW, FakeUnitOfWork

S = SessionState


def request(ev_id: str = "EV-A", **changes: object) -> ChargingRequest:
    fields: dict[str, object] = dict(
        request_mrid=f"R-{ev_id}", ev_id=ev_id, station_id="EVSE-A", customer_id="C-A",
        usage_point_id="UP-A", premise_number="P-A", requested_wh=20_000,
        departure_utc=NOW + timedelta(hours=13), max_power_kw=Decimal("11"), plugged_in_utc=NOW,
    )
    fields.update(changes)
    return ChargingRequest(**fields)  # type: ignore[arg-type]


def run(uow: FakeUnitOfWork, handler, command, message_id: str = "m-1", now=NOW):  # noqa: ANN001, ANN201
    with uow:
        outcome = handler(command, uow, now, message_id)
        uow.commit()
    return outcome


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def steps(uow: FakeUnitOfWork, session_id: str) -> list[str]:
    return [t.detail for t in uow.committed.transitions if t.session_id == session_id]


def test_uc_1_1_2_request_opens_a_session(uow: FakeUnitOfWork) -> None:
    confirmation = run(uow, handlers.request_charging, request())
    session = uow.committed.sessions[confirmation.session.session_id]
    assert session.ev_id == "EV-A" and session.station_id == "EVSE-A"
    assert session.meter_number == "MTR-A" and session.transformer_id == "TX-1"
    assert steps(uow, session.session_id) == ["1.1.2", "1.2", "2.1", "2.1.1", "2.2"]
    assert all(t.message_id == "m-1" for t in uow.committed.transitions)


def test_uc_1_2_home_when_the_owner_is_the_portals_customer(uow: FakeUnitOfWork) -> None:
    session = run(uow, handlers.request_charging, request()).session
    assert session.kind is ChargingKind.HOME
    assert session.owner_account_id == session.host_account_id == "ACC-A"
    assert not any(isinstance(e, events.ThirdPartyRecorded) for e in uow.committed.outbox)


def test_uc_3_1_third_party_flagged_with_owner_ev_and_host(uow: FakeUnitOfWork) -> None:
    session = run(uow, handlers.request_charging, request("EV-B")).session
    assert session.kind is ChargingKind.THIRD_PARTY
    assert (session.owner_account_id, session.host_account_id) == ("ACC-B", "ACC-A")
    (recorded,) = [e for e in uow.committed.outbox if isinstance(e, events.ThirdPartyRecorded)]
    assert (recorded.owner_customer_id, recorded.host_customer_id) == ("C-B", "C-A")  # 3.1.1
    assert steps(uow, session.session_id) == ["1.1.2", "3.1", "3.1.2", "3.1.3", "3.2"]


def test_uc_2_1_home_session_gets_the_tariff(uow: FakeUnitOfWork) -> None:
    assert run(uow, handlers.request_charging, request()).session.tariff_id == "T-EV"


def test_uc_2_1_1_confirmation_at_the_lower_of_station_and_ev_power(uow: FakeUnitOfWork) -> None:
    confirmation = run(uow, handlers.request_charging, request())
    assert confirmation.effective_power_kw == Decimal("7.2")  # station 7.2 < EV 11 = request 11
    assert confirmation.session.reachable_wh == 20_000 and not confirmation.partial


def test_uc_3_1_3_partial_when_short_by_departure(uow: FakeUnitOfWork) -> None:
    # EV-B charges at 3.7 kW: one hour before departure reaches 3,700 Wh of 20,000.
    confirmation = run(uow, handlers.request_charging, request("EV-B", departure_utc=NOW + timedelta(hours=1)))
    assert confirmation.partial
    assert confirmation.session.reachable_wh == 3_700
    assert confirmation.effective_power_kw == Decimal("3.7")


def test_uc_2_2_slot_assigned_and_start_time_sent_to_the_portal(uow: FakeUnitOfWork) -> None:
    confirmation = run(uow, handlers.request_charging, request())
    session = confirmation.session
    assert session.state is S.SCHEDULED
    assert session.planned_start_utc == NOW.replace(hour=23)  # home: the night
    (allotted,) = [e for e in uow.committed.outbox if isinstance(e, events.SlotAllotted)]
    assert allotted.destination == events.PORTAL and allotted.allotment.start_utc == session.planned_start_utc


def test_uc_3_2_third_party_starts_at_once(uow: FakeUnitOfWork) -> None:
    assert run(uow, handlers.request_charging, request("EV-B")).session.planned_start_utc == NOW


@pytest.mark.parametrize(("command", "error", "code"), [
    (request("EV-X"), UnknownReference, "2.7"),
    (request(station_id="EVSE-X"), UnknownReference, "2.7"),
    (request("EV-C", customer_id="C-A"), AccountClosed, "6.3"),
    (request(departure_utc=NOW - timedelta(minutes=1)), InvalidParameter, "2.6"),
    (request(requested_wh=0), InvalidParameter, "2.6"),
    (request(requested_wh=60_001), InvalidParameter, "2.6"),
    (request(max_power_kw=Decimal("0")), InvalidParameter, "2.6"),
    (request(customer_id="C-B"), SecurityRejected, "7.0"),
    (request(usage_point_id="UP-B"), SecurityRejected, "7.0"),
], ids=["unknown_ev", "unknown_station", "closed_account", "departure_before_arrival", "zero_energy",
        "beyond_battery", "zero_power", "portal_of_another_customer", "portal_of_another_site"])
def test_bad_request_is_refused_and_changes_nothing(uow: FakeUnitOfWork, command: ChargingRequest,
                                                    error: type[Exception], code: str) -> None:
    with pytest.raises(error) as raised:
        run(uow, handlers.request_charging, command)
    assert raised.value.code == code  # type: ignore[attr-defined]
    assert uow.committed.sessions == {} and uow.committed.outbox == []


def test_the_same_ev_cannot_charge_in_two_places(uow: FakeUnitOfWork) -> None:
    run(uow, handlers.request_charging, request())
    with pytest.raises(AlreadyCharging):
        run(uow, handlers.request_charging, request(request_mrid="R-again"))
    assert len(uow.committed.sessions) == 1


def test_a_station_serves_one_ev_at_a_time(uow: FakeUnitOfWork) -> None:
    run(uow, handlers.request_charging, request())
    with pytest.raises(StationBusy) as raised:
        run(uow, handlers.request_charging, request("EV-B"))
    assert raised.value.code == "6.5"


def test_a_session_never_started_expires_after_its_departure_and_blocks_nothing(uow: FakeUnitOfWork) -> None:
    stale = run(uow, handlers.request_charging, request()).session  # its portal never reported again
    tomorrow = NOW + timedelta(days=1)
    again = request(request_mrid="R-tomorrow", plugged_in_utc=tomorrow, departure_utc=tomorrow + timedelta(hours=13))
    fresh = run(uow, handlers.request_charging, again, "m-2", tomorrow).session
    assert uow.committed.sessions[stale.session_id].state is S.CANCELLED
    assert steps(uow, stale.session_id)[-1] == "expired: departed without charging"
    assert uow.committed.sessions[fresh.session_id].state is S.SCHEDULED
    # Before its departure it still counts: the same EV is refused.
    with pytest.raises(AlreadyCharging):
        run(uow, handlers.request_charging, replace(again, request_mrid="R-3"), "m-3", tomorrow + timedelta(hours=1))


def test_a_start_that_fires_after_the_departure_expires_the_session_and_switches_nothing(
        uow: FakeUnitOfWork) -> None:
    session = run(uow, handlers.request_charging, request()).session
    late = session.departure_utc + timedelta(days=2)  # the operation system was down that long
    with uow:
        assert handlers.start_due(session.session_id, uow, late) is False
        uow.commit()
    assert uow.committed.sessions[session.session_id].state is S.CANCELLED
    assert not [e for e in uow.committed.outbox if isinstance(e, events.SwitchStation)]


def test_a_session_that_started_is_never_expired(uow: FakeUnitOfWork) -> None:
    session_id = _charged(uow)  # its completion (and the energy in it) has not come yet
    tomorrow = NOW + timedelta(days=1)
    again = request(request_mrid="R-tomorrow", plugged_in_utc=tomorrow, departure_utc=tomorrow + timedelta(hours=13))
    with pytest.raises(AlreadyCharging):
        run(uow, handlers.request_charging, again, "m-3", tomorrow)
    assert uow.committed.sessions[session_id].state is S.CHARGING


def test_a_failure_half_way_leaves_nothing(uow: FakeUnitOfWork, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self, session, now=None):  # noqa: ANN001, ANN202
        raise RuntimeError("scheduler down")

    monkeypatch.setattr("tests.unit.operations.fakes.FakePlanner.place", full)
    with pytest.raises(RuntimeError):
        run(uow, handlers.request_charging, request())
    assert uow.committed.sessions == {} and uow.committed.transitions == []


def _charged(uow: FakeUnitOfWork, ev_id: str = "EV-A") -> str:
    session = run(uow, handlers.request_charging, request(ev_id)).session
    run(uow, handlers.record_start, handlers.StartReading(session.session_id, "MTR-A", NOW, 1_000_000), "m-2")
    return session.session_id


def completion(session_id: str, end_wh: int = 1_018_500) -> handlers.Completion:
    return handlers.Completion(session_id, "MTR-A", NOW, NOW + timedelta(hours=3), 1_000_000, end_wh, "evFull")


def test_uc_2_3_1_register_at_start_makes_the_session_charging(uow: FakeUnitOfWork) -> None:
    session_id = _charged(uow)
    session = uow.committed.sessions[session_id]
    assert session.state is S.CHARGING and session.start_register_wh == 1_000_000
    assert uow.committed.registers == [("MTR-A", NOW, 1_000_000, session_id)]


def test_a_start_that_comes_through_after_the_allotment_ended_is_stopped_at_once(uow: FakeUnitOfWork) -> None:
    session = run(uow, handlers.request_charging, request()).session
    late = session.planned_end_utc + timedelta(minutes=5)
    with uow:
        handlers.record_start(handlers.StartReading(session.session_id, "MTR-A", late, 1_000_000), uow, late, "m-2")
        uow.commit()
    switches = [e for e in uow.committed.outbox if isinstance(e, events.SwitchStation)]
    assert [switch.close for switch in switches] == [False]  # the stop job had found it still scheduled


def test_a_start_within_the_allotment_queues_no_stop(uow: FakeUnitOfWork) -> None:
    _charged(uow)
    assert not [e for e in uow.committed.outbox if isinstance(e, events.SwitchStation)]


def test_uc_2_3_4_home_completion_goes_to_billing(uow: FakeUnitOfWork) -> None:
    session_id = _charged(uow)
    session = run(uow, handlers.complete, completion(session_id), "m-3")
    assert session.state is S.BILLING and session.consumed_wh == 18_500
    (billing,) = [e for e in uow.committed.outbox if isinstance(e, events.ConsumptionForBilling)]
    assert billing.session.owner_account_id == "ACC-A" and billing.destination == events.BILLING  # 4.1
    assert uow.committed.released == [session_id]
    assert steps(uow, session_id)[-2:] == ["2.3.4", "4.1"]


def test_uc_3_3_4_third_party_completion_waits_for_usage_assignment(uow: FakeUnitOfWork) -> None:
    session_id = _charged(uow, "EV-B")
    assert run(uow, handlers.complete, completion(session_id), "m-3").state is S.COMPLETED
    assert not any(isinstance(e, events.ConsumptionForBilling) for e in uow.committed.outbox)


def test_uc_3_3_5_usage_moves_from_host_to_owner_once(uow: FakeUnitOfWork) -> None:
    session_id = _charged(uow, "EV-B")
    run(uow, handlers.complete, completion(session_id), "m-3")
    assign = handlers.UsageAssignment(session_id, "ACC-A", "ACC-B", 18_500)
    session = run(uow, handlers.assign_usage, assign, "m-4")
    assert session.state is S.BILLING
    assert uow.committed.settlements == [(session_id, "ACC-A", "ACC-B", 18_500)]
    with pytest.raises(InvalidParameter):  # a second assignment: the session has moved on
        run(uow, handlers.assign_usage, assign, "m-5")
    assert len(uow.committed.settlements) == 1


@pytest.mark.parametrize("assign", [
    handlers.UsageAssignment("?", "ACC-A", "ACC-B", 18_499),
    handlers.UsageAssignment("?", "ACC-B", "ACC-A", 18_500),
], ids=["energy_not_conserved", "wrong_direction"])
def test_usage_assignment_must_match_the_metered_energy_and_parties(
        uow: FakeUnitOfWork, assign: handlers.UsageAssignment) -> None:
    session_id = _charged(uow, "EV-B")
    run(uow, handlers.complete, completion(session_id), "m-3")
    with pytest.raises(InvalidParameter):
        run(uow, handlers.assign_usage, handlers.UsageAssignment(
            session_id, assign.from_account_id, assign.to_account_id, assign.energy_wh))
    assert uow.committed.settlements == []


def test_uc_4_1_1_and_4_1_2_bill_to_owner_portal_then_acknowledgment(uow: FakeUnitOfWork) -> None:
    session_id = _charged(uow)
    run(uow, handlers.complete, completion(session_id), "m-3")
    bill = events.BillInformation("B-1", session_id, "ACC-A", "EUR",
                                  (ChargeLine("EV night", 18_500, Decimal("0.09"), Decimal("1.67")),),
                                  18_500, Decimal("1.67"), NOW)
    session = run(uow, handlers.record_bill, bill, "m-4")
    assert session.state is S.ACKNOWLEDGED
    assert steps(uow, session_id)[-2:] == ["4.1.1", "4.1.2"]
    assert uow.committed.bills == [bill]
    sent = [type(e).__name__ for e in uow.committed.outbox][-2:]
    assert sent == ["BillInformation", "SessionAcknowledged"]


def test_illegal_transition_is_refused(uow: FakeUnitOfWork) -> None:
    session_id = _charged(uow)
    run(uow, handlers.complete, completion(session_id), "m-3")
    with pytest.raises(IllegalTransition) as raised:
        run(uow, handlers.complete, completion(session_id), "m-4")
    assert raised.value.code == "6.2"


def test_register_going_backwards_is_refused(uow: FakeUnitOfWork) -> None:
    session_id = _charged(uow)
    with pytest.raises(InvalidParameter, match="below start register"):
        run(uow, handlers.complete, completion(session_id, end_wh=999_999))
    assert uow.committed.sessions[session_id].state is S.CHARGING


def test_a_request_no_slot_can_serve_is_refused_6_1_and_stores_nothing(uow: FakeUnitOfWork,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from evgrid.errors import SchedulingConflict
    from evgrid.operations.ports import Allotment
    from tests.unit.operations.fakes import FakePlanner

    # The transformer is full until departure: the planner gives no slot any power.
    monkeypatch.setattr(FakePlanner, "place",
                        lambda self, session, now=None: Allotment(session.session_id, session.transformer_id, (), 15, 0))
    with pytest.raises(SchedulingConflict) as refused:
        run(uow, handlers.request_charging, request())
    assert refused.value.code == "6.1"
    assert not uow.committed.transitions
