"""Every step of the use case in one real night: IEC 61850 devices, SOAP services, the database.

Each test is named after the catalog step it proves (evgrid/mappings/catalog.py) and
checks what that step left in the systems that took part, against the scenario the night
was driven by, not against the code's own view of itself.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from tests.e2e.conftest import FinishedNight

pytestmark = pytest.mark.slow


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _sessions(night: FinishedNight) -> dict[str, dict]:
    rows = night.core("SELECT session_id, ev_id, station_id, premise_number, owner_account_id, host_account_id, kind, "
                      "state, requested_wh, reachable_wh, planned_start, started_at, start_register_wh, "
                      "end_register_wh, consumed_wh, completed_at, tariff_id, plugged_in_at FROM charging_sessions")
    keys = ("session_id", "ev_id", "station_id", "premise", "owner", "host", "kind", "state", "requested_wh",
            "reachable_wh", "planned_start", "started_at", "start_wh", "end_wh", "consumed_wh", "completed_at",
            "tariff_id", "plugged_in_at")
    return {row[0]: dict(zip(keys, row, strict=True)) for row in rows}


def _visit_of(night: FinishedNight, session: dict):  # noqa: ANN202
    scenario = night.night.scenario
    return next(v for v in scenario.visits
                if v.ev_id == session["ev_id"] and scenario.home(v.station_number).station_id == session["station_id"])


def _steps(night: FinishedNight, step: str) -> Counter[str]:
    return Counter(row[0] for row in night.core("SELECT session_id FROM session_transitions WHERE detail = ?", step))


def _delivered(night: FinishedNight, noun: str, destination_like: str) -> list[str]:
    return [row[0] for row in night.core("SELECT message_id FROM outbox WHERE noun = ? AND destination LIKE ? "
                                         "AND status = 'delivered'", noun, destination_like)]


def _home_and_third_party(night: FinishedNight) -> tuple[list[dict], list[dict]]:
    sessions = list(_sessions(night).values())
    home = [s for s in sessions if s["kind"] == "home"]
    third = [s for s in sessions if s["kind"] != "home"]
    assert home and third, "the test night must have both kinds"
    return home, third


# --- the night as a whole -------------------------------------------------------------
def test_the_night_completes_with_every_session_billed_once(night: FinishedNight) -> None:
    summary = night.summary
    assert summary["complete"], summary["demo"]
    assert summary["sessions_total"] == len(night.night.scenario.visits)
    assert {row[0] for row in night.core("SELECT state FROM charging_sessions")} == {"acknowledged"}
    bills = night.billing("SELECT session_id FROM bills")
    assert len(bills) == len({b[0] for b in bills}) == summary["sessions_total"]


def test_energy_is_conserved_metered_equals_billed_equals_what_the_stations_delivered(night: FinishedNight) -> None:
    sessions = _sessions(night)
    metered = sum(s["consumed_wh"] for s in sessions.values())
    billed = sum(row[0] for row in night.billing("SELECT energy_wh FROM bills"))
    assert metered == billed == night.summary["energy_billed_wh"]
    # The stations' own energy counters (sampled over the control channel, not via the
    # adapter): each session's meter delta is what its station delivered, to the Wh
    # the integer register may floor.
    delivered = night.run.samples[-1].delivered_wh
    for session in sessions.values():
        assert abs(delivered[session["station_id"]] - session["consumed_wh"]) <= 1.0, session


# --- 1.x plug-in and identification ---------------------------------------------------------
def test_1_ev_plug_in_is_relayed_as_an_end_device_event(night: FinishedNight) -> None:
    plugs = [r[0] for r in night.core("SELECT message_id FROM inbound_messages WHERE noun = 'EndDeviceEvents'")
             if r[0].endswith(":plug")]
    assert len(plugs) == len(night.night.scenario.visits)


def test_1_1_1_ev_identity_and_needs_come_from_the_station_over_iec61850(night: FinishedNight) -> None:
    scenario = night.night.scenario
    expected = {(v.ev_id, scenario.home(v.station_number).station_id, v.energy_wh) for v in scenario.visits}
    got = {(s["ev_id"], s["station_id"], s["requested_wh"]) for s in _sessions(night).values()}
    assert got == expected


def test_1_1_2_portal_requests_charging_with_its_customer_and_location(night: FinishedNight) -> None:
    requests = night.core("SELECT source FROM inbound_messages WHERE noun = 'ChargingRequest'")
    assert len(requests) == len(night.night.scenario.visits)
    for session in _sessions(night).values():
        home = night.night.scenario.home(int(session["station_id"].split("-")[1]))
        assert (session["premise"], session["host"]) == (home.premise_number, home.account_id)
    assert {r[0] for r in requests} == {f"portal-P-{s['premise'].split('-')[1]}" for s in _sessions(night).values()}


def test_1_2_home_or_third_party_by_the_ev_owner_and_the_portal_customer(night: FinishedNight) -> None:
    for session in _sessions(night).values():
        visit = _visit_of(night, session)
        assert (session["kind"] != "home") == visit.third_party
        assert session["owner"] == night.night.scenario.home(visit.owner_number).account_id
    assert _steps(night, "1.2") | _steps(night, "3.1") == Counter({s: 1 for s in _sessions(night)})


# --- 2.x home charging ----------------------------------------------------------------------
def test_2_1_the_ev_night_rate_applies_to_home_sessions(night: FinishedNight) -> None:
    home, _ = _home_and_third_party(night)
    assert all(_steps(night, "2.1")[s["session_id"]] == 1 for s in home)
    lines = " ".join(row[0] for row in night.core("SELECT body FROM bills"))
    assert "EV night" in lines


def test_2_1_1_requirements_are_confirmed_with_the_reachable_energy(night: FinishedNight) -> None:
    home, _ = _home_and_third_party(night)
    for session in home:
        assert _steps(night, "2.1.1")[session["session_id"]] == 1
        assert session["reachable_wh"] == session["requested_wh"]  # a whole night at 7.4 kW or more


def test_2_2_slots_keep_every_transformer_within_its_limit(night: FinishedNight) -> None:
    plan: Counter[tuple[str, str]] = Counter()
    rows = night.core("SELECT t.transformer_id, a.slot_start, a.power_kw FROM slot_allocations a "
                      "JOIN charging_sessions s ON s.session_id = a.session_id "
                      "JOIN service_locations l ON l.premise_number = s.premise_number "
                      "JOIN transformers t ON t.transformer_id = l.transformer_id")
    for transformer, slot, kw in rows:
        plan[(transformer, slot)] += float(kw)
    limits = {t.transformer_id: t for t in night.night.scenario.transformers}
    for (transformer, slot), kw in plan.items():
        base = limits[transformer].base_load_kw[_time(slot).hour]
        assert kw + base <= limits[transformer].capacity_kw + 1e-6, (transformer, slot)
    assert night.summary["violations"] == []  # and what the stations really drew, per slot
    for row in night.summary["transformers"]:
        assert row["peak_kw"] <= row["limit_kw"] * 1.005


def test_2_2_1_the_start_time_reaches_the_portal(night: FinishedNight) -> None:
    sessions = _sessions(night)
    delivered = _delivered(night, "TimeSlotAllotment", "portal:%")
    assert sorted(delivered) == sorted(f"TimeSlotAllotment:{s}" for s in sessions)


def test_2_3_the_portal_switches_the_station_on_at_the_start_time(night: FinishedNight) -> None:
    home, _ = _home_and_third_party(night)
    starts = set(_delivered(night, "EndDeviceControls", "portal:%"))
    for session in home:
        assert f"EndDeviceControls:{session['session_id']}:start" in starts
        late = _time(session["started_at"]) - _time(session["planned_start"])
        assert timedelta(0) <= late < timedelta(minutes=15), session  # within its first slot


def test_2_3_1_the_meter_register_is_read_at_the_start(night: FinishedNight) -> None:
    for session in _sessions(night).values():
        readings = night.core("SELECT value_wh FROM meter_readings WHERE session_id = ? AND timestamp = ?",
                              session["session_id"], session["started_at"])
        assert readings == [(session["start_wh"],)]


def test_2_3_2_a_full_ev_switches_off_and_the_portal_relays_it(night: FinishedNight) -> None:
    full = {r[0].removeprefix("EndDeviceEvents:").removesuffix(":full")
            for r in night.core("SELECT message_id FROM inbound_messages WHERE noun = 'EndDeviceEvents'")
            if r[0].endswith(":full")}
    home, _ = _home_and_third_party(night)
    fills_early = [s for s in home if _visit_of(night, s).room_wh is not None]
    assert fills_early, "the scenario must have an EV that is full before its slots end"
    for session in fills_early:
        assert session["session_id"] in full
        assert abs(session["consumed_wh"] - _visit_of(night, session).room_wh) <= 1


def test_2_3_3_the_consumption_is_read_from_the_meter(night: FinishedNight) -> None:
    for session in _sessions(night).values():
        end = night.core("SELECT value_wh FROM meter_readings WHERE session_id = ? AND timestamp = ?",
                         session["session_id"], session["completed_at"])
        assert end == [(session["end_wh"],)]
        assert session["consumed_wh"] == session["end_wh"] - session["start_wh"] > 0


def test_2_3_4_the_portal_reports_completion(night: FinishedNight) -> None:
    home, _ = _home_and_third_party(night)
    assert all(_steps(night, "2.3.4")[s["session_id"]] == 1 for s in home)


# --- 3.x third-party charging ------------------------------------------------------------------
def test_3_1_a_charge_at_a_friends_house_is_flagged_third_party(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    for session in third:
        assert _steps(night, "3.1")[session["session_id"]] == 1
        assert session["owner"] != session["host"]


def test_3_1_1_ids_of_owner_ev_and_host_are_recorded_at_billing(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    recorded = {r[0]: r[1:] for r in night.billing("SELECT session_id, ev_id, owner_account, host_account "
                                                   "FROM third_party")}
    assert recorded == {s["session_id"]: (s["ev_id"], s["owner"], s["host"]) for s in third}


def test_3_1_2_the_third_party_rate_is_charged_to_the_owner(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    for session in third:
        (account, lines), = night.core("SELECT account_id, body FROM bills WHERE session_id = ?",
                                       session["session_id"])
        assert account == session["owner"] and lines.startswith("quick charge")


def test_3_1_3_requirements_are_confirmed_to_the_hosts_portal(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    assert all(_steps(night, "3.1.3")[s["session_id"]] == 1 for s in third)


def test_3_2_a_quick_charge_gets_the_earliest_slot(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    for session in third:
        # The first slot is the 15 minutes the EV plugged in during (or the next, when the request came late in it).
        wait = _time(session["planned_start"]) - _time(session["plugged_in_at"])
        assert -timedelta(minutes=15) < wait <= timedelta(minutes=15)


def test_3_2_1_the_start_time_reaches_the_hosts_portal(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    for session in third:
        assert night.core("SELECT destination FROM outbox WHERE message_id = ?",
                          f"TimeSlotAllotment:{session['session_id']}") == [(f"portal:{session['premise']}",)]


def test_3_3_the_hosts_portal_switches_the_station_on(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    starts = set(_delivered(night, "EndDeviceControls", "portal:%"))
    assert all(f"EndDeviceControls:{s['session_id']}:start" in starts for s in third)


def test_3_3_1_the_hosts_meter_is_read_at_the_start(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    assert all(_steps(night, "3.3.1")[s["session_id"]] == 1 for s in third)


def test_3_3_2_the_ev_switches_off_when_full_at_the_friends_house(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    for session in third:
        assert night.core("SELECT count(*) FROM inbound_messages WHERE message_id = ?",
                          f"EndDeviceEvents:{session['session_id']}:full") == [(1,)]
        assert abs(session["consumed_wh"] - _visit_of(night, session).room_wh) <= 1


def test_3_3_3_the_consumption_is_read_from_the_hosts_meter(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    for session in third:
        meter = night.night.scenario.home(int(session["station_id"].split("-")[1])).meter_number
        registers = [wh for (wh,) in night.core(
            "SELECT value_wh FROM meter_readings WHERE meter_number = ? AND session_id = ? AND kind = 'register' "
            "ORDER BY timestamp", meter, session["session_id"])]
        intervals = [wh for (wh,) in night.core(
            "SELECT value_wh FROM meter_readings WHERE meter_number = ? AND session_id = ? AND kind = 'interval' "
            "ORDER BY timestamp", meter, session["session_id"])]
        # Start, every 15-minute boundary, end: never going back; the intervals hold the rest.
        assert registers[0] == session["start_wh"] and registers[-1] == session["end_wh"]
        assert registers == sorted(registers)
        assert sum(intervals) <= session["end_wh"] - session["start_wh"]


def test_3_3_4_the_hosts_portal_reports_completion(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    assert all(_steps(night, "3.3.4")[s["session_id"]] == 1 for s in third)


def test_3_3_5_usage_moves_from_the_host_to_the_owner_and_the_host_pays_nothing(night: FinishedNight) -> None:
    _, third = _home_and_third_party(night)
    for session in third:
        assert night.core("SELECT from_account_id, to_account_id, energy_wh FROM settlement_records "
                          "WHERE session_id = ?", session["session_id"]) == [
            (session["host"], session["owner"], session["consumed_wh"])]
        assert night.core("SELECT count(*) FROM bills WHERE session_id = ? AND account_id = ?",
                          session["session_id"], session["host"]) == [(0,)]


# --- 4.x billing ------------------------------------------------------------------------------
def test_4_1_consumption_and_rate_go_to_billing_once_per_session(night: FinishedNight) -> None:
    sessions = _sessions(night)
    assert sorted(_delivered(night, "ChargingConsumption", "billing")) == sorted(
        f"ChargingConsumption:{s}" for s in sessions)
    billed = {r[0]: r[1] for r in night.billing("SELECT session_id, energy_wh FROM bills")}
    assert billed == {s: v["consumed_wh"] for s, v in sessions.items()}


def test_4_1_1_bill_information_reaches_the_ev_owners_own_portal(night: FinishedNight) -> None:
    sessions = _sessions(night)
    at_portals = night.portals("SELECT session_id, account_id, station_id, amount FROM bills")
    assert len(at_portals) == len(sessions)
    charged = {r[0]: Decimal(r[1]) for r in night.billing("SELECT session_id, amount FROM bills")}
    for session_id, account, station, amount in at_portals:
        session = sessions[session_id]
        owner_home = night.night.scenario.home(_visit_of(night, session).owner_number)
        # At the owner's premise, also for a charge at a friend's house.
        assert (account, station) == (session["owner"], owner_home.station_id)
        assert Decimal(amount) == charged[session_id]


def test_4_1_2_the_scheduler_gets_an_acknowledgment(night: FinishedNight) -> None:
    sessions = _sessions(night)
    assert sorted(_delivered(night, "ChargingAcknowledgment", "scheduler")) == sorted(
        f"ChargingAcknowledgment:{s}" for s in sessions)
    assert all(_steps(night, "4.1.2")[s] == 1 for s in sessions)
