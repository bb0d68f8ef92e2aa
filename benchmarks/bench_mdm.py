"""A day of one meter into the reference MDM over SOAP, against the raw floor of the same run.

The message: ``created MeterReadings`` of one meter for one day, a register read at its
start and at its end and one IntervalBlock of 96 fifteen-minute intervals (about 14 KB),
as the operation system forwards a portal's span. Each message is the next day of the
same meter, so the MDM validates it against what it stored (the day before's closing
read, the pairing of meter and usage point) and keeps every interval (VEE: spans, sums,
conflicts; then 2 registers and 96 intervals written, the journal, one commit).

  ours    httpx POSTs (keep-alive, HTTP Basic) to a real ``evgrid sim mdm --database``
          subprocess: guards, parse, schema validation, authentication, routing, VEE,
          store, journal, reply
  floor   in the same run, the sum of three raw parts for the same message:
          - an httpx round trip of the same SOAP body to waitress answering a fixed reply
            (a child process);
          - lxml parse + validation against the same schema set;
          - one transaction inserting the 96 intervals in one executemany into the same
            kind of database (sqlite3 on a file in WAL mode, or psycopg on PostgreSQL)

Prints messages/s of each (best of the rounds, interleaved), and floor/ours: the floor's
time per message over ours (target >= 0.5: the MDM at most doubles the floor).

    python benchmarks/bench_mdm.py [--messages 150] [--rounds 5] [--database-url postgresql+psycopg://...]

Without ``--database-url`` the MDM and the floor use SQLite files in a temporary directory;
with it, each a fresh scratch schema of that PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
from lxml import etree
from xsdata.models.datatype import XmlDateTime

from evgrid.adapters.store.testing import scratch_schema
from evgrid.apps.services.mdm import MeterDataManagement
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.generated import meter_readings as mr
from evgrid.mappings import codes, services

USER, PASSWORD = "bench", "bench-password"
METER, USAGE_POINT = "MTR-BENCH-1", "UP-BENCH-1"
START = datetime(2026, 1, 1, tzinfo=UTC)
Q = timedelta(minutes=15)
PER_INTERVAL_WH = 150
START_TIMEOUT_S = 60


def day_message(codec: Codec, day: int) -> bytes:
    """``created MeterReadings`` of day ``day`` of the meter: 2 registers, 96 intervals (a fresh MessageID)."""
    start = START + timedelta(days=day)
    first_wh = 1_000_000 + day * 96 * PER_INTERVAL_WH

    def at(moment: datetime) -> XmlDateTime:
        return XmlDateTime.from_datetime(moment)

    payload = mr.MeterReadings(meter_reading=[mr.MeterReading(
        meter=mr.Meter(m_rid=METER), usage_point=mr.UsagePoint(m_rid=USAGE_POINT),
        readings=[mr.Reading(time_stamp=at(moment), value=str(wh), reading_type=mr.Reading.ReadingType(
            ref=codes.REGISTER_WH)) for moment, wh in ((start, first_wh),
                                                        (start + 96 * Q, first_wh + 96 * PER_INTERVAL_WH))],
        interval_blocks=[mr.IntervalBlock(
            interval_readings=[mr.IntervalReading(time_stamp=at(start + (k + 1) * Q), value=str(PER_INTERVAL_WH))
                               for k in range(96)],
            reading_type=mr.IntervalBlock.ReadingType(ref=codes.INTERVAL_15MIN_WH))])])
    return codec.dump(env.event(env.Verb.CREATED, "MeterReadings", payload, source="evgrid-evos"))


def soap(message: bytes) -> bytes:
    """The message as a SOAP 1.1 body (what ServiceClient.send posts, without WS-Security)."""
    body = message[message.index(b"?>") + 2:] if message.startswith(b"<?xml") else message
    return (f'<soapenv:Envelope xmlns:soapenv="{ns.SOAP11}"><soapenv:Body>'.encode() + body
            + b"</soapenv:Body></soapenv:Envelope>")


# ------------------------------------------------------------------------- servers
def start_mdm(database: str) -> tuple[subprocess.Popen[str], str]:
    """``evgrid sim mdm`` on a free loopback port with ``database``; the process and the service's URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "evgrid", "sim", "mdm", "--port", "0", "--credentials", f"{USER}:{PASSWORD}",
         "--database", database, "--log-level", "ERROR"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()  # the ready line, or EOF when it failed
    if not line.startswith("ready "):
        process.kill()
        raise SystemExit(f"evgrid sim mdm did not start: {line!r}")
    return process, line.split("url=", 1)[1].strip()


