"""End-to-end throughput: charging sessions/s through the whole pipeline beside the raw libraries.

One run, two measurements of the same work:

  pipeline   ``evgrid demo``'s processes (gateway IEDs of up to 250 stations, the reference
             billing service, the EV Operation System on SQLite, one portal host per
             gateway) on one accelerated clock, every station's EV plugging in within five
             simulated minutes. Timed from the first plug-in to the last session
             ``acknowledged`` (step 4.1.2), read back from the databases: completed
             sessions/s, per-session wall latencies, how the sessions ended and the share of
             the requested energy delivered.
  raw floor  the same number of each protocol call the pipeline made (counted from its
             databases and its IEDs' logs), done with the raw libraries alone, no evgrid code
             in the timed loops: pyiec61850 reads and controls against a fresh gateway IED of
             the same station count; httpx POSTs of the pipeline's own message bytes, in SOAP
             envelopes, to a minimal waitress WSGI app answering each operation with one of
             the pipeline's own replies; one sqlite3 transaction (insert + commit, WAL,
             synchronous=NORMAL) per message. One call after another; the floor is the sum.

pipeline sessions/s / raw-floor sessions/s is the adapter's overhead (1.0: none). The floor
leaves out what has no raw counterpart: the IEDs' unsolicited reports (pushed, not called),
password checks, XML parsing and schema validation, the scheduler and dispatcher, and every
database write beyond one per message.

The compressed night: the demo's homes and transformers (``evgrid.sim.scenario``), one EV
per station, ``--third-party-share`` of them charging at another customer's station (a cycle
of visits, so every station and every EV has exactly one session). The horizon is
20:00-23:00 UTC; the demo tariff's EV night rate starts at 22:00 UTC, so home sessions
(1-3 kWh) get slots in 22:00-23:00 and third-party quick charges (6-14 kWh, the demo's) get
theirs at once. Every EV leaves at 23:30. The simulated schedule alone (first plug-in to the
end of the last allotted slot) is printed beside the measured time: the throughput figure
measures the pipeline only where the measured time is well above it (raise ``--speed``).

    python benchmarks/bench_e2e.py [--stations 1000] [--speed 300] [--stations-per-gateway 250]
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import pyiec61850.pyiec61850 as iec
from bench_iec61850 import _raw_connection  # benchmarks/bench_iec61850.py, beside this script

from evgrid.adapters.soap.wire import envelope
from evgrid.mappings import iec61850_refs as refs
from evgrid.mappings import services
from evgrid.sim import scenario as sc
from evgrid.sim.arrivals import Arrival
from evgrid.sim.clock import AcceleratedClock
from evgrid.sim.ied import packaged_scl
from evgrid.sim.night import DemoOptions, Night
from evgrid.sim.night_setup import session_states
from evgrid.sim.processes import Service, evgrid_command, free_port

# The demo tariff (Europe/Amsterdam, UTC+1 in January) has its EV night rate from 22:00 UTC:
# a horizon from 20:00 leaves the plug-ins two simulated hours before the home sessions' slots.
NIGHT_START = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)
HORIZON_SLOTS = 12  # 20:00-23:00 UTC: the horizon's only EV-night hour is 22:00-23:00
PLUG_WINDOW = timedelta(minutes=5)
DEPARTURE = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)  # after every allotment: no EV leaves mid-session
HOME_WH = (1000, 3000)
THIRD_PARTY_WH = (6000, 14000)  # the demo's quick charges: allotted at once, long enough to start in time
STATIONS_PER_GATEWAY = 250  # the demo's default
STALL_S = 120.0  # no session changed state for this long: give up
USER, PASSWORD = "bench", "bench-password"
ACKNOWLEDGED = "acknowledged"


# --- the compressed night (pure) --------------------------------------------------------
def compressed_scenario(stations: int, *, third_party_share: float = 0.1, seed: int = 1) -> sc.Scenario:
    """The demo's homes and transformers, every station with one short visit in the first minutes.

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
                 arrival_utc=NIGHT_START + PLUG_WINDOW * rng.random(), departure_utc=DEPARTURE,
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


