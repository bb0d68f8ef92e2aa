"""What the pipeline of benchmarks/bench_e2e.py did, read back, and the same calls redone raw (the floor).

:func:`read_pipeline` reads the pipeline's folder once it has stopped: the sessions and their
state changes (the operation system's database), every message delivered (the outboxes of
every database) and each gateway IED's MMS calls (its log's control-handler counts). The
``raw_*`` functions time the same calls one after another, with the raw libraries alone, no
evgrid code in the timed loops:

  MMS     pyiec61850 reads and controls against a fresh gateway IED of the same station
          count (``evgrid ied serve``, real time), one IED at a time;
  SOAP    httpx POSTs of the pipeline's own message bytes, in SOAP envelopes, to a minimal
          waitress WSGI app (in another process) answering each operation with one of the
          pipeline's own replies;
  SQLite  one sqlite3 transaction (insert + commit, WAL, synchronous=NORMAL) per message.

Each figure is client-side wall time, so it includes the raw server's side of each call
(the IED's, the WSGI app's) and the loopback round trip.
"""
from __future__ import annotations

import json
import multiprocessing
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import pyiec61850.pyiec61850 as iec
from bench_iec61850 import _raw_connection  # benchmarks/bench_iec61850.py, beside this script

from evgrid.adapters.soap.wire import envelope
from evgrid.apps.processes import Service, evgrid_command, free_port
from evgrid.apps.services.billing import meter_readings_request
from evgrid.cim.codec import Codec
from evgrid.cim.envelope import Verb
from evgrid.clock import AcceleratedClock
from evgrid.mappings import iec61850_refs as refs
from evgrid.mappings import services
from evgrid.sim.devices.arrivals import Arrival
from evgrid.sim.devices.ied import packaged_scl

USER, PASSWORD = "bench", "bench-password"
ACKNOWLEDGED = "acknowledged"
# The raw IED runs in real time from RAW_START; its EVs stay a day, never full.
RAW_START = datetime(2026, 1, 15, 22, 0, tzinfo=UTC)
RAW_DEPARTURE = RAW_START + timedelta(days=1)
# The MMS calls of a session (see mms_calls); control objects: one per station and control, made once.
CONTROL_OBJECTS = "control objects created (CSWI1.Pos, DESE1.ChaPwrLim)"
REGISTER_READ = "register read (MMTR1.TotWh)"
CLOSE = "contactor close (SBOw + Oper)"
LIMIT = "power-limit operate (direct)"
OPEN = "contactor open (SBOw + Oper)"
POSITION_READ = "position read (CSWI1.Pos.stVal)"


@dataclass(slots=True)
class Message:
    """One message the pipeline sent: over SOAP to ``service``, or in process (``service`` None).

    ``verb``: that of the service's operation, when its noun alone does not name one (MDM's
    ``get MeterReadings`` beside ``created``); empty for the noun's first operation.
    """

    sender: str
    service: str | None
    message_id: str
    body: bytes
    attempts: int
    reply: bytes | None
    verb: str = ""

    @property
    def noun(self) -> str:
        """The noun, from the MessageID."""
        return noun_of(self.message_id)

    @property
    def call(self) -> str:
        """The SOAP call as the table names it: the service, the verb when given, the noun."""
        return " ".join(part for part in (self.service, self.verb, self.noun) if part)


def noun_of(message_id: str) -> str:
    """The noun a MessageID starts with (evgrid's ids are ``<Noun>:<subject>``)."""
    return message_id.split(":", 1)[0]


# --- what the pipeline did ------------------------------------------------------------
@dataclass(slots=True)
class Measured:
    """The pipeline's result, read back from its databases and logs."""

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
    last_scheduled: datetime | None  # simulated: when the operation system scheduled the last request


