"""The pure helpers of benchmarks/bench_e2e.py and e2e_raw.py: the compressed night, percentiles, call counting, CPU."""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("bench_e2e")


@pytest.fixture(scope="module")
def raw() -> ModuleType:
    return load_benchmark("e2e_raw")


@pytest.mark.parametrize(("stations", "share", "third_party"), [(40, 0.1, 4), (40, 0.0, 0), (3, 0.1, 2), (1000, 0.1, 100)])
def test_compressed_scenario_gives_every_station_and_every_ev_one_session(bench, stations, share, third_party):
    scenario = bench.compressed_scenario(stations, third_party_share=share, seed=7)

    visits = scenario.visits
    assert sorted(v.station_number for v in visits) == list(range(1, stations + 1))
    assert sorted(v.ev_id for v in visits) == sorted(h.ev_id for h in scenario.homes)
    assert sum(v.third_party for v in visits) == third_party
    assert list(visits) == sorted(visits, key=lambda v: (v.arrival_utc, v.station_number))
    assert scenario.night_start_utc == bench.NIGHT_START
    assert scenario.slot_count == bench.HORIZON_SLOTS
    for visit in visits:
        assert bench.PLUG_AT <= visit.arrival_utc < bench.PLUG_AT + bench.PLUG_WINDOW
        assert visit.departure_utc == bench.DEPARTURE
        low, high = bench.THIRD_PARTY_WH if visit.third_party else bench.HOME_WH
        assert low <= visit.energy_wh <= high
        assert visit.energy_wh <= scenario.home(visit.owner_number).ev_battery_kwh * 1000
        assert visit.room_wh is None


def test_compressed_scenario_is_deterministic_for_a_seed(bench):
    assert bench.compressed_scenario(30, seed=3) == bench.compressed_scenario(30, seed=3)
    assert bench.compressed_scenario(30, seed=3) != bench.compressed_scenario(30, seed=4)


def test_compressed_scenario_needs_two_stations_for_a_third_party_visit(bench):
    with pytest.raises(ValueError, match="two stations"):
        bench.compressed_scenario(1, third_party_share=0.1)
    assert len(bench.compressed_scenario(1, third_party_share=0.0).visits) == 1


@pytest.mark.parametrize(("share", "expected"), [(0.5, 5), (0.95, 10), (0.1, 1), (0.0, 1), (1.0, 10)])
def test_percentile_is_nearest_rank(bench, share, expected):
    assert bench.percentile([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], share) == expected


def test_percentile_of_nothing_is_nan(bench):
    assert math.isnan(bench.percentile([], 0.5))


def test_noun_and_gateway_come_from_the_message_id(raw):
    message_id = "MeterReadings:S-R-S-00251-20260115T220033:start"
    assert raw.noun_of(message_id) == "MeterReadings"
    assert raw.gateway_of(message_id, 250) == 2
    assert raw.gateway_of("EndDeviceEvents:R-S-00250-20260115T220033:plug", 250) == 1
    with pytest.raises(ValueError, match="no station"):
        raw.gateway_of("BillingInformation:B-1", 250)


def test_completion_reason(raw):
    body = b"<ev:ChargingCompletion><ev:consumedEnergy>1020</ev:consumedEnergy><ev:reason>evFull</ev:reason>"
    assert raw.completion_reason(body) == "evFull"
    assert raw.completion_reason(b"<ev:ChargingCompletion/>") == "?"


def test_mms_calls_split_the_ied_handler_counts(raw):
    # 10 sessions started, 3 stopped by the EV (no open order), 25 limit operates:
    # operates = 10 closes + 7 opens + 25 limits; checks = operates + 17 selects.
    calls = raw.mms_calls(control_handler=42, perform_check=59, starts=10, full_events=3)

    assert calls == {raw.CONTROL_OBJECTS: 20, raw.REGISTER_READ: 20, raw.CLOSE: 10, raw.LIMIT: 25,
                     raw.OPEN: 7, raw.POSITION_READ: 3}
    assert Counter(calls).total() == 85


def test_problems_is_empty_when_every_session_went_through(bench):
    assert bench.problems(3, Counter(acknowledged=3), Counter(stopped=2, evFull=1), "") == []


def test_problems_names_what_did_not_go_through(bench):
    found = bench.problems(5, Counter(acknowledged=2, scheduled=1, charging=1), Counter(departure=2, stopped=1),
                           "no session changed state for 120 s", ["core", "portal-3"])

    assert found == ["no session changed state for 120 s",
                     "2 of 5 sessions acknowledged, by state acknowledged 2, scheduled 1, charging 1, never requested 1",
                     "2 sessions ended only when their EV left at 06:00 (the pipeline never stopped them)",
                     "exited during the run: core, portal-3"]


# pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
STAT = "4242 ({name}) S 1 4242 4242 0 -1 4194304 2000 0 0 0 {utime} {stime} 900 800 20 0 5 0 100 200000000 3000"


@pytest.mark.parametrize("name", ["python", "python -m evgrid", "a) b (c", ") S 1 2 3 4 5 6 7 8 9 10 11"])
def test_cpu_seconds_adds_user_and_system_time_whatever_the_command_name(bench, name):
    # The command name may hold spaces and parentheses; the children's times (900, 800) are not counted.
    assert bench.cpu_seconds(STAT.format(name=name, utime=250, stime=50), 100) == 3.0


def test_cpu_seconds_of_this_process_match_os_times(bench):
    stat = Path("/proc/self/stat")
    if not stat.exists():
        pytest.skip("no /proc")
    before = os.times()
    used = bench.cpu_seconds(stat.read_text(encoding="ascii"), os.sysconf("SC_CLK_TCK"))
    after = os.times()

    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert before.user + before.system - 2 * tick <= used <= after.user + after.system + 2 * tick


def test_cpu_by_role_sums_the_processes_and_marks_a_gone_one(bench):
    gone = 2**22 + 1  # above the kernel's pid_max limit: never a process
    used = bench.cpu_by_role({"this": [os.getpid(), os.getpid()], "gone": [gone]})

    assert used["this"] > 0
    assert math.isnan(used["gone"])
