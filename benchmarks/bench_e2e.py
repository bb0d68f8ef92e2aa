"""End-to-end throughput: charging sessions/s through the whole pipeline beside the raw libraries.

One run, three measurements of the same work:

  pipeline     ``evgrid demo``'s processes (gateway IEDs of the demo's size, the reference
               billing service, the EV Operation System on SQLite, one portal host per
               gateway) on one accelerated clock. Timed from the first plug-in to the last
               session ``acknowledged`` (step 4.1.2), read back from the databases: completed
               sessions/s, per-session wall latencies, how the sessions ended, the energy
               delivered. Stopped once every session is acknowledged and every outbox empty.
  adapter CPU  user + system CPU seconds (``/proc/<pid>/stat``) of the evgrid adapter processes
               from the moment all are ready to just before they are stopped, per session: the
               operation system (``evgrid serve``: SOAP server and clients, routing, XML parsing
               and validation, passwords, scheduler, dispatcher, outbox, SQLite), the portal
               hosts (``evgrid portal serve``: the 61850 client and its reports, SOAP both ways,
               their outboxes), the billing service (``evgrid sim billing``: SOAP, SQLite) and
               meter data management (``evgrid sim mdm``: SOAP, VEE, SQLite); the total is also
               printed without MDM, as the figures before MDM joined the flow were. Printed apart,
               not counted: their start-up until ready and the gateway IEDs
               (simulated hardware). Waiting costs little CPU (the report prints the adapters'
               idle rate before the plug-ins and what it comes to a session), so this figure
               hardly depends on the schedule.
  raw floor    the same number of each protocol call the pipeline made, with the raw
               libraries alone (pyiec61850, httpx to a minimal waitress app, sqlite3; see
               ``benchmarks/e2e_raw.py``), one after another, client-side wall time; the sum.

Two ratios, 1.0 for no overhead: pipeline sessions/s / raw-floor sessions/s (wall clock, bound
by the schedule, see below) and adapter CPU / raw floor per session (the adapters' work
whatever the schedule; CPU beside wall time: the adapters' CPU counts both ends of a hop
between them, the floor one client call with its raw server's time). The floor leaves out
what has no raw counterpart: the IEDs' reports, password checks, XML parsing and validation,
the scheduler and dispatcher, and every database write beyond one per message.

The compressed night: the demo's homes and transformers, one EV per station,
``--third-party-share`` of them charging at another customer's station (a cycle of visits:
every station and EV has one session). The horizon runs 21:30-00:30 UTC; every EV plugs in
at 22:00-22:05, as the demo tariff's EV night rate begins, and stays until 06:00. The half
hour before (60 s wall at the default 30x) and the demo's own lead (8 s + 40 ms a station)
absorb the start-up of 1,000 stations' processes. Home sessions (1-3 kWh) are water-filled
across the equally priced slots up to the horizon's end (``evgrid.scheduler.assign``);
third-party ones (4-8 kWh) charge at once. A start or stop reaches its station seconds of
wall time after its slot boundary, minutes of simulated time at 30x: the energy delivered
falls short of the plan by as much. A request handled late is placed from then on, one
handled after 00:30 refused (6.1, no capacity left): the request burst of every station at
once must fit in 2.5 simulated hours (300 s wall at 30x; the report prints when the last
request was scheduled). So the schedule (first plug-in to the end of the last allotted slot,
printed beside the measured time) sets the wall time; a NOTE says when sessions/s measures
it rather than the pipeline. A higher ``--speed`` shortens it while the burst still fits.
Exit status 1, with the reason, when a session was not acknowledged or ended only because
its EV left, or a process exited: the figures then do not measure the pipeline.

    python benchmarks/bench_e2e.py [--stations 1000] [--speed 30] [--stations-per-gateway N]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from e2e_raw import ACKNOWLEDGED, Measured, raw_mms, raw_soap, raw_sqlite, read_pipeline, write_calls  # benchmarks/e2e_raw.py

from evgrid.adapters.store.night_records import session_states
from evgrid.apps.processes import Service
from evgrid.sim.demo import scenario as sc
from evgrid.sim.demo.night import DemoOptions, Night
from evgrid.sim.demo.night_setup import Plant

# The horizon starts half an hour before the plug-ins: with the demo's own lead (8 s + 40 ms
# a station) that absorbs the processes' start-up at 1,000 stations.
NIGHT_START = datetime(2026, 1, 15, 21, 30, tzinfo=UTC)
HORIZON_SLOTS = 12  # 21:30-00:30 UTC: a request handled after 00:30 finds no slot
# The plug-ins come as the demo tariff's EV night rate begins (22:00 UTC, 23:00 in Amsterdam):
# home sessions are placed from their request on, across the rest of the horizon.
PLUG_AT = datetime(2026, 1, 15, 22, 0, tzinfo=UTC)
PLUG_WINDOW = timedelta(minutes=5)
# No EV leaves during the run: a session the pipeline fails to finish shows as one, not as a departure.
DEPARTURE = datetime(2026, 1, 16, 6, 0, tzinfo=UTC)
HOME_WH = (1000, 3000)
THIRD_PARTY_WH = (4000, 8000)  # charged at once: 20-65 min at 7.4-11 kW
STATIONS_PER_GATEWAY = DemoOptions().stations_per_gateway  # the demo's
DEFAULT_SPEED = 30.0
IDLE_MIN_S = 5.0  # the adapters' idle CPU is measured before the plug-ins when they leave this long
STALL_S = 120.0  # no session changed state and no message was delivered for this long: give up
# Process roles: the adapter's (their CPU is the pipeline's work) and the simulated hardware's.
CORE, PORTALS, BILLING, MDM, IEDS = "operation system", "portal hosts", "billing", "meter data management", \
    "gateway IEDs"
ADAPTER = (CORE, PORTALS, BILLING, MDM)
READY_TIMEOUT_S = 600.0  # the operation system hashes 1,000 portal passwords first: minutes on a busy machine


# --- pure helpers ---------------------------------------------------------------------
def compressed_scenario(stations: int, *, third_party_share: float = 0.1, seed: int = 1) -> sc.Scenario:
    """The demo's homes and transformers, every station's EV plugging in at 22:00-22:05.

    ``third_party_share`` of the EVs charge at another customer's station: those homes form
    one cycle (the EV of each charges at the next one's station), so every station and
    every EV still has exactly one session.
    """
    if stations < 2 and third_party_share > 0:
        raise ValueError("a third-party visit needs at least two stations")
    night = sc.generate(stations, third_party_share=0.0, seed=seed, night_start_utc=NIGHT_START)
    rng = random.Random(seed)
    cycle = rng.sample(range(1, stations + 1), max(2, round(third_party_share * stations))) if third_party_share else []
    station_of = {number: number for number in range(1, stations + 1)}
    for position, owner in enumerate(cycle):
        station_of[owner] = cycle[(position + 1) % len(cycle)]
    visits = [
        sc.Visit(station_number=station_of[home.number], ev_id=home.ev_id, owner_number=home.number,
                 arrival_utc=PLUG_AT + PLUG_WINDOW * rng.random(), departure_utc=DEPARTURE,
                 energy_wh=rng.randint(*(HOME_WH if station_of[home.number] == home.number else THIRD_PARTY_WH)),
                 ev_limit_w=home.ev_max_kw * 1000)
        for home in night.homes
    ]
    visits.sort(key=lambda v: (v.arrival_utc, v.station_number))
    return sc.Scenario(NIGHT_START, HORIZON_SLOTS, night.homes, night.transformers, tuple(visits))


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil(n * share), at least the first
    return ordered[int(rank) - 1]


def problems(visits: int, states: Counter[str], ended: Counter[str], stopped_because: str,
             exited: Sequence[str] = ()) -> list[str]:
    """Why a run does not measure the pipeline; empty when every session went through on schedule.

    A session that ended only because its EV left (at 06:00, hours after the horizon) was
    never stopped by the pipeline. A process that exited during the run took its CPU
    seconds with it.
    """
    found = [stopped_because] if stopped_because else []
    if states.get(ACKNOWLEDGED, 0) < visits:
        found.append(f"{states.get(ACKNOWLEDGED, 0):,} of {visits:,} sessions acknowledged, by state "
                     + ", ".join(f"{state} {n:,}" for state, n in states.most_common())
                     + (f", never requested {visits - states.total():,}" if states.total() < visits else ""))
    if ended.get("departure"):
        found.append(f"{ended['departure']:,} sessions ended only when their EV left at {DEPARTURE:%H:%M} "
                     "(the pipeline never stopped them)")
    if exited:
        found.append(f"exited during the run: {', '.join(exited)}")
    return found


def cpu_seconds(stat: str, ticks_per_s: int) -> float:
    """User + system CPU seconds (fields 14 and 15) from the text of a ``/proc/<pid>/stat``.

    The second field, the command name in parentheses, may itself hold spaces and
    parentheses: the fields are counted from after its last ``)``. Children's times
    (fields 16 and 17) are left out: the adapter processes start none.
    """
    fields = stat.rsplit(")", 1)[1].split()  # fields[0] is field 3, the state
    return (int(fields[11]) + int(fields[12])) / ticks_per_s


def cpu_by_role(pids: dict[str, list[int]]) -> dict[str, float]:
    """The CPU seconds each role's processes have used so far (NaN for a process that is gone)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for role, group in pids.items():
        try:
            used[role] = sum(cpu_seconds(Path(f"/proc/{pid}/stat").read_text(encoding="ascii"), ticks) for pid in group)
        except OSError:
            used[role] = float("nan")
    return used


