"""What bench_serve.py runs: the registry, the messages, the workers and the raw references.

Pure helpers (tested in tests/unit/test_bench_serve_helpers.py): :func:`registry_csv`,
:func:`night_start`, :class:`Messages`, :func:`soap_envelope`, :func:`reply_result`,
:func:`config_toml`, :func:`lanes`. The rest starts and stops processes.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TypeVar

import httpx
from lxml import etree

from evgrid.apps.processes import first_line
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.generated import ev_charging as ev
from evgrid.cim.generated import meter_readings as mr
from evgrid.mappings import codes, examples
from evgrid.mappings.ev_charging import xml_time

USER, PASSWORD = "bench", "bench-password-0123"
TOKEN = b"#NUM#"  # in the templates: replaced by the 6-digit number of the premise (or message)
HEADER = ("customer_id,customer_name,account_id,account_status,premise_number,usage_point_id,meter_number,"
          "transformer_id,transformer_capacity_kw,feeder_id,feeder_capacity_kw,station_id,station_max_kw,"
          "ev_id,ev_battery_kwh,ev_max_kw")
STATION_KW = 11.0
START_TIMEOUT_S = 90.0
_MSG = f"{{{ns.MESSAGE}}}"
T = TypeVar("T")


def number(n: int) -> str:
    """The 6-digit form every id of premise ``n`` carries (S-000042, EV-000042, ...)."""
    return f"{n:06d}"


def registry_csv(count: int, per_transformer: int = 10, *, meters: int = 0) -> str:
    """``count`` premises, each with a station and its owner's EV, about ``per_transformer`` to a transformer.

    Premise n is on transformer ``(n - 1) % T + 1`` (T transformers in all), each on a feeder
    of its own: consecutive requests (the clients send them in order) land on different
    feeders, so their plan locks differ. Every transformer can carry all its stations at
    full power at once: no request is refused for capacity, so every reply of the
    benchmark must be OK. ``meters`` more premises have a meter MR-n (usage point
    UP-MR-n), no station and no EV: the MeterReadings' meters, known to the registry as
    the operation system wants, with no session waiting on them.
    """
    transformers = max(1, -(-count // per_transformer))
    capacity = per_transformer * STATION_KW * 1.5
    lines = [HEADER]
    for i in range(1, count + 1):
        n, t = number(i), f"{(i - 1) % transformers + 1:04d}"
        lines.append(f"C-{n},Customer {n},A-{n},open,P-{n},UP-{n},M-{n},T-{t},{capacity:g},F-{t},1000000,"
                     f"S-{n},{STATION_KW:g},EV-{n},60,{STATION_KW:g}")
    for i in range(1, meters + 1):
        n = number(i)
        lines.append(f"C-MR-{n},Customer MR-{n},A-MR-{n},open,P-MR-{n},UP-MR-{n},MR-{n},T-MR,{capacity:g},F-MR,"
                     "1000000,,,,,")
    return "\n".join(lines) + "\n"


def night_start(now: datetime) -> datetime:
    """The whole hour two hours after ``now`` (rounded down): when the requests' EVs plug in (35 min later).

    Soon enough that a request's departure (13 h later) lies in the planning window open
    now (``[planning]`` defaults: at least 24 h ahead), late enough that no start job
    fires during a run of the benchmarks.
    """
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)


class Messages:
    """Message bytes from templates: a ChargingRequest per premise, a MeterReadings per number.

    Args:
        codec: the codec that writes the templates.
        night: the night's start; the EV plugs in 35 min after, leaves 13 h after.
    """

    def __init__(self, codec: Codec, night: datetime) -> None:
        token = TOKEN.decode()
        payload = replace(
            examples.charging_request(False), m_rid=f"R-EV-{token}", created_date_time=xml_time(night + timedelta(minutes=35)),
            electric_vehicle=ev.ElectricVehicle(m_rid=f"EV-{token}"), charging_station=ev.ChargingStation(m_rid=f"S-{token}"),
            customer=ev.Customer(m_rid=f"C-{token}"), usage_point=ev.UsagePoint(m_rid=f"UP-{token}"),
            requested_energy=20_000, departure_time=xml_time(night + timedelta(hours=13)))
        self.request = codec.dump(env.request(env.Verb.CREATE, "ChargingRequest", payload, source="portal",
                                              message_id=f"CR-{token}"))
        # A register read of a meter no session waits on: stored, nothing else (no plan lock).
        readings = mr.MeterReadings(meter_reading=[mr.MeterReading(
            meter=mr.Meter(m_rid=f"MR-{token}"), usage_point=mr.UsagePoint(m_rid=f"UP-MR-{token}"), readings=[mr.Reading(
                # Read an hour ago: a reading stamped in the future is refused.
                time_stamp=xml_time(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)), value="5466115",
                reading_type=mr.Reading.ReadingType(ref=codes.REGISTER_WH))])])
        self.reading = codec.dump(env.event(env.Verb.CREATED, "MeterReadings", readings, source="portal",
                                            message_id=f"MR-{token}"))

    def charging_requests(self, numbers: range) -> list[bytes]:
        """The ChargingRequest of EV-n at its home station S-n, for each n."""
        return [self.request.replace(TOKEN, number(n).encode()) for n in numbers]

    def meter_readings(self, numbers: range) -> list[bytes]:
        """A created MeterReadings of meter MR-n (MessageID MR-n), for each n."""
        return [self.reading.replace(TOKEN, number(n).encode()) for n in numbers]


def soap_envelope(message: bytes) -> bytes:
    """``message`` (a 61968-100 message, with or without its XML declaration) in a SOAP 1.1 Body."""
    body = message[message.index(b"?>") + 2:] if message.startswith(b"<?xml") else message
    return (f'<soapenv:Envelope xmlns:soapenv="{ns.SOAP11}"><soapenv:Body>'.encode() + body
            + b"</soapenv:Body></soapenv:Envelope>")


def reply_result(reply: bytes) -> tuple[str | None, str | None, str | None]:
    """Result, error code and reason of a 61968-100 reply, bare or inside a SOAP envelope."""
    try:
        root = etree.fromstring(reply, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None, None, reply[:200].decode(errors="replace")
    found = root.find(f".//{_MSG}Reply")
    if found is None:
        return None, None, reply[:200].decode(errors="replace")
    return (found.findtext(f"{_MSG}Result"), found.findtext(f"{_MSG}Error/{_MSG}code"),
            found.findtext(f"{_MSG}Error/{_MSG}reason"))


def config_toml(database_url: str, night: datetime, prefix: str) -> str:
    """The ``evgrid serve --config`` file of every worker: plain HTTP, one utility user, the ESB binding.

    The broker's URL and the worker id come from the environment (EVGRID_AMQP_URL, EVGRID_WORKER_ID).
    """
    def q(text: str) -> str:
        return json.dumps(text)  # a JSON string is a TOML basic string

    return (f"[database]\nurl = {q(database_url)}\n"
            f'[soap]\nhost = "127.0.0.1"\nport = 0\ntls = false\n'
            f"[planning]\nstart = {night.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
            f'[[users]]\nuser = {q(USER)}\npassword = {q(PASSWORD)}\nkind = "utility"\n'
            f"[amqp]\nprefix = {q(prefix)}\n"
            f'[log]\nlevel = "WARNING"\nformat = "text"\n')


def lanes(items: list[T], count: int) -> list[list[T]]:
    """``items`` dealt round-robin into ``count`` lanes (one per client thread)."""
    return [items[lane::count] for lane in range(count)]


# ------------------------------------------------------------ processes
@dataclass
class Worker:
    """One ``evgrid serve`` process: its id and base URL (``http://127.0.0.1:PORT``)."""

    name: str
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def health(self) -> dict[str, object]:
        return httpx.get(f"{self.base}/health", timeout=10).json()  # type: ignore[no-any-return]

    def held(self) -> int:
        checks = self.health()["checks"]
        return int(checks["leases"]["held"])  # type: ignore[index]


def start_worker(name: str, config: Path, environ: dict[str, str], folder: Path) -> Worker:
    """``evgrid serve --config`` as worker ``name`` until its ready line (stderr to ``folder``/name.log)."""
    log = folder / f"{name}.log"
    with log.open("ab") as sink:
        process = subprocess.Popen([sys.executable, "-m", "evgrid", "serve", "--config", str(config)],
                                   stdout=subprocess.PIPE, stderr=sink, env=environ | {"EVGRID_WORKER_ID": name})
    line = first_line(process, START_TIMEOUT_S)
    if not line.startswith("ready "):
        process.kill()
        process.communicate(timeout=10)
        raise SystemExit(f"evgrid serve {name} did not start: {line!r}\n{log.read_text()[-3000:]}")
    return Worker(name, process, line.split("url=", 1)[1].strip().rsplit("/", 1)[0], log)


def stop_worker(worker: Worker) -> int:
    """SIGTERM, wait for the clean stop (SIGKILL after 30 s); the exit status."""
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.communicate(timeout=10)
    return int(worker.process.returncode)


def wait_for(predicate: object, seconds: float, what: str) -> None:
    """Poll ``predicate`` (a callable) every 0.2 s until true; SystemExit after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def _serve_trivial(reply: bytes, ready: Connection) -> None:
    """Waitress, with evgrid's options (8 threads) and an app that answers ``reply`` to any POST."""
    from evgrid.adapters.soap.runner import SoapServer

    logging.getLogger("waitress").setLevel(logging.ERROR)  # "Task queue depth": the workers log WARNING+ too
    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))  # type: ignore[attr-defined]
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"),  # type: ignore[operator]
                                  ("Content-Length", str(len(reply)))])
        return [reply]

    server = SoapServer(app)
    ready.send(server.url)
    server.run()