def noun_of(message_id: str) -> str:
    """The noun a MessageID starts with (evgrid's ids are ``<Noun>:<subject>``)."""
    return message_id.split(":", 1)[0]


def completion_reason(body: bytes) -> str:
    """Why a session ended, from its ChargingCompletion: ``stopped``, ``evFull``, ``departure`` ..."""
    match = re.search(rb"<ev:reason>([^<]*)</ev:reason>", body)
    return match.group(1).decode() if match else "?"


def mms_calls(control_handler: int, perform_check: int, starts: int, full_events: int) -> dict[str, int]:
    """The pipeline's MMS calls, from the IEDs' control-handler counts and the message counts.

    The IED calls its perform-check handler once per select (SBOw) and once per operate,
    its control handler once per operate. Each contactor command is one SBOw + one Oper
    (enhanced security); the power limit (DESE1.ChaPwrLim, direct control) one Oper. Each
    start reads the register, sets the limit and closes; each end reads the register (one
    start and one end MeterReadings each); an EV full (2.3.2) costs one position read.
    """
    selects = perform_check - control_handler
    return {
        "register read (MMTR1.TotWh)": 2 * starts,
        "position read (CSWI1.Pos.stVal)": full_events,
        "contactor close (SBOw + Oper)": starts,
        "contactor open (SBOw + Oper)": selects - starts,
        "power-limit operate (direct)": control_handler - selects,
    }


# --- the pipeline ---------------------------------------------------------------------
@dataclass(slots=True)
class PipelineRun:
    """What the driven night left: when each EV was plugged in (wall, Unix s) and whether it finished."""

    plugged_wall: dict[str, float] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    stopped_because: str = ""


class BenchNight(Night):
    """The demo's processes on a prepared scenario, driven without load sampling."""

    def __init__(self, options: DemoOptions, scenario: sc.Scenario) -> None:
        super().__init__(options)
        self.scenario = scenario

    def drive_until_acknowledged(self, timeout_s: float) -> PipelineRun:
        """Plug every EV in at its time; poll the database until all sessions are acknowledged."""
        assert self.clock is not None
        run = PipelineRun()
        pending = list(self.scenario.visits)
        deadline = time.monotonic() + timeout_s
        last_change = time.monotonic()
        while pending:
            now = self.clock.now()
            while pending and pending[0].arrival_utc <= now:
                visit = pending.pop(0)
                run.plugged_wall[visit.ev_id] = time.time()
                self._plug_in(visit)
            time.sleep(0.005)
        while True:
            states = session_states(self.database_url)
            if states != run.states:
                run.states, last_change = states, time.monotonic()
            if run.states.get(ACKNOWLEDGED, 0) == len(self.scenario.visits):
                return run
            if time.monotonic() > deadline:
                run.stopped_because = f"timed out after {timeout_s:.0f} s"
                return run
            if time.monotonic() - last_change > STALL_S:
                run.stopped_because = f"no session changed state for {STALL_S:.0f} s"
                return run
            time.sleep(0.25)


@dataclass(slots=True)
class Message:
    """One message the pipeline sent: over SOAP to ``service``, or in process (``service`` None)."""

    sender: str
    service: str | None
    message_id: str
    body: bytes
    attempts: int
    reply: bytes | None

    @property
    def noun(self) -> str:
        """The noun, from the MessageID."""
        return noun_of(self.message_id)


@dataclass(slots=True)
class Measured:
    """The pipeline's result, read back from its databases and logs."""

    sessions: int
    acknowledged: int
    elapsed_s: float
    schedule_s: float
    latency_s: dict[str, list[float]]
    messages: list[Message]
    mms: dict[str, int]
    ended: Counter[str]
    requested_wh: int
    consumed_wh: int


