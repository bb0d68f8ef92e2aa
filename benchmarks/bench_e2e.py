"""End-to-end throughput: charging sessions/s through the whole pipeline beside the raw libraries.

One run, two measurements of the same work:

  pipeline   ``evgrid demo``'s processes (gateway IEDs of the demo's size, the reference
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
of visits, so every station and every EV has exactly one session). Every EV plugs in at
20:00-20:05 UTC and stays until 06:00. The demo tariff's EV night rate starts at 22:00 UTC
and the horizon ends at 23:00, so home sessions (1-3 kWh) get slots in 22:00-23:00;
third-party ones (10-20 kWh) are allotted at once. The simulated schedule alone (first
plug-in to the end of the last allotted slot, in wall seconds) is printed beside the
measured time: sessions/s measures the pipeline only where the measured time is well above
it. A higher ``--speed`` shortens the schedule, but the request burst of every station at
once must fit in the two simulated hours before 22:00, and a third-party session's start
order inside its allotment: a session that misses its allotment is never stopped (it stays
charging at 0 kW). Exit status 1, with the reason, when a session was not acknowledged or
ended only because its EV left: the figures then do not measure the pipeline.

    python benchmarks/bench_e2e.py [--stations 1000] [--speed 120] [--stations-per-gateway N]
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import pyiec61850.pyiec61850 as iec
from bench_iec61850 import _raw_connection  # benchmarks/bench_iec61850.py, beside this script

from evgrid.adapters.soap.wire import envelope
from evgrid.adapters.store.night_records import session_states
from evgrid.mappings import iec61850_refs as refs
from evgrid.mappings import services
from evgrid.sim import scenario as sc
from evgrid.sim.arrivals import Arrival
from evgrid.sim.clock import AcceleratedClock
from evgrid.sim.ied import packaged_scl
from evgrid.sim.night import DemoOptions, Night
from evgrid.sim.night_setup import Plant
from evgrid.sim.processes import Service, evgrid_command, free_port

# The clock and the horizon start at 18:00 UTC: the two simulated hours before the
# plug-ins at 20:00 absorb the processes' start-up (the demo's lead, 8 s + 20 ms a station, is
# too short for 1,000 stations).
# The demo tariff (Europe/Amsterdam, UTC+1 in January) has its EV night rate from 22:00 UTC and
# the horizon ends at 23:00, so home sessions get slots in 22:00-23:00, two hours after their
# request: the request burst of every station at once must fit in those two simulated hours.
NIGHT_START = datetime(2026, 1, 15, 18, 0, tzinfo=UTC)
HORIZON_SLOTS = 20  # 18:00-23:00 UTC
PLUG_AT = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)
PLUG_WINDOW = timedelta(minutes=5)
# No EV leaves during the run: a session the pipeline fails to finish shows as one, not as a departure.
DEPARTURE = datetime(2026, 1, 16, 6, 0, tzinfo=UTC)
HOME_WH = (1000, 3000)
# Third-party sessions are allotted at once, from their plug-in: 10-20 kWh (an hour or more at
# 7.4-11 kW) keeps the start order of one served late by the request burst inside its allotment.
THIRD_PARTY_WH = (10000, 20000)
STATIONS_PER_GATEWAY = DemoOptions().stations_per_gateway  # the demo's
STALL_S = 120.0  # no session changed state for this long: give up
USER, PASSWORD = "bench", "bench-password"
ACKNOWLEDGED = "acknowledged"
# The MMS calls of a session (see mms_calls); control objects: one per station and control, made once.
CONTROL_OBJECTS = "control objects created (CSWI1.Pos, DESE1.ChaPwrLim)"
REGISTER_READ = "register read (MMTR1.TotWh)"
CLOSE = "contactor close (SBOw + Oper)"
LIMIT = "power-limit operate (direct)"
OPEN = "contactor open (SBOw + Oper)"
POSITION_READ = "position read (CSWI1.Pos.stVal)"


# --- the compressed night (pure) --------------------------------------------------------
def compressed_scenario(stations: int, *, third_party_share: float = 0.1, seed: int = 1) -> sc.Scenario:
    """The demo's homes and transformers, every station's EV plugging in at 20:00-20:05.

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


def noun_of(message_id: str) -> str:
    """The noun a MessageID starts with (evgrid's ids are ``<Noun>:<subject>``)."""
    return message_id.split(":", 1)[0]


def completion_reason(body: bytes) -> str:
    """Why a session ended, from its ChargingCompletion: ``stopped``, ``evFull``, ``departure`` ..."""
    match = re.search(rb"<ev:reason>([^<]*)</ev:reason>", body)
    return match.group(1).decode() if match else "?"