def read_pipeline(out: Path, clock: AcceleratedClock, gateways: int, per_gateway: int,
                  plugged_wall: dict[str, float]) -> Measured:
    """Sessions, their latencies and every call made, from the databases and the IED logs in ``out``.

    ``plugged_wall``: when each EV was plugged in (wall, Unix s), by EV id.
    """

    def wall(sim_text: str) -> float:
        return _wall(clock, datetime.fromisoformat(sim_text).replace(tzinfo=UTC))

    with sqlite3.connect(f"file:{out / 'evgrid.db'}?mode=ro", uri=True) as db:
        sessions = db.execute("SELECT session_id, ev_id, state, planned_end FROM charging_sessions").fetchall()
        requested, consumed = db.execute("SELECT sum(requested_wh), sum(coalesce(consumed_wh, 0)) "
                                         "FROM charging_sessions").fetchone()
        transitions = db.execute("SELECT session_id, to_state, at FROM session_transitions "
                                 "WHERE to_state IN ('scheduled', 'completed', 'acknowledged')").fetchall()
        moments = {(session, to_state): wall(at) for session, to_state, at in transitions}
    first_plug = min(plugged_wall.values())
    acked = [moments[(s, ACKNOWLEDGED)] for s, *_ in sessions if (s, ACKNOWLEDGED) in moments]
    latency: dict[str, list[float]] = {"plug-in -> acknowledged": [], "plug-in -> scheduled": [],
                                       "completed -> acknowledged": []}
    for session, ev_id, _state, _end in sessions:
        plugged = plugged_wall.get(ev_id)
        scheduled, completed, done = (moments.get((session, s)) for s in ("scheduled", "completed", ACKNOWLEDGED))
        if plugged is not None and done is not None:
            latency["plug-in -> acknowledged"].append(done - plugged)
        if plugged is not None and scheduled is not None:
            latency["plug-in -> scheduled"].append(scheduled - plugged)
        if completed is not None and done is not None:
            latency["completed -> acknowledged"].append(done - completed)
    ends = [wall(end) for *_, end in sessions if end]
    messages, mms = pipeline_calls(out, gateways, per_gateway)
    scheduled_at = [datetime.fromisoformat(at).replace(tzinfo=UTC) for _s, to, at in transitions if to == "scheduled"]
    return Measured(
        states=Counter(state for _s, _ev, state, _end in sessions),
        sessions=len(sessions), acknowledged=len(acked),
        elapsed_s=(max(acked) - first_plug) if acked else float("nan"),
        schedule_s=(max(ends) - first_plug) if ends else float("nan"),
        latency_s=latency, messages=messages,
        mms=mms,
        ended=Counter(completion_reason(m.body) for m in messages if m.noun == "ChargingCompletion"),
        requested_wh=requested or 0, consumed_wh=consumed or 0,
        last_scheduled=max(scheduled_at, default=None),
    )


def _wall(clock: AcceleratedClock, sim: datetime) -> float:
    return clock.to_wall(sim).timestamp()


def completion_reason(body: bytes) -> str:
    """Why a session ended, from its ChargingCompletion: ``stopped``, ``evFull``, ``departure`` ..."""
    match = re.search(rb"<ev:reason>([^<]*)</ev:reason>", body)
    return match.group(1).decode() if match else "?"


# --- what the pipeline called ---------------------------------------------------------
def pipeline_calls(out: Path, gateways: int, per_gateway: int) -> tuple[list[Message], dict[int, dict[str, int]]]:
    """Every message the pipeline in ``out`` delivered, and each gateway's MMS calls (1-based).

    Billing's ``get MeterReadings`` to MDM (one a bill) is in no outbox: MDM's journal has
    each with its reply, and the request is rebuilt as billing writes it (one selection,
    the same size whatever the session).
    """
    state = out / "state"
    with sqlite3.connect(f"file:{out / 'evgrid.db'}?mode=ro", uri=True) as db:
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
    messages += mdm_gets(state / "mdm.db")
    # The portals' own messages: the operation system forwards each MeterReadings to MDM
    # under the same MessageID.
    sent = [m for m in messages if m.sender.startswith("portal-")]
    starts = Counter(gateway_of(m.message_id, per_gateway) for m in sent
                     if m.noun == "MeterReadings" and m.message_id.endswith(":start"))
    full = Counter(gateway_of(m.message_id, per_gateway) for m in sent
                   if m.noun == "EndDeviceEvents" and m.message_id.endswith(":full"))
    mms = {}
    for g in range(1, gateways + 1):
        log = (out / "logs" / f"ied-{g}.log").read_text(encoding="utf-8", errors="replace")
        mms[g] = mms_calls(log.count("triggerControlHandler()"), log.count("triggerPerformCheckHandler()"),
                           starts[g], full[g])
    return messages, mms


def mdm_gets(path: Path) -> list[Message]:
    """Billing's ``get MeterReadings`` calls, from MDM's journal, each with MDM's reply."""
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        replies = [bytes(reply) for (reply,) in db.execute("SELECT reply FROM inbound WHERE verb = 'get'")]
    if not replies:
        return []
    request = Codec().dump(meter_readings_request("UP-S-00001", "M-S-00001", RAW_START, RAW_START + timedelta(hours=1)))
    return [Message("billing", services.METER_DATA_MANAGEMENT.name, f"MeterReadings:get:{n}", request, 1, reply,
                    verb=Verb.GET.value) for n, reply in enumerate(replies, start=1)]