def read_pipeline(night: BenchNight, run: PipelineRun) -> Measured:
    """Sessions, their latencies and every call made, from the databases and the IED logs."""
    clock = night.clock
    assert clock is not None
    out, state = night.out, night.out / "state"

    def wall(sim_text: str) -> float:
        return _wall(clock, datetime.fromisoformat(sim_text).replace(tzinfo=UTC))

    with sqlite3.connect(f"file:{out / 'evgrid.db'}?mode=ro", uri=True) as db:
        sessions = db.execute("SELECT session_id, ev_id, state, planned_end FROM charging_sessions").fetchall()
        requested, consumed = db.execute("SELECT sum(requested_wh), sum(coalesce(consumed_wh, 0)) "
                                         "FROM charging_sessions").fetchone()
        moments: dict[tuple[str, str], float] = {
            (session, to_state): wall(at) for session, to_state, at in db.execute(
                "SELECT session_id, to_state, at FROM session_transitions "
                "WHERE to_state IN ('scheduled', 'completed', 'acknowledged')")}
        audit = {subject: json.loads(detail).get("reply") for subject, detail in db.execute(
            "SELECT subject, detail FROM audit WHERE actor = 'outbox' AND action = 'delivered'")}
        messages = [
            Message("evos", _service_of(destination), message_id, body, attempts,
                    (audit.get(message_id) or "").encode() or None)
            for message_id, destination, body, attempts in db.execute(
                "SELECT message_id, destination, body, attempts FROM outbox WHERE status = 'delivered'")]
    for path in sorted(state.glob("portal-*.db")) + [state / "billing.db"]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            messages += [Message(path.stem, services.EV_OPERATION_SYSTEM.name, message_id, body, attempts, reply)
                         for message_id, body, attempts, reply in db.execute(
                             "SELECT message_id, body, attempts, reply FROM outbox WHERE status = 'delivered'")]
    first_plug = min(run.plugged_wall.values())
    acked = [moments[(s, ACKNOWLEDGED)] for s, *_ in sessions if (s, ACKNOWLEDGED) in moments]
    latency: dict[str, list[float]] = {"plug-in -> acknowledged": [], "plug-in -> scheduled": [],
                                       "completed -> acknowledged": []}
    for session, ev_id, _state, _end in sessions:
        plugged = run.plugged_wall.get(ev_id)
        scheduled, completed, done = (moments.get((session, s)) for s in ("scheduled", "completed", ACKNOWLEDGED))
        if plugged is not None and done is not None:
            latency["plug-in -> acknowledged"].append(done - plugged)
        if plugged is not None and scheduled is not None:
            latency["plug-in -> scheduled"].append(scheduled - plugged)
        if completed is not None and done is not None:
            latency["completed -> acknowledged"].append(done - completed)
    ends = [wall(end) for *_, end in sessions if end]
    logs = "".join(path.read_text(encoding="utf-8", errors="replace") for path in (out / "logs").glob("ied-*.log"))
    starts = sum(1 for m in messages if m.noun == "MeterReadings" and m.message_id.endswith(":start"))
    full = sum(1 for m in messages if m.noun == "EndDeviceEvents" and m.message_id.endswith(":full"))
    return Measured(
        sessions=len(sessions), acknowledged=len(acked),
        elapsed_s=(max(acked) - first_plug) if acked else float("nan"),
        schedule_s=(max(ends) - first_plug) if ends else float("nan"),
        latency_s=latency, messages=messages,
        mms=mms_calls(logs.count("triggerControlHandler()"), logs.count("triggerPerformCheckHandler()"), starts, full),
        ended=Counter(completion_reason(m.body) for m in messages if m.noun == "ChargingCompletion"),
        requested_wh=requested or 0, consumed_wh=consumed or 0,
    )


def _wall(clock: AcceleratedClock, sim: datetime) -> float:
    return clock.to_wall(sim).timestamp()


def _service_of(destination: str) -> str | None:
    if destination.startswith("portal:"):
        return services.CUSTOMER_PORTAL.name
    if destination == "billing":
        return services.CUSTOMER_BILLING.name
    return None  # the scheduler's acknowledgment (4.1.2): in process