# --- the pipeline ---------------------------------------------------------------------
@dataclass(slots=True)
class PipelineRun:
    """What the driven night left: when each EV was plugged in (wall, Unix s), how it stopped, the CPU used."""

    up_at: datetime  # simulated time when every process was ready
    lead_s: float  # wall seconds from then to the first plug-in's time (negative: the plug-ins came late)
    plugged_wall: dict[str, float] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    stopped_because: str = ""
    cpu_ready_s: dict[str, float] = field(default_factory=dict)  # by role, at start-up until ready
    cpu_run_s: dict[str, float] = field(default_factory=dict)  # by role, from ready to the end of the run
    cpu_wall_s: float = float("nan")  # wall seconds from ready to the end of the run
    idle_cpu_per_s: float = float("nan")  # the adapter processes' CPU s per wall s from ready to the first plug-in
    exited: list[str] = field(default_factory=list)


class BenchNight(Night):
    """The demo's processes on a prepared scenario, driven without load sampling."""

    def __init__(self, options: DemoOptions, scenario: sc.Scenario) -> None:
        super().__init__(options)
        self.scenario = scenario

    def services(self) -> dict[str, list[Service]]:
        """The processes of each role, as this night started them."""
        assert self.core is not None and self.billing is not None and self.mdm is not None
        return {CORE: [self.core], PORTALS: [g.portal for g in self.gateways if g.portal is not None],
                BILLING: [self.billing], MDM: [self.mdm], IEDS: [g.ied for g in self.gateways]}

    def pids(self) -> dict[str, list[int]]:
        """The process ids of each role (every Service is started once: the benchmark injects no faults)."""
        return {role: [pid for service in group if (pid := service.pid) is not None]
                for role, group in self.services().items()}

    def pending_messages(self) -> int:
        """Messages not yet delivered, in every outbox: the operation system's, the portal hosts', billing's."""
        state = self.out / "state"
        total = 0
        for path in [self.out / "evgrid.db", *sorted(state.glob("portal-*.db")), state / "billing.db"]:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                total += db.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
        return total

    def drive_until_done(self, timeout_s: float) -> PipelineRun:
        """Hand every arrival to its IED at once; poll until every session is acknowledged and every outbox empty.

        Each arrival carries its simulated time, so the IED plugs the EV in then (sending
        them takes about 17 ms each, one thread per gateway). The processes' CPU is read
        now (all ready), at the first plug-in (the idle rate) and at the end.
        """
        assert self.clock is not None
        pids, ready = self.pids(), time.time()
        first_plug = self.clock.to_wall(min(v.arrival_utc for v in self.scenario.visits)).timestamp()
        run = PipelineRun(up_at=self.clock.now(), lead_s=first_plug - ready, cpu_ready_s=cpu_by_role(pids))
        deadline = time.monotonic() + timeout_s
        by_gateway: dict[int, list[sc.Visit]] = {}
        for visit in self.scenario.visits:
            by_gateway.setdefault(self._gateway_of(visit.station_number)[0].first_station, []).append(visit)
        with ThreadPoolExecutor(len(by_gateway), thread_name_prefix="plug-in") as pool:
            for plugged in pool.map(self._plug_in_all, by_gateway.values()):
                run.plugged_wall.update(plugged)
        last_change, progress, idle_done = time.monotonic(), None, not run.lead_s > IDLE_MIN_S
        while True:
            if not idle_done and time.time() >= first_plug:
                used, idle_done = cpu_by_role(pids), True
                run.idle_cpu_per_s = sum(used[r] - run.cpu_ready_s[r] for r in ADAPTER) / (time.time() - ready)
            run.states = session_states(self.database_url)
            done = run.states.get(ACKNOWLEDGED, 0) == len(self.scenario.visits)
            pending = self.pending_messages() if done else -1
            if (run.states, pending) != progress or time.time() < first_plug:  # nothing can change before it
                progress, last_change = (run.states, pending), time.monotonic()
            if done and pending == 0:
                break
            if time.monotonic() > deadline:
                run.stopped_because = f"timed out after {timeout_s:.0f} s"
                break
            if time.monotonic() - last_change > STALL_S:
                run.stopped_because = (f"no session changed state for {STALL_S:.0f} s" if not done else
                                       f"{pending} messages still pending after {STALL_S:.0f} s")
                break
            time.sleep(0.25)
        end, run.cpu_wall_s = cpu_by_role(pids), time.time() - ready
        run.cpu_run_s = {role: end[role] - run.cpu_ready_s[role] for role in end}
        run.exited = [service.name for group in self.services().values() for service in group if not service.running]
        return run

    def _plug_in_all(self, visits: list[sc.Visit]) -> dict[str, float]:
        assert self.clock is not None
        plugged = {}
        for visit in visits:
            gateway, local = self._gateway_of(visit.station_number)
            assert gateway.control is not None
            gateway.control.arrive(station=local, ev_id=visit.ev_id, energy_wh=visit.energy_wh,
                                   departure=visit.departure_utc.isoformat(), max_power_w=visit.ev_limit_w,
                                   ev_limit_w=visit.ev_limit_w, time=visit.arrival_utc.isoformat())
            plugged[visit.ev_id] = max(time.time(), self.clock.to_wall(visit.arrival_utc).timestamp())
        return plugged


