"""Faults in the middle of a real night: nothing is lost, nothing is billed twice.

- the operation system is killed (SIGKILL) twice and started again;
- the billing service is down for seven hours of the night;
- meter data management is down for five hours of the night;
- the gateway IED is killed mid-charge and restarted from its state file.

Every night must still end complete: every session metered, settled where it is a
third-party charge, billed exactly once, its bill at the owner's portal, and the metered
energy equal to what the stations delivered and to what was billed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from evgrid.sim.demo.night import parse_fault
from evgrid.sim.demo.scenario import DEFAULT_NIGHT_START
from tests.e2e.conftest import FinishedNight, run_night

pytestmark = pytest.mark.slow


def _faults(*texts: str) -> tuple:
    return tuple(parse_fault(text, DEFAULT_NIGHT_START) for text in texts)


def assert_nothing_lost_nothing_doubled(night: FinishedNight) -> None:
    summary = night.summary
    assert not night.run.timed_out, summary["demo"]
    visits = len(night.night.scenario.visits)
    rows = night.core("SELECT session_id, station_id, state, consumed_wh, kind FROM charging_sessions")
    delivered = night.run.samples[-1].delivered_wh
    # A visit shorter than an outage of the operation system (one wall second is 40 simulated
    # minutes here) may never become a session: its request is refused as too late, and
    # then its EV must not have drawn a single Wh.
    stations_with_session = {row[1] for row in rows}
    scenario = night.night.scenario
    missing = 0
    for visit in scenario.visits:
        station_id = scenario.home(visit.station_number).station_id
        if station_id not in stations_with_session:
            refused = night.portals("SELECT last_error FROM outbox WHERE message_id LIKE ? AND status = 'failed'",
                                    f"ChargingRequest:R-{station_id}-%")
            assert refused and delivered[station_id] == 0, (visit, refused)
            missing += 1
    assert len(rows) == visits - missing
    # An EV whose start came after it left (the core was down) is cancelled, with nothing metered.
    assert {s[2] for s in rows} <= {"acknowledged", "cancelled"}
    for session_id, station_id, state, consumed, _ in rows:
        if state == "cancelled":
            assert consumed is None and delivered[station_id] == 0, session_id
    sessions = [s for s in rows if s[2] == "acknowledged"]
    bills = night.billing("SELECT session_id, energy_wh FROM bills")
    assert sorted(b[0] for b in bills) == sorted(s[0] for s in sessions)  # once each
    assert dict(bills) == {s[0]: s[3] for s in sessions}
    portal_bills = night.portals("SELECT session_id FROM bills")
    assert sorted(b[0] for b in portal_bills) == sorted(s[0] for s in sessions)
    for session_id, station_id, _, consumed, _ in sessions:
        assert abs(delivered[station_id] - consumed) <= 1.0, session_id
    for session_id, _, _, consumed, kind in sessions:
        if kind != "home":
            assert night.core("SELECT energy_wh FROM settlement_records WHERE session_id = ?", session_id) == [
                (consumed,)]
    assert summary["violations"] == []
    assert summary["energy_metered_wh"] == summary["energy_mdm_wh"] == summary["energy_billed_wh"]
    # MDM got every reading once: the operation system delivered each MeterReadings, none left behind.
    forwarded = night.core("SELECT count(*), count(DISTINCT message_id) FROM outbox WHERE destination = 'mdm' "
                           "AND status = 'delivered'")
    assert forwarded[0][0] == forwarded[0][1] == summary["mdm_readings"] > 0
    assert night.core("SELECT count(*) FROM outbox WHERE destination = 'mdm' AND status != 'delivered'") == [(0,)]


def test_the_operation_system_killed_twice_mid_night_loses_nothing(tmp_path: Path) -> None:
    night = run_night(tmp_path, faults=_faults("kill-core@20:30", "kill-core@23:10"))
    assert len(night.run.faults_done) == 2
    assert (night.out / "logs" / "core.log").read_text().count("--- start") == 3
    assert_nothing_lost_nothing_doubled(night)


def test_billing_down_for_part_of_the_night_delivers_every_bill_once_after(tmp_path: Path) -> None:
    night = run_night(tmp_path, faults=_faults("billing-down@20:00-03:00"))
    # The outage was felt: consumption messages to billing failed and were retried.
    retried = night.core("SELECT count(*) FROM outbox WHERE destination = 'billing' AND attempts > 1 "
                         "AND status = 'delivered'")
    assert retried[0][0] >= 1
    assert_nothing_lost_nothing_doubled(night)


def test_mdm_down_for_part_of_the_night_readings_wait_and_billing_waits(tmp_path: Path) -> None:
    night = run_night(tmp_path, faults=_faults("mdm-down@20:00-01:00"))
    # The outage was felt: readings to MDM were retried, and billing answered 5.1 (MDM
    # unreachable) before it billed the sessions that ended meanwhile.
    retried = night.core("SELECT count(*) FROM outbox WHERE destination = 'mdm' AND attempts > 1 "
                         "AND status = 'delivered'")
    assert retried[0][0] >= 1
    assert "5.1" in (night.out / "logs" / "core.log").read_text()
    assert_nothing_lost_nothing_doubled(night)


def test_an_ied_restart_mid_charge_loses_no_wh_and_counts_none_twice(tmp_path: Path) -> None:
    restart = DEFAULT_NIGHT_START.replace(hour=23, minute=20)
    night = run_night(tmp_path, faults=_faults("restart-ied@23:20"))
    # A session that never started (expired: its start fired after its departure, which a
    # slow machine can cause under the accelerated clock) cannot span the restart.
    spanning = [row for row in night.core("SELECT session_id, started_at, completed_at FROM charging_sessions "
                                          "WHERE started_at IS NOT NULL AND completed_at IS NOT NULL")
                if datetime.fromisoformat(row[1]).replace(tzinfo=restart.tzinfo) < restart
                < datetime.fromisoformat(row[2]).replace(tzinfo=restart.tzinfo) - timedelta(minutes=1)]
    assert spanning, "some session must be charging across the restart"
    assert (night.out / "logs" / "ied-1.log").read_text().count("--- start") == 2
    assert_nothing_lost_nothing_doubled(night)