# --- the raw floor --------------------------------------------------------------------
def raw_mms(stations: int, calls: dict[str, int], work: Path) -> dict[str, float]:
    """Seconds the raw binding takes for ``calls`` against a fresh gateway IED of ``stations``."""
    arrivals = work / "raw-arrivals.json"
    arrivals.write_text(json.dumps([Arrival(station=n, ev_id=f"RAW-{n:05d}", energy_wh=1_000_000, departure=DEPARTURE,
                                            max_power_w=7400, ev_limit_w=7400).to_json() | {"at_s": 0}
                                    for n in range(1, stations + 1)]), encoding="utf-8")
    port = free_port()
    ied = Service("raw-ied", evgrid_command(
        "ied", "serve", "--scl", str(packaged_scl("evse.icd")), "--stations", str(stations), "--port", str(port),
        "--start", NIGHT_START.isoformat(), "--arrivals", str(arrivals), "--log-level", "WARNING"), work / "raw-ied.log")
    ied.start()

    def ld(kind: str, n: int) -> str:
        return f"{refs.STATION_IED}{refs.gateway_inst(kind, (n - 1) % stations + 1)}"

    seconds: dict[str, float] = {}
    connection = _raw_connection(port, refs.METER_TOTWH.at(ld(refs.METER_LD_INST, 1)))
    try:
        closes = calls["contactor close (SBOw + Oper)"]
        used = range(1, min(stations, max(closes, 1)) + 1)
        started = time.perf_counter()
        contactors = {n: iec.ControlObjectClient_create(refs.CONTACTOR.at(ld(refs.STATION_LD_INST, n)), connection)
                      for n in used}
        limits = {n: iec.ControlObjectClient_create(refs.POWER_LIMIT.at(ld(refs.STATION_LD_INST, n)), connection)
                  for n in used}
        seconds["control objects (ControlObjectClient_create)"] = time.perf_counter() - started
        on, off = iec.MmsValue_newBoolean(True), iec.MmsValue_newBoolean(False)
        limit_values = []
        for watts in (3700.0, 7400.0):
            value = iec.MmsValue_createEmptyStructure(1)
            iec.MmsValue_setElement(value, 0, iec.MmsValue_newFloat(watts))
            limit_values.append(value)

        def read(kind: str, ref: refs.Ref, count: int) -> None:
            fc = iec.IEC61850_FC_ST
            references = [ref.at(ld(kind, n)) for n in range(1, count + 1)]
            for reference in references:
                value, error = iec.IedConnection_readObject(connection, reference, fc)
                _check(error == iec.IED_ERROR_OK, reference)
                iec.MmsValue_delete(value)

        def switch(count: int, value: object) -> None:
            for n in range(1, count + 1):
                control = contactors[(n - 1) % len(contactors) + 1]
                _check(iec.ControlObjectClient_selectWithValue(control, value)
                       and iec.ControlObjectClient_operate(control, value, 0), "contactor")

        def limit(count: int) -> None:
            for n in range(count):
                _check(iec.ControlObjectClient_operate(limits[n % len(limits) + 1], limit_values[n % 2], 0), "limit")

        work_items: list[tuple[str, Callable[[], None]]] = [
            ("register read (MMTR1.TotWh)",
             lambda: read(refs.METER_LD_INST, refs.METER_TOTWH, calls["register read (MMTR1.TotWh)"])),
            ("contactor close (SBOw + Oper)", lambda: switch(closes, on)),
            ("power-limit operate (direct)", lambda: limit(calls["power-limit operate (direct)"])),
            ("contactor open (SBOw + Oper)", lambda: switch(calls["contactor open (SBOw + Oper)"], off)),
            ("position read (CSWI1.Pos.stVal)",
             lambda: read(refs.STATION_LD_INST, refs.CONTACTOR_POS, calls["position read (CSWI1.Pos.stVal)"])),
        ]
        for name, call in work_items:
            started = time.perf_counter()
            call()
            seconds[name] = time.perf_counter() - started
        for control in (*contactors.values(), *limits.values()):
            iec.ControlObjectClient_destroy(control)
    finally:
        iec.IedConnection_close(connection)
        iec.IedConnection_destroy(connection)
        ied.stop()
    return seconds


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise SystemExit(f"raw MMS call failed: {what}")