def _service_of(destination: str) -> str | None:
    if destination.startswith("portal:"):
        return services.CUSTOMER_PORTAL.name
    if destination == "billing":
        return services.CUSTOMER_BILLING.name
    if destination == "mdm":
        return services.METER_DATA_MANAGEMENT.name
    return None  # the scheduler's acknowledgment (4.1.2): in process


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


# --- MMS ------------------------------------------------------------------------------
def raw_mms(per_gateway: Sequence[tuple[int, dict[str, int]]], work: Path) -> dict[str, float]:
    """Seconds the raw binding takes for each gateway's ``(stations, calls)``, one fresh gateway IED at a time."""
    seconds: Counter[str] = Counter()
    for stations, calls in per_gateway:
        seconds.update(_raw_gateway(stations, calls, work))
    return dict(seconds)


def _raw_gateway(stations: int, calls: dict[str, int], work: Path) -> dict[str, float]:
    # Every station gets an EV that is never full, so that any contactor may close.
    arrivals = work / "raw-arrivals.json"
    arrivals.write_text(json.dumps([Arrival(station=n, ev_id=f"RAW-{n:05d}", energy_wh=1_000_000,
                                            departure=RAW_DEPARTURE, max_power_w=7400, ev_limit_w=7400).to_json()
                                    | {"at_s": 0} for n in range(1, stations + 1)]), encoding="utf-8")
    port = free_port()
    ied = Service("raw-ied", evgrid_command(
        "ied", "serve", "--scl", str(packaged_scl("evse.icd")), "--stations", str(stations), "--port", str(port),
        "--start", RAW_START.isoformat(), "--arrivals", str(arrivals), "--log-level", "WARNING"), work / "raw-ied.log")
    ied.start()

    def ld(kind: str, n: int) -> str:
        return f"{refs.STATION_IED}{refs.gateway_inst(kind, (n - 1) % stations + 1)}"

    seconds: dict[str, float] = {}
    connection = _raw_connection(port, refs.METER_TOTWH.at(ld(refs.METER_LD_INST, 1)))
    closes = calls[CLOSE]
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
        raise SystemExit(f"raw call failed: {what}")


# --- SOAP -----------------------------------------------------------------------------
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
        action = _operation(message.service, message.noun, message.verb).soap_action  # type: ignore[arg-type]
        if message.reply and action not in replies:
            replies[action] = envelope(message.reply)
        posts.append((message.call, f"/{message.service}", envelope(message.body), {"SOAPAction": f'"{action}"'}))
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


def _operation(service: str, noun: str, verb: str = "") -> services.Operation:
    return next(op for op in services.service(service).operations
                if op.noun == noun and (not verb or op.verb.value == verb))


# --- SQLite ---------------------------------------------------------------------------
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


# --- the table ------------------------------------------------------------------------
def write_calls(write: Callable[[str], object], mms_by_gateway: dict[int, dict[str, int]], messages: list[Message],
                mms_s: dict[str, float], soap_s: dict[str, float], sqlite_s: float) -> float:
    """Write the table of the pipeline's calls beside the raw seconds; returns the raw floor's total."""
    write(f"\n{'calls the pipeline made':<58}{'count':>8}{'raw s':>9}\n")
    mms: Counter[str] = Counter()
    for calls in mms_by_gateway.values():
        mms.update(calls)
    rows: list[tuple[str, int, float | None]] = [(f"MMS {name}", mms[name], mms_s.get(name)) for name in mms]
    soap = Counter(m.call for m in messages if m.service is not None)
    retries = sum(m.attempts - 1 for m in messages)
    rows += [(f"SOAP -> {name}", count, soap_s.get(name)) for name, count in sorted(soap.items())]
    in_process = Counter(m.noun for m in messages if m.service is None)
    rows += [(f"in process {noun} (no SOAP)", count, None) for noun, count in sorted(in_process.items())]
    rows.append(("SQLite transactions, one per message", len(messages), sqlite_s))
    for name, count, seconds in rows:
        write(f"{name:<58}{(f'{count:,}' if count else '-'):>8}{(f'{seconds:.3f}' if seconds is not None else '-'):>9}\n")
    raw_total = sum(mms_s.values()) + sum(soap_s.values()) + sqlite_s
    write(f"{'raw floor total (MMS + SOAP + SQLite)':<66}{raw_total:>9.3f}\n")
    if retries:
        write(f"(SOAP retries in the pipeline, not in the floor: {retries})\n")
    return raw_total