def _serve_echo(url: str, prefix: str, reply: bytes, ready: Connection) -> None:
    """The ESB binding (same broker settings as a worker's) with a router that answers ``reply``."""
    from evgrid.adapters.esb.binding import EsbBinding

    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])  # before the binding's thread: sigwait takes it

    class Echo:
        def handle(self, data: bytes, *, sender: str | None = None, raise_unexpected: bool = False) -> bytes:
            return reply

    with EsbBinding(Echo(), url, nouns=["ChargingRequest"], prefix=prefix).running():
        ready.send("ready")
        signal.sigwait([signal.SIGTERM])


def start_reference(target: str, *args: object) -> tuple[multiprocessing.process.BaseProcess, str]:
    """A raw reference server (``trivial`` HTTP or ``echo`` ESB) in a spawned child; it and its ready message."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    function = {"trivial": _serve_trivial, "echo": _serve_echo}[target]
    process = context.Process(target=function, args=(*args, child), daemon=True)
    process.start()
    if not parent.poll(START_TIMEOUT_S):
        process.kill()
        raise SystemExit(f"the {target} reference did not start")
    return process, str(parent.recv())


# ------------------------------------------------------------ CPU from /proc
def stat_cpu_seconds(stat: str, ticks: int) -> float:
    """User + system CPU seconds of one ``/proc/<pid>/stat`` line (``ticks`` per second)."""
    fields = stat.rpartition(")")[2].split()  # the name, in parentheses, may hold spaces
    return (int(fields[11]) + int(fields[12])) / ticks


def cpu_snapshot(names: dict[str, str], pids: dict[int, str]) -> dict[int, tuple[str, float]]:
    """Pid -> (group, CPU seconds so far) of ``pids`` and of every process whose command name is in ``names``.

    ``names`` maps a command name to its group (every PostgreSQL backend is ``postgres``),
    ``pids`` a pid to its group.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        group = pids.get(int(entry.name)) or names.get(stat[stat.index("(") + 1:stat.rindex(")")])
        if group is not None:
            found[int(entry.name)] = (group, stat_cpu_seconds(stat, ticks))
    return found


def cpu_spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each group spent between two snapshots.

    A process in both counts its difference, a new one all of its CPU; one that exited in
    between is left out (its last figure is unknown): a backend that disconnects, say.
    """
    spent: dict[str, float] = {}
    for pid, (group, seconds) in after.items():
        spent[group] = spent.get(group, 0.0) + seconds - (before[pid][1] if pid in before else 0.0)
    return spent


def machine_busy_seconds(proc_stat: str, ticks: int) -> float:
    """CPU seconds all cores spent busy (not idle, not waiting for I/O), from ``/proc/stat``'s ``cpu`` line."""
    fields = [int(value) for value in proc_stat.split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / ticks


def machine_busy() -> float:
    """:func:`machine_busy_seconds` of this machine now."""
    return machine_busy_seconds(Path("/proc/stat").read_text(), os.sysconf("SC_CLK_TCK"))