def serve_fixed(replies: dict[str, bytes], ready: Connection) -> None:
    """A minimal WSGI app under waitress: each SOAPAction answered with one fixed reply."""
    from waitress import create_server

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        reply = replies[environ.get("HTTP_SOAPACTION", "").strip('"')]
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(reply)))])
        return [reply]

    server = create_server(app, host="127.0.0.1", port=0)
    ready.send(server.effective_port)  # type: ignore[union-attr]
    server.run()


def raw_soap(messages: list[Message]) -> dict[str, float]:
    """Seconds raw httpx POSTs of the pipeline's SOAP messages take, by service and noun."""
    calls = [m for m in messages if m.service is not None]
    replies: dict[str, bytes] = {}
    posts = []
    for message in calls:
        action = _operation(message.service, message.noun).soap_action  # type: ignore[arg-type]
        if message.reply and action not in replies:
            replies[action] = envelope(message.reply)
        posts.append((f"{message.service} {message.noun}", f"/{message.service}", envelope(message.body),
                      {"SOAPAction": f'"{action}"'}))
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve_fixed, args=(replies, child), daemon=True)
    server.start()
    seconds: Counter[str] = Counter()
    try:
        if not parent.poll(60):
            raise SystemExit("the raw WSGI server did not start")
        base = f"http://127.0.0.1:{parent.recv()}"
        with httpx.Client(base_url=base, auth=(USER, PASSWORD),
                          headers={"Content-Type": "text/xml; charset=utf-8"}) as client:
            client.post(posts[0][1], content=posts[0][2], headers=posts[0][3])  # connect once, outside the timing
            for name, path, body, headers in posts:
                started = time.perf_counter()
                response = client.post(path, content=body, headers=headers)
                seconds[name] += time.perf_counter() - started
                _check(response.status_code == 200, name)
    finally:
        server.terminate()
        server.join(10)
    return dict(seconds)


def _operation(service: str, noun: str) -> services.Operation:
    return next(op for op in services.service(service).operations if op.noun == noun)


def raw_sqlite(messages: list[Message], work: Path) -> float:
    """Seconds for one sqlite3 transaction (insert the message, commit) per message."""
    path = work / "raw.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE message (id INTEGER PRIMARY KEY, noun TEXT NOT NULL, body BLOB NOT NULL)")
    rows = [(m.noun, m.body) for m in messages]
    started = time.perf_counter()
    for row in rows:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO message (noun, body) VALUES (?, ?)", row)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