def problems(visits: int, states: Counter[str], ended: Counter[str], stopped_because: str) -> list[str]:
    """Why a run does not measure the pipeline; empty when every session went through on schedule.

    A session that ended only because its EV left (at 06:00, hours after its allotment)
    was never stopped by the pipeline: its start order came after its allotment had ended.
    """
    found = [stopped_because] if stopped_because else []
    if states.get(ACKNOWLEDGED, 0) < visits:
        found.append(f"{states.get(ACKNOWLEDGED, 0):,} of {visits:,} sessions acknowledged, by state "
                     + ", ".join(f"{state} {n:,}" for state, n in states.most_common())
                     + (f", never requested {visits - states.total():,}" if states.total() < visits else ""))
    if ended.get("departure"):
        found.append(f"{ended['departure']:,} sessions ended only when their EV left at {DEPARTURE:%H:%M} "
                     "(the pipeline never stopped them)")
    return found


def gateway_of(message_id: str, per_gateway: int) -> int:
    """The gateway (1-based) of the station a portal's MessageID names (``...R-S-00042-...``)."""
    match = re.search(r"R-S-(\d+)-", message_id)
    if match is None:
        raise ValueError(f"no station in {message_id!r}")
    return (int(match.group(1)) - 1) // per_gateway + 1


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
        CONTROL_OBJECTS: 2 * starts,
        REGISTER_READ: 2 * starts,
        CLOSE: starts,
        LIMIT: control_handler - selects,
        OPEN: selects - starts,
        POSITION_READ: full_events,
    }


# --- the pipeline ---------------------------------------------------------------------
@dataclass(slots=True)
class PipelineRun:
    """What the driven night left: when each EV was plugged in (wall, Unix s) and how it stopped."""

    up_at: datetime  # simulated time when every process was ready
    plugged_wall: dict[str, float] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    stopped_because: str = ""