# --- the report -----------------------------------------------------------------------
def report(stations: int, per_gateway: int, speed: float, run: PipelineRun, measured: Measured,
           raw_s: tuple[dict[str, float], dict[str, float], float], loads: dict[str, float]) -> None:
    """Print the one table; ``raw_s``: the raw floor's MMS and SOAP seconds by call, and its SQLite seconds."""
    write = sys.stdout.write
    gateways = -(-stations // per_gateway)
    horizon_end = NIGHT_START + timedelta(minutes=sc.SLOT_MINUTES * HORIZON_SLOTS)
    write(f"{stations:,} stations in {gateways} gateway IED(s) of up to {per_gateway} and as many portal hosts, "
          f"speed {speed:g}x; load average (1 min): " + ", ".join(f"{k} {v:.2f}" for k, v in loads.items()) + "\n")
    write(f"processes ready at {run.up_at:%H:%M} simulated, {run.lead_s:.0f} s wall before the plug-ins from "
          f"{PLUG_AT:%H:%M}; last request scheduled at "
          + (f"{measured.last_scheduled:%H:%M}" if measured.last_scheduled else "-")
          + f" (the horizon ends at {horizon_end:%H:%M})\n")
    write(f"sessions acknowledged: {measured.acknowledged:,} of {measured.sessions:,}; first plug-in to last "
          f"acknowledgment {measured.elapsed_s:.1f} s wall, of which the simulated schedule alone takes "
          f"{measured.schedule_s:.1f} s\n")
    if measured.schedule_s > 0.5 * measured.elapsed_s:
        write("NOTE: the simulated schedule is most of that time: the wall-clock sessions/s below measure it, not "
              "the pipeline; the adapter CPU per session does not depend on it\n")
    write("sessions ended by: " + ", ".join(f"{k} {v:,}" for k, v in measured.ended.most_common())
          + f"; energy delivered {measured.consumed_wh / max(measured.requested_wh, 1):.1%} of requested\n\n")
    write(f"{'per session, wall s':<28}{'p50':>8}{'p95':>8}{'max':>8}\n")
    for name, values in measured.latency_s.items():
        write(f"{name:<28}{percentile(values, 0.5):>8.2f}{percentile(values, 0.95):>8.2f}"
              f"{max(values, default=float('nan')):>8.2f}\n")
    raw_total = write_calls(write, measured.mms, measured.messages, *raw_s)
    done = measured.acknowledged
    pipeline_rate, raw_rate = done / measured.elapsed_s, done / raw_total
    write(f"\n{'':<44}{'sessions/s':>12}\n")
    write(f"{'pipeline (whole, 61850+SOAP+DB), wall clock':<44}{pipeline_rate:>12.2f}\n")
    write(f"{'raw floor (same calls, sequential)':<44}{raw_rate:>12.2f}\n")
    write(f"{'ratio pipeline / raw floor':<44}{pipeline_rate / raw_rate:>12.3f}\n")
    adapter_s = sum(run.cpu_run_s[role] for role in ADAPTER)
    write(f"\n{'per session':<44}{'ms':>12}\n")
    for role in ADAPTER:
        write(f"{'adapter CPU: ' + role:<44}{1000 * run.cpu_run_s[role] / done:>12.1f}\n")
    write(f"{'adapter CPU, total':<44}{1000 * adapter_s / done:>12.1f}\n")
    write(f"{'adapter CPU, total without MDM':<44}{1000 * (adapter_s - run.cpu_run_s[MDM]) / done:>12.1f}\n")
    write(f"{'raw floor (same calls, sequential wall)':<44}{1000 * raw_total / done:>12.1f}\n")
    write(f"{'ratio adapter CPU / raw floor':<44}{adapter_s / raw_total:>12.2f}\n")
    write(f"(the adapter processes idle before the plug-ins used {1000 * run.idle_cpu_per_s:.1f} ms CPU per wall s: "
          f"about {1000 * run.idle_cpu_per_s * run.cpu_wall_s / done:.1f} ms a session over the run's "
          f"{run.cpu_wall_s:.0f} s)\n")
    write(f"(not counted: the {IEDS}, simulated hardware, {1000 * run.cpu_run_s[IEDS] / done:.1f} ms CPU a session; "
          f"the adapter processes' start-up until ready, {sum(run.cpu_ready_s[role] for role in ADAPTER):.1f} s CPU)\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=1000, help="stations, one session each (default 1000)")
    parser.add_argument("--speed", type=float, default=DEFAULT_SPEED,
                        help=f"simulated seconds per wall second (default {DEFAULT_SPEED:g})")
    parser.add_argument("--third-party-share", type=float, default=0.1, help="share of EVs charging elsewhere (0.1)")
    parser.add_argument("--stations-per-gateway", type=int, default=STATIONS_PER_GATEWAY,
                        help=f"stations per gateway IED and portal host (default {STATIONS_PER_GATEWAY}, the demo's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="wall seconds the pipeline may take (1800)")
    parser.add_argument("--lead", type=float, help="wall seconds from starting the processes to the night's start "
                                                   "(default: the demo's estimate, 8 s + 40 ms a station)")
    parser.add_argument("--out", type=Path, help="keep the pipeline's folder here (default: a temporary one, "
                                                 "kept only when the run fails)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # Its warning that the start-up outlasted the demo's lead is not ours: the half hour before the
    # plug-ins follows that lead, and the report prints what was left of it.
    logging.getLogger("evgrid.sim.demo.night").setLevel(logging.ERROR)
    out = args.out or Path(tempfile.mkdtemp(prefix="evgrid-bench-e2e-"))
    loads = {"start": os.getloadavg()[0]}
    scenario = compressed_scenario(args.stations, third_party_share=args.third_party_share, seed=args.seed)
    options = DemoOptions(homes=args.stations, speed=args.speed, out=out, seed=args.seed,
                          stations_per_gateway=args.stations_per_gateway, night_start_utc=NIGHT_START,
                          ready_timeout_s=READY_TIMEOUT_S, lead_s=args.lead)
    night = BenchNight(options, scenario)
    night.prepare()
    try:
        night.start()
        loads["processes ready"] = os.getloadavg()[0]
        run = night.drive_until_done(args.timeout)
    finally:
        night.stop()
    loads["pipeline done"] = os.getloadavg()[0]
    assert night.clock is not None
    measured = read_pipeline(night.out, night.clock, len(night.gateways), args.stations_per_gateway,
                             run.plugged_wall)
    failures = problems(len(scenario.visits), measured.states, measured.ended, run.stopped_because, run.exited)
    if failures and not measured.acknowledged:
        sys.stdout.write(f"INCOMPLETE: {'; '.join(failures)}. Logs and databases kept in {out}\n")
        return 1
    work = Path(tempfile.mkdtemp(prefix="evgrid-bench-e2e-raw-"))
    try:
        plant = Plant(scenario, args.stations_per_gateway)
        mms_s = raw_mms([(count, measured.mms[g]) for g, (_first, count) in enumerate(plant.gateways(), start=1)], work)
        soap_s = raw_soap(measured.messages)
        sqlite_s = raw_sqlite(measured.messages, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    loads["end"] = os.getloadavg()[0]
    report(args.stations, args.stations_per_gateway, args.speed, run, measured, (mms_s, soap_s, sqlite_s), loads)
    if failures:
        sys.stdout.write(f"\nINCOMPLETE, the figures above do not measure the pipeline: {'; '.join(failures)}. "
                         f"Logs and databases kept in {out}\n")
        return 1
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