# --- the report -----------------------------------------------------------------------
def report(stations: int, per_gateway: int, speed: float, measured: Measured, mms_s: dict[str, float], soap_s: dict[str, float],
           sqlite_s: float, loads: dict[str, float]) -> None:
    """Print the one table."""
    write = sys.stdout.write
    gateways = -(-stations // per_gateway)
    write(f"{stations:,} stations in {gateways} gateway IED(s) of up to {per_gateway} and as many portal hosts, "
          f"speed {speed:g}x; load average (1 min): " + ", ".join(f"{k} {v:.2f}" for k, v in loads.items()) + "\n")
    write(f"sessions acknowledged: {measured.acknowledged:,} of {measured.sessions:,}; first plug-in to last "
          f"acknowledgment {measured.elapsed_s:.1f} s wall; the simulated schedule alone: "
          f"{measured.schedule_s:.1f} s\n")
    write("sessions ended by: " + ", ".join(f"{k} {v:,}" for k, v in measured.ended.most_common())
          + f"; energy delivered {measured.consumed_wh / max(measured.requested_wh, 1):.1%} of requested\n\n")
    write(f"{'per session, wall s':<28}{'p50':>8}{'p95':>8}{'max':>8}\n")
    for name, values in measured.latency_s.items():
        write(f"{name:<28}{percentile(values, 0.5):>8.2f}{percentile(values, 0.95):>8.2f}"
              f"{max(values, default=float('nan')):>8.2f}\n")
    write(f"\n{'calls the pipeline made':<58}{'count':>8}{'raw s':>9}\n")
    rows: list[tuple[str, int, float | None]] = [(f"MMS {name}", count, mms_s.get(name)) for name, count in measured.mms.items()]
    rows.append(("MMS control objects created (raw: ControlObjectClient_create)", 0,
                 mms_s.get("control objects (ControlObjectClient_create)")))
    soap = Counter(f"{m.service} {m.noun}" for m in measured.messages if m.service is not None)
    retries = sum(m.attempts - 1 for m in measured.messages)
    rows += [(f"SOAP -> {name}", count, soap_s.get(name)) for name, count in sorted(soap.items())]
    in_process = Counter(m.noun for m in measured.messages if m.service is None)
    rows += [(f"in process {noun} (no SOAP)", count, None) for noun, count in sorted(in_process.items())]
    rows.append(("SQLite transactions, one per message", len(measured.messages), sqlite_s))
    for name, count, seconds in rows:
        write(f"{name:<58}{(f'{count:,}' if count else '-'):>8}{(f'{seconds:.3f}' if seconds is not None else '-'):>9}\n")
    raw_total = sum(mms_s.values()) + sum(soap_s.values()) + sqlite_s
    write(f"{'raw floor total (MMS + SOAP + SQLite)':<66}{raw_total:>9.3f}\n")
    if retries:
        write(f"(SOAP retries in the pipeline, not in the floor: {retries})\n")
    pipeline_rate = measured.acknowledged / measured.elapsed_s
    raw_rate = measured.acknowledged / raw_total
    write(f"\n{'':<34}{'sessions/s':>12}\n")
    write(f"{'pipeline (whole, 61850+SOAP+DB)':<34}{pipeline_rate:>12.2f}\n")
    write(f"{'raw floor (same calls, sequential)':<34}{raw_rate:>12.2f}\n")
    write(f"{'ratio pipeline / raw floor':<34}{pipeline_rate / raw_rate:>12.3f}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=1000, help="stations, one session each (default 1000)")
    parser.add_argument("--speed", type=float, default=300.0, help="simulated seconds per wall second (default 300)")
    parser.add_argument("--third-party-share", type=float, default=0.1, help="share of EVs charging elsewhere (0.1)")
    parser.add_argument("--stations-per-gateway", type=int, default=STATIONS_PER_GATEWAY,
                        help=f"stations per gateway IED and portal host (default {STATIONS_PER_GATEWAY}, the demo's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0, help="wall seconds the pipeline may take (900)")
    parser.add_argument("--out", type=Path, help="keep the pipeline's folder here (default: a temporary one, "
                                                 "kept only when the run fails)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    out = args.out or Path(tempfile.mkdtemp(prefix="evgrid-bench-e2e-"))
    loads = {"start": os.getloadavg()[0]}
    scenario = compressed_scenario(args.stations, third_party_share=args.third_party_share, seed=args.seed)
    options = DemoOptions(homes=args.stations, speed=args.speed, out=out, seed=args.seed,
                          stations_per_gateway=args.stations_per_gateway, night_start_utc=NIGHT_START)
    night = BenchNight(options, scenario)
    night.prepare()
    try:
        night.start()
        loads["at first plug-in"] = os.getloadavg()[0]
        run = night.drive_until_acknowledged(args.timeout)
    finally:
        night.stop()
    loads["pipeline done"] = os.getloadavg()[0]
    measured = read_pipeline(night, run)
    if run.stopped_because or measured.acknowledged < len(scenario.visits):
        sys.stdout.write(f"INCOMPLETE: {run.stopped_because or 'not every session acknowledged'}; sessions by state "
                         f"{run.states}; {measured.acknowledged} of {len(scenario.visits)} acknowledged. "
                         f"Logs and databases kept in {out}\n")
        return 1
    work = Path(tempfile.mkdtemp(prefix="evgrid-bench-e2e-raw-"))
    try:
        mms_s = raw_mms(args.stations, measured.mms, work)
        soap_s = raw_soap(measured.messages)
        sqlite_s = raw_sqlite(measured.messages, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    loads["end"] = os.getloadavg()[0]
    report(args.stations, args.stations_per_gateway, args.speed, measured, mms_s, soap_s, sqlite_s, loads)
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