class BenchNight(Night):
    """The demo's processes on a prepared scenario, driven without load sampling."""

    def __init__(self, options: DemoOptions, scenario: sc.Scenario) -> None:
        super().__init__(options)
        self.scenario = scenario

    def drive_until_acknowledged(self, timeout_s: float) -> PipelineRun:
        """Hand every arrival to its IED at once; poll the database until all sessions are acknowledged.

        Each arrival carries its simulated time, so the IED plugs the EV in at that time
        (or at once, when the request comes later): sending them takes about 17 ms each
        per gateway IED (one thread per gateway), which would otherwise stretch the window.
        A plug-in happened at the later of its time and the reply to its request.
        """
        assert self.clock is not None
        run = PipelineRun(up_at=self.clock.now())
        deadline = time.monotonic() + timeout_s
        by_gateway: dict[int, list[sc.Visit]] = {}
        for visit in self.scenario.visits:
            by_gateway.setdefault(self._gateway_of(visit.station_number)[0].first_station, []).append(visit)
        with ThreadPoolExecutor(len(by_gateway), thread_name_prefix="plug-in") as pool:
            for plugged in pool.map(self._plug_in_all, by_gateway.values()):
                run.plugged_wall.update(plugged)
        last_change = time.monotonic()
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

    def _plug_in_all(self, visits: list[sc.Visit]) -> dict[str, float]:
        assert self.clock is not None
        plugged = {}
        for visit in visits:
            gateway, local = self._gateway_of(visit.station_number)
            assert gateway.control is not None
            gateway.control.arrive(station=local, ev_id=visit.ev_id, energy_wh=visit.energy_wh,
                                   departure=visit.departure_utc.isoformat(), max_power_w=visit.ev_limit_w,
                                   ev_limit_w=visit.ev_limit_w, time=visit.arrival_utc.isoformat())
            plugged[visit.ev_id] = max(time.time(), _wall(self.clock, visit.arrival_utc))
        return plugged


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

    up_at: datetime
    states: Counter[str]
    sessions: int
    acknowledged: int
    elapsed_s: float
    schedule_s: float
    latency_s: dict[str, list[float]]
    messages: list[Message]
    mms: dict[int, dict[str, int]]  # per gateway
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
    per_gateway = night.options.stations_per_gateway
    starts = Counter(gateway_of(m.message_id, per_gateway) for m in messages
                     if m.noun == "MeterReadings" and m.message_id.endswith(":start"))
    full = Counter(gateway_of(m.message_id, per_gateway) for m in messages
                   if m.noun == "EndDeviceEvents" and m.message_id.endswith(":full"))
    mms = {}
    for g in range(1, len(night.gateways) + 1):
        log = (out / "logs" / f"ied-{g}.log").read_text(encoding="utf-8", errors="replace")
        mms[g] = mms_calls(log.count("triggerControlHandler()"), log.count("triggerPerformCheckHandler()"),
                           starts[g], full[g])
    return Measured(
        up_at=run.up_at, states=Counter(state for _s, _ev, state, _end in sessions),
        sessions=len(sessions), acknowledged=len(acked),
        elapsed_s=(max(acked) - first_plug) if acked else float("nan"),
        schedule_s=(max(ends) - first_plug) if ends else float("nan"),
        latency_s=latency, messages=messages,
        mms=mms,
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
def raw_mms(per_gateway: Sequence[tuple[int, dict[str, int]]], work: Path) -> dict[str, float]:
    """Seconds the raw binding takes for each gateway's ``(stations, calls)``, one fresh gateway IED at a time."""
    seconds: Counter[str] = Counter()
    for stations, calls in per_gateway:
        seconds.update(_raw_gateway(stations, calls, work))
    return dict(seconds)


def _raw_gateway(stations: int, calls: dict[str, int], work: Path) -> dict[str, float]:
    # Every station gets an EV that is never full, so that any contactor may close.
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
    closes = calls["contactor close (SBOw + Oper)"]
    used = range(1, max(closes, 1) + 1)  # one session per station: the pipeline closed as many distinct ones
    on, off = iec.MmsValue_newBoolean(True), iec.MmsValue_newBoolean(False)
    limit_values = []
    for watts in (3700.0, 7400.0):
        value = iec.MmsValue_createEmptyStructure(1)
        iec.MmsValue_setElement(value, 0, iec.MmsValue_newFloat(watts))
        limit_values.append(value)
    contactors: dict[int, object] = {}
    limits: dict[int, object] = {}

    def create() -> None:
        for n in used:
            contactors[n] = iec.ControlObjectClient_create(refs.CONTACTOR.at(ld(refs.STATION_LD_INST, n)), connection)
            limits[n] = iec.ControlObjectClient_create(refs.POWER_LIMIT.at(ld(refs.STATION_LD_INST, n)), connection)

    def read(kind: str, ref: refs.Ref, count: int) -> None:
        for reference in [ref.at(ld(kind, n)) for n in range(1, count + 1)]:
            value, error = iec.IedConnection_readObject(connection, reference, iec.IEC61850_FC_ST)
            _check(error == iec.IED_ERROR_OK, reference)
            iec.MmsValue_delete(value)

    def switch(count: int, value: object) -> None:
        for n in range(1, count + 1):
            control = contactors[n]
            _check(iec.ControlObjectClient_selectWithValue(control, value)
                   and iec.ControlObjectClient_operate(control, value, 0), f"contactor {n}")

    def limit(count: int) -> None:
        for n in range(count):
            _check(iec.ControlObjectClient_operate(limits[n % len(limits) + 1], limit_values[n % 2], 0), "limit")

    work_items: list[tuple[str, Callable[[], None]]] = [
        (CONTROL_OBJECTS, create),
        (REGISTER_READ, lambda: read(refs.METER_LD_INST, refs.METER_TOTWH, calls[REGISTER_READ])),
        (CLOSE, lambda: switch(closes, on)),
        (LIMIT, lambda: limit(calls[LIMIT])),
        (OPEN, lambda: switch(calls[OPEN], off)),
        (POSITION_READ, lambda: read(refs.STATION_LD_INST, refs.CONTACTOR_POS, calls[POSITION_READ])),
    ]
    try:
        for name, call in work_items:
            started = time.perf_counter()
            call()
            seconds[name] = time.perf_counter() - started
    finally:
        for control in (*contactors.values(), *limits.values()):
            iec.ControlObjectClient_destroy(control)
        for value in (on, off, *limit_values):
            iec.MmsValue_delete(value)
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
    for action in {headers["SOAPAction"].strip('"') for *_, headers in posts} - replies.keys():
        replies[action] = next(iter(replies.values()))  # none stored (not expected): any valid reply will do
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
    write(f"processes ready at {measured.up_at:%H:%M} simulated (plug-ins from {PLUG_AT:%H:%M}); sessions "
          f"acknowledged: {measured.acknowledged:,} of {measured.sessions:,}; first plug-in to last acknowledgment "
          f"{measured.elapsed_s:.1f} s wall, of which the simulated schedule alone takes {measured.schedule_s:.1f} s\n")
    if measured.schedule_s > 0.5 * measured.elapsed_s:
        write("NOTE: the simulated schedule is most of that time: sessions/s below measure it, not the pipeline "
              "(raise --speed)\n")
    write("sessions ended by: " + ", ".join(f"{k} {v:,}" for k, v in measured.ended.most_common())
          + f"; energy delivered {measured.consumed_wh / max(measured.requested_wh, 1):.1%} of requested\n\n")
    write(f"{'per session, wall s':<28}{'p50':>8}{'p95':>8}{'max':>8}\n")
    for name, values in measured.latency_s.items():
        write(f"{name:<28}{percentile(values, 0.5):>8.2f}{percentile(values, 0.95):>8.2f}"
              f"{max(values, default=float('nan')):>8.2f}\n")
    write(f"\n{'calls the pipeline made':<58}{'count':>8}{'raw s':>9}\n")
    mms: Counter[str] = Counter()
    for calls in measured.mms.values():
        mms.update(calls)
    rows: list[tuple[str, int, float | None]] = [(f"MMS {name}", mms[name], mms_s.get(name)) for name in mms]
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
    parser.add_argument("--speed", type=float, default=120.0, help="simulated seconds per wall second (default 120)")
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
    failures = problems(len(scenario.visits), measured.states, measured.ended, run.stopped_because)
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
    report(args.stations, args.stations_per_gateway, args.speed, measured, mms_s, soap_s, sqlite_s, loads)
    if failures:
        sys.stdout.write(f"\nINCOMPLETE, the figures above do not measure the pipeline: {'; '.join(failures)}. "
                         f"Logs and databases kept in {out}\n")
        return 1
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