def serve_fixed(reply: bytes, ready: Connection) -> None:
    """A minimal WSGI app under waitress answering every POST with ``reply``."""
    from waitress import create_server

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(reply)))])
        return [reply]

    server = create_server(app, host="127.0.0.1", port=0)
    ready.send(server.effective_port)  # type: ignore[union-attr]
    server.run()


@contextlib.contextmanager
def fixed_server(reply: bytes) -> Iterator[str]:
    """:func:`serve_fixed` in a child process; yields its base URL."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=serve_fixed, args=(reply, child), daemon=True)
    process.start()
    try:
        if not parent.poll(START_TIMEOUT_S):
            raise SystemExit("the fixed-reply WSGI server did not start")
        yield f"http://127.0.0.1:{parent.recv()}"
    finally:
        process.terminate()
        process.join(10)


# ------------------------------------------------------------------------- raw inserts
class RawInserts:
    """The floor's database part: 96 interval rows in one executemany, one transaction per message."""

    SQL = ("INSERT INTO intervals (meter, usage_point, reading_type, end_time, value_wh, quality, message_id) "
           "VALUES ({0}, {0}, {0}, {0}, {0}, {0}, {0})")
    TABLE = ("CREATE TABLE intervals (meter VARCHAR(64) NOT NULL, usage_point VARCHAR(64) NOT NULL, "
             "reading_type VARCHAR(64) NOT NULL, end_time {0} NOT NULL, value_wh BIGINT NOT NULL, "
             "quality VARCHAR(16), message_id VARCHAR(128), PRIMARY KEY (meter, end_time))")

    def __init__(self, sqlite_path: Path | None, postgresql_url: str | None) -> None:
        self.day = 0
        if postgresql_url is not None:
            import psycopg
            from sqlalchemy import make_url

            url = make_url(postgresql_url)  # the scratch schema's URL: its search_path is in "options"
            self.db: object = psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                                              dbname=url.database, options=url.query.get("options", ""))
            self.db.execute(self.TABLE.format("TIMESTAMPTZ"))  # type: ignore[attr-defined]
            self.db.commit()  # type: ignore[attr-defined]
            self.sql = self.SQL.format("%s")
            self.sqlite = False
        else:
            assert sqlite_path is not None
            self.db = sqlite3.connect(sqlite_path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(self.TABLE.format("TEXT"))
            self.sql = self.SQL.format("?")
            self.sqlite = True

    def insert_day(self) -> None:
        start = START + timedelta(days=self.day)
        self.day += 1
        rows = [(METER, USAGE_POINT, codes.INTERVAL_15MIN_WH,
                 (start + (k + 1) * Q).isoformat() if self.sqlite else start + (k + 1) * Q,
                 PER_INTERVAL_WH, None, f"raw-{self.day}") for k in range(96)]
        if self.sqlite:
            db = self.db
            db.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
            db.executemany(self.sql, rows)  # type: ignore[attr-defined]
            db.execute("COMMIT")  # type: ignore[attr-defined]
        else:
            with self.db.cursor() as cursor:  # type: ignore[attr-defined]
                cursor.executemany(self.sql, rows)
            self.db.commit()  # type: ignore[attr-defined]

    def close(self) -> None:
        self.db.close()  # type: ignore[attr-defined]


# ------------------------------------------------------------------------- measuring
def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_second(work: Callable[[int], object], count: int) -> float:
    """Calls/s of ``work(0) .. work(count - 1)``, one after another."""
    started = time.perf_counter()
    for k in range(count):
        work(k)
    return count / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=150, help="messages per part per round (default 150)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--database-url", help="a PostgreSQL URL: MDM and the floor each in a scratch schema of it")
    args = parser.parse_args()

    codec = Codec()
    count, rounds = args.messages, args.rounds
    warm = 20
    total = warm + rounds * count
    messages = [day_message(codec, k) for k in range(total)]  # built once, outside every timing
    bodies = [soap(m) for m in messages]
    action = services.METER_DATA_MANAGEMENT.operation("CreatedMeterReadings").soap_action
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    lxml_parser = etree.XMLParser(resolve_entities=False, no_network=True)
    schema = codec._state.schema  # the compiled schema set the codec validates with

    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-mdm-")))
        if args.database_url:
            mdm_db = stack.enter_context(scratch_schema(args.database_url))
            raw_db: RawInserts = RawInserts(None, stack.enter_context(scratch_schema(args.database_url)))
            kind = "PostgreSQL"
        else:
            mdm_db = str(work / "mdm.db")
            raw_db = RawInserts(work / "raw.db", None)
            kind = "SQLite (WAL file)"
        stack.callback(raw_db.close)
        process, url = start_mdm(mdm_db)
        stack.callback(lambda: (process.terminate(), process.wait(30)))
        client = stack.enter_context(httpx.Client(auth=(USER, PASSWORD), headers=headers, timeout=30))
        sample = client.post(url, content=bodies[0])
        assert sample.status_code == 200 and b"<msg:Result>OK<" in sample.content, sample.content[-600:]
        raw_url = stack.enter_context(fixed_server(sample.content))
        raw_client = stack.enter_context(httpx.Client(auth=(USER, PASSWORD), headers=headers, timeout=30))

        sent = 1

        def ours(k: int) -> None:
            nonlocal sent
            response = client.post(url, content=bodies[sent])
            sent += 1
            if response.status_code != 200 or b"<msg:Result>OK<" not in response.content:
                raise SystemExit(f"MDM did not answer OK: {response.content[-600:]!r}")

        def http(k: int) -> None:
            response = raw_client.post(raw_url, content=bodies[k])
            assert response.status_code == 200

        def parse(k: int) -> None:
            if not schema.validate(etree.fromstring(messages[k], lxml_parser)):
                raise SystemExit("the message does not validate")

        def insert(k: int) -> None:
            raw_db.insert_day()

        for part in (ours, http, parse, insert):  # warm up: connections, caches, the credential check
            for k in range(warm - 1):
                part(k)
        best = {"ours": 0.0, "http": 0.0, "parse": 0.0, "insert": 0.0}
        parts = {"ours": ours, "http": http, "parse": parse, "insert": insert}
        server_cpu = 0.0
        for _ in range(rounds):  # interleaved: drift in the machine's load hits every part alike
            for name, part in parts.items():
                before = cpu_seconds(process.pid) if name == "ours" else 0.0
                best[name] = max(best[name], per_second(part, count))
                if name == "ours":
                    server_cpu += cpu_seconds(process.pid) - before
        process.terminate()
        process.wait(30)

        stored = MeterDataManagement(mdm_db)
        try:
            intervals, registers = stored.interval_count(), stored.register_count()
        finally:
            stored.close()
    assert intervals == 96 * sent and registers == sent + 1, (intervals, registers, sent)

    floor_ms = sum(1000 / best[name] for name in ("http", "parse", "insert"))
    ours_ms = 1000 / best["ours"]
    write = sys.stdout.write
    write(f"created MeterReadings, one meter's day (2 registers, 96 intervals), {len(bodies[1]):,} bytes SOAP; "
          f"{kind}; best of {rounds} interleaved rounds of {count} messages\n")
    write(f"{'part':<44} {'msg/s':>9} {'ms/msg':>8}\n")
    for label, name in (("floor: httpx round trip, fixed-reply waitress", "http"),
                        ("floor: lxml parse + schema validation", "parse"),
                        ("floor: 96 rows, one executemany + commit", "insert")):
        write(f"{label:<44} {best[name]:>9,.0f} {1000 / best[name]:>8.3f}\n")
    write(f"{'floor (sum of the three)':<44} {1000 / floor_ms:>9,.0f} {floor_ms:>8.3f}\n")
    write(f"{'ours: evgrid sim mdm (VEE, store, journal)':<44} {best['ours']:>9,.0f} {ours_ms:>8.3f}\n")
    write(f"{'  of which CPU in evgrid sim mdm (mean)':<44} {'':>9} {1000 * server_cpu / (rounds * count):>8.3f}\n")
    ratio = floor_ms / ours_ms
    write(f"floor/ours = {ratio:.2f} (target >= 0.50: {'met' if ratio >= 0.5 else 'MISSED'}); "
          f"stored {registers} registers and {intervals:,} intervals\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
