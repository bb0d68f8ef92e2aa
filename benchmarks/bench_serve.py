"""Requests/s of ``evgrid serve`` over SOAP and over AMQP, one worker and two, and the scaling ratio.

One run, one fresh PostgreSQL schema (``$EVGRID_DATABASE_URL``) seeded with a registry of
as many premises (station S-n, its owner's EV EV-n) as the run sends ChargingRequests, and a
RabbitMQ prefix of its own (``$EVGRID_AMQP_URL``); both are removed at the end. The workers
are ``evgrid serve --config`` processes (plain HTTP, one utility user, the ESB binding, log
level WARNING): scale-out workers on the same schema and broker prefix. Each case sends a
batch of prebuilt messages and times it until the last reply:

  SOAP  ``--clients`` threads, each with its own httpx keep-alive connection (opened before
        the clock starts), POST SOAP envelopes with HTTP Basic; with two workers the
        threads alternate between them.
  AMQP  one ``AmqpRequester.request_many``: every request published (with publisher
        confirms), the replies collected as they come; both workers consume the same queues.

of three kinds of message:

  ChargingRequest   ``--requests`` of them: a fresh EV at its home station, so a new session,
                    classified, rated, confirmed, placed in the plan (under its feeder's
                    plan lock; the registry gives each transformer a feeder of its own and
                    consecutive requests other feeders, so placements run in parallel
                    across workers), scheduled, its slot
                    allotment put in the outbox; 32 SQL statements. The use case's main
                    inbound load. No portal host is configured: the allotments stay in the
                    outbox (as in tests/integration/test_serve_config.py), and the outbox
                    worker, woken by every such commit, reads the oldest 200 pending rows again.
  MeterReadings     twice as many: a register read of a meter no session waits on,
                    validated, journaled and stored; 5 SQL statements, no plan lock.
  raw               five times as many, the reference of this run: the same SOAP clients
                    against waitress with evgrid's options and an app answering a fixed
                    reply; the same requester against the ESB binding with a router
                    echoing a fixed reply (same broker, quorum queue, confirms). One and
                    two servers; they show what the clients and the broker can carry here.

Every reply must be OK: failures are counted, the first ten printed, and the exit status is 1.
Phases (one worker, two) alternate 1 2 2 1 1 2 ... over ``--rounds``; the second worker is
started or stopped between them, and the station leases settle before anything is timed.
Rates are the best round's. CPU ms per request (``/proc``; the workers or the raw servers,
every PostgreSQL backend, RabbitMQ, this process) are over all rounds, and ``cores/total``
is the rate the machine's cores would allow at that cost. The last lines say how much CPU
other processes took during the batches (the machine is shared).

What limits scaling here, honestly: 2 cores shared by both workers, PostgreSQL, RabbitMQ and
the clients. A ChargingRequest costs about 25-30 ms of worker CPU (about 8 of them the outbox
re-read above) plus 5-8 ms of PostgreSQL and 1 ms of client: about 35 ms, so about 55/s is
all 2 cores can give whatever the number of workers, while one worker, one Python process
(one GIL), takes at most a core: about 30-35/s. 2w/1w cannot exceed about 1.6 here. The raw
references do not scale at all: their one client process (or one requester, one confirm at
a time) is their limit. With a core per worker and the database elsewhere, the plan lock
would be next: measured in-process, a ChargingRequest holds it for about 45% of its time
(the placement, the last transition, the allotment rows, the outbox message and the reply
rendered by xsdata, the journal, the commit), so all workers together could not place much
more than about twice what one single-threaded worker does. The scratch schema runs with
``synchronous_commit=off`` (commits do not wait for the disk); RabbitMQ's quorum queues do.

    python benchmarks/bench_serve.py [--requests 200] [--rounds 3] [--clients 8]
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pika
from serve_workload import (  # benchmarks/serve_workload.py, beside this script
    PASSWORD,
    USER,
    Messages,
    Worker,
    config_toml,
    cpu_snapshot,
    cpu_spent,
    lanes,
    machine_busy,
    night_start,
    registry_csv,
    reply_result,
    soap_envelope,
    start_reference,
    start_worker,
    stop_worker,
    wait_for,
)

from evgrid.adapters.esb.binding import AmqpRequester, Topology
from evgrid.adapters.soap.evos import MAY_SEND
from evgrid.adapters.store.registry import seed as store_seed
from evgrid.adapters.store.testing import scratch_schema
from evgrid.cim.codec import Codec
from evgrid.errors import UpstreamFault
from evgrid.mappings import services

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WARMUP = 30  # messages of each kind and binding through a worker that just started
KINDS = ("raw", "ChargingRequest", "MeterReadings")
BATCH = {"raw": 5, "ChargingRequest": 1, "MeterReadings": 2}  # x --requests: batches of a second or more
CASES = [(binding, kind) for binding in ("SOAP", "AMQP") for kind in KINDS]
PROCESSES = {"postgres": "postgres", "beam.smp": "rabbitmq"}  # command name -> group
ACTIONS = {kind: services.EV_OPERATION_SYSTEM.operation(op).soap_action
           for kind, op in (("ChargingRequest", "CreateChargingRequest"), ("raw", "CreateChargingRequest"),
                            ("MeterReadings", "CreatedMeterReadings"))}


class Run:
    """The run's state: the workers, the raw references, the numbers handed out, what was measured."""

    def __init__(self, args: argparse.Namespace, stack: ExitStack, url: str, folder: Path, stations: int) -> None:
        self.args, self.stack, self.folder, self.stations = args, stack, folder, stations
        self.amqp_url = os.environ.get("EVGRID_AMQP_URL", AMQP_URL)
        self.prefix = f"bench-serve-{secrets.token_hex(4)}"
        self.night = night_start(datetime.now(UTC))
        self.messages = Messages(Codec(), self.night)
        self.next = {"ChargingRequest": 1, "MeterReadings": 1}
        self.config = folder / "evgrid.toml"
        self.config.write_text(config_toml(url, self.night, self.prefix), encoding="utf-8")
        self.environ = {k: v for k, v in os.environ.items() if not k.startswith("EVGRID_")}
        self.environ["EVGRID_AMQP_URL"] = self.amqp_url
        self.workers: list[Worker] = []
        self.targets: dict[tuple[str, int], list[str]] = {}  # the raw references' URLs or prefixes
        self.reference_pids: dict[tuple[str, int], list[int]] = {}
        self.http: dict[tuple[str, int], httpx.Client] = {}  # (base URL, lane): kept alive across batches
        self.requesters: dict[str, AmqpRequester] = {}
        self.rates: dict[tuple[str, str, int], list[float]] = defaultdict(list)
        self.cpu: dict[tuple[str, str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.failures: list[str] = []
        self.others: list[float] = []  # the share of the machine other processes used, per batch
        self.sample: dict[str, bytes] = {}  # a real OK reply of each binding, for the raw references
        stack.callback(self._delete_topologies)  # last: after every consumer stopped
        stack.callback(self._stop_workers)

    def take(self, kind: str, n: int) -> list[bytes]:
        """``n`` fresh messages: a station and EV never used before, or a new meter; raw: any."""
        if kind == "raw":
            return self.messages.charging_requests(range(1, n + 1))
        first = self.next[kind]
        self.next[kind] = first + n
        if kind == "MeterReadings":
            return self.messages.meter_readings(range(first, first + n))
        if first + n - 1 > self.stations:
            raise SystemExit(f"the registry has {self.stations} premises, not {first + n - 1}")
        return self.messages.charging_requests(range(first, first + n))

    # ------------------------------------------------------------ processes
    def start(self, name: str) -> None:
        worker = start_worker(name, self.config, self.environ, self.folder)
        self.workers.append(worker)
        for binding in ("SOAP", "AMQP"):  # imports, caches, connection pools
            for kind in ("ChargingRequest", "MeterReadings"):
                replies = self.send(binding, kind, [worker.base], self.take(kind, WARMUP))
                self.check(f"warm-up {name}", replies)
                self.sample.setdefault(binding, replies[-1][1])

    def start_references(self) -> None:
        """Two trivial HTTP servers and three echo bindings (one alone, two on one prefix)."""
        http = [self._reference("trivial", self.sample["SOAP"]) for _ in range(2)]
        alone, pair = f"{self.prefix}-echo1", f"{self.prefix}-echo2"
        echo = [self._reference("echo", self.amqp_url, prefix, self.sample["AMQP"]) for prefix in (alone, pair, pair)]
        self.targets = {("SOAP", 1): [http[0][1]], ("SOAP", 2): [url for _pid, url in http],
                        ("AMQP", 1): [alone], ("AMQP", 2): [pair]}
        self.reference_pids = {("SOAP", 1): [http[0][0]], ("SOAP", 2): [pid for pid, _url in http],
                               ("AMQP", 1): [echo[0][0]], ("AMQP", 2): [pid for pid, _ready in echo[1:]]}

    def _reference(self, target: str, *args: object) -> tuple[int, str]:
        process, ready = start_reference(target, *args)
        self.stack.callback(process.join, 30)
        self.stack.callback(process.terminate)
        assert process.pid is not None
        return process.pid, ready

    def settle(self) -> None:
        """Wait until the live workers hold every station between them (leases handed over)."""
        def settled() -> bool:
            held = [worker.held() for worker in self.workers]
            return sum(held) == self.stations and all(held)
        wait_for(settled, 90, "the station leases to settle")

    def _stop_workers(self) -> None:
        while self.workers:
            worker = self.workers.pop()
            if (status := stop_worker(worker)) != 0:
                self.failures.append(f"worker {worker.name} exited with {status}: see {worker.log}")

    def _delete_topologies(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            channel = connection.channel()
            Topology(self.prefix, nouns=tuple(sorted({noun for _verb, noun in MAY_SEND}))).delete(channel)
            for suffix in ("-echo1", "-echo2"):
                Topology(self.prefix + suffix, nouns=("ChargingRequest",)).delete(channel)
        finally:
            connection.close()

    # ------------------------------------------------------------ measuring
    def phase(self, workers: int) -> None:
        """Every case once with ``workers`` workers (the second started or stopped first)."""
        if workers == 2 and len(self.workers) == 1:
            self.start("bench-b")
        elif workers == 1 and len(self.workers) == 2:
            worker = self.workers.pop()
            if (status := stop_worker(worker)) != 0:
                self.failures.append(f"worker {worker.name} exited with {status}: see {worker.log}")
        self.settle()
        bases = [worker.base for worker in self.workers]
        for binding, kind in CASES:
            bodies = self.take(kind, self.args.requests * BATCH[kind])
            servers = (self.reference_pids[(binding, workers)] if kind == "raw"
                       else [worker.process.pid for worker in self.workers])
            # The bench's other processes (idle, mostly) count as ours too, not in a column.
            idle = [pid for pids in self.reference_pids.values() for pid in pids] + [w.process.pid for w in self.workers]
            pids = dict.fromkeys(idle, "idle") | dict.fromkeys(servers, "server") | {os.getpid(): "client"}
            targets = self.targets[(binding, workers)] if kind == "raw" else bases
            for lane in range(self.args.clients) if binding == "SOAP" else ():  # connected before the clock starts
                base = targets[lane % len(targets)]
                self.client(base, lane).get(f"{base}/health" if kind != "raw" else base)
            gc.collect()
            gc.disable()  # no collection of this process's heap in the middle of a batch
            before, busy = cpu_snapshot(PROCESSES, pids), machine_busy()
            started = time.perf_counter()
            try:
                replies = self.send(binding, kind, targets, bodies)
            finally:
                elapsed = time.perf_counter() - started
                gc.enable()
            after, busy = cpu_snapshot(PROCESSES, pids), machine_busy() - busy
            self.check(f"{binding} {kind} {workers}w", replies)
            self.rates[(binding, kind, workers)].append(len(bodies) / elapsed)
            spent = self.cpu[(binding, kind, workers)]
            spent["requests"] += len(bodies)
            ours = cpu_spent(before, after)
            for group, seconds in ours.items():
                spent[group] += seconds
            # What else the machine did meanwhile (PostgreSQL and RabbitMQ count as ours, whoever used them).
            self.others.append(max(0.0, busy - sum(ours.values())) / (elapsed * (os.cpu_count() or 1)))

    def send(self, binding: str, kind: str, targets: list[str], bodies: list[bytes]) -> list[tuple[int, bytes]]:
        if binding == "SOAP":
            clients = [self.client(targets[lane % len(targets)], lane) for lane in range(self.args.clients)]
            return soap_batch(clients, [soap_envelope(body) for body in bodies], ACTIONS[kind])
        prefix = targets[0] if kind == "raw" else self.prefix
        if prefix not in self.requesters:
            self.requesters[prefix] = self.stack.enter_context(AmqpRequester(self.amqp_url, prefix=prefix))
        noun = "ChargingRequest" if kind == "raw" else kind
        replies = self.requesters[prefix].request_many([(noun, body) for body in bodies], timeout=60 + len(bodies) / 5)
        return [(200, reply) for reply in replies]

    def client(self, base: str, lane: int) -> httpx.Client:
        """The keep-alive client of ``lane`` to ``base`` (made once: making one costs milliseconds)."""
        if (base, lane) not in self.http:
            self.http[(base, lane)] = self.stack.enter_context(
                httpx.Client(base_url=base, auth=(USER, PASSWORD), timeout=120))
        return self.http[(base, lane)]

    def check(self, case: str, replies: list[tuple[int, bytes]]) -> None:
        for status, reply in replies:
            result, code, reason = reply_result(reply)
            if status != 200 or result != "OK":
                self.failures.append(f"{case}: HTTP {status} {result} {code} {reason}")


def soap_batch(clients: list[httpx.Client], envelopes: list[bytes], action: str) -> list[tuple[int, bytes]]:
    """POST every envelope to ``/EVOperationSystem``, one thread per client at once; statuses and bodies."""
    replies: list[tuple[int, bytes]] = [(0, b"")] * len(envelopes)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    errors: list[BaseException] = []

    def post(http: httpx.Client, work: list[tuple[int, bytes]]) -> None:
        try:
            for index, envelope in work:
                response = http.post("/EVOperationSystem", content=envelope, headers=headers)
                replies[index] = (response.status_code, response.content)
        except httpx.HTTPError as error:
            errors.append(error)

    threads = [threading.Thread(target=post, args=(http, work))
               for http, work in zip(clients, lanes(list(enumerate(envelopes)), len(clients)), strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"a SOAP client failed: {errors[0]!r}")
    return replies


def seed(url: str, folder: Path, stations: int) -> None:
    """Migrate the scratch schema; import ``stations`` premises and the example tariff."""
    # MeterReadings go out twice as often as ChargingRequests, each to a meter of its own.
    (folder / "registry.csv").write_text(registry_csv(stations, meters=2 * stations), encoding="utf-8")
    store_seed(url, folder / "registry.csv", EXAMPLES / "tariff.toml")


def report(run: Run, seconds: float) -> None:
    args, out = run.args, sys.stdout
    best = {case: max(rates) for case, rates in run.rates.items()}
    out.write(f"\n{'binding':<7} {'message':<16} {'1 worker':>9} {'2 workers':>10} {'2w/1w':>6} "
              f"{'x raw 1w':>9} {'x raw 2w':>9}   req/s, best of {args.rounds}\n")
    for binding, kind in CASES:
        one, two = best[(binding, kind, 1)], best[(binding, kind, 2)]
        raw_one, raw_two = best[(binding, "raw", 1)], best[(binding, "raw", 2)]
        out.write(f"{binding:<7} {kind:<16} {one:>9,.0f} {two:>10,.0f} {two / one:>6.2f} "
                  f"{one / raw_one:>9.3f} {two / raw_two:>9.3f}\n")
    cores = os.cpu_count() or 1
    out.write(f"\n{'CPU ms per request (all rounds)':<34} {'server':>8} {'postgres':>9} {'rabbitmq':>9} "
              f"{'client':>7} {'total':>7} {'cores/total':>12}\n")
    for binding, kind in CASES:
        for workers in (1, 2):
            spent = run.cpu[(binding, kind, workers)]
            ms = {label: 1000 * spent[label] / spent["requests"] for label in ("server", "postgres", "rabbitmq", "client")}
            total = sum(ms.values())
            out.write(f"{binding} {kind} {workers}w{'':<{29 - len(binding) - len(kind)}} {ms['server']:>8.2f} "
                      f"{ms['postgres']:>9.2f} {ms['rabbitmq']:>9.2f} {ms['client']:>7.2f} {total:>7.2f} "
                      f"{1000 * cores / total:>8,.0f} r/s\n")
    scaling = ", ".join(f"{binding} {best[(binding, 'ChargingRequest', 2)] / best[(binding, 'ChargingRequest', 1)]:.2f} "
                        f"(raw {best[(binding, 'raw', 2)] / best[(binding, 'raw', 1)]:.2f})" for binding in ("SOAP", "AMQP"))
    out.write(f"\nscaling of ChargingRequest, 2 workers / 1 worker: {scaling}\n")
    spread = max(max(r) / min(r) for r in run.rates.values())
    others = sorted(run.others)
    out.write(f"widest best/worst spread of a case over the rounds: {spread:.2f}; run took {seconds:.0f} s; other "
              f"processes used {others[len(others) // 2]:.0%} of the {cores} cores during the median batch, "
              f"{others[-1]:.0%} at most\n")
    if others[len(others) // 2] > 0.1:
        out.write("NOTE: other work shared the cores during the timed batches: the rates are noisy\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200,
                        help="ChargingRequests a case a round (default 200; MeterReadings twice that, raw 5 times)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each phase (default 3)")
    parser.add_argument("--clients", type=int, default=8, help="SOAP client threads (default 8)")
    args = parser.parse_args()
    began = time.monotonic()
    # Every ChargingRequest of the run needs a station of its own: the warm-ups of the first
    # worker and of each start of the second (a start every other round), then the cases.
    starts = 1 + (args.rounds + 1) // 2
    stations = starts * 2 * WARMUP + args.rounds * 4 * args.requests
    sys.stdout.write(f"evgrid serve on PostgreSQL and RabbitMQ, {stations} premises; a case sends {args.requests} "
                     f"ChargingRequests, {args.requests * BATCH['MeterReadings']} MeterReadings or "
                     f"{args.requests * BATCH['raw']} raw requests, "
                     f"SOAP with {args.clients} client threads; best of {args.rounds} rounds; "
                     f"load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    sys.stdout.flush()
    with (scratch_schema(os.environ.get("EVGRID_DATABASE_URL", DATABASE_URL)) as url,
          tempfile.TemporaryDirectory(prefix="bench-serve-") as folder, ExitStack() as stack):
        seed(url, Path(folder), stations)
        run = Run(args, stack, url, Path(folder), stations)
        try:
            run.start("bench-a")
            run.start_references()
            for round_ in range(args.rounds):
                for workers in ((1, 2) if round_ % 2 == 0 else (2, 1)):
                    run.phase(workers)
                    rates = "  ".join(f"{b} {k} {run.rates[(b, k, workers)][-1]:,.0f}" for b, k in CASES)
                    sys.stderr.write(f"round {round_ + 1}, {workers}w, at {time.monotonic() - began:3.0f} s: {rates}\n")
        except UpstreamFault as error:  # the broker went away (restarted by someone else?)
            raise SystemExit(f"bench_serve: {error.reason}") from error
        stack.close()  # the workers' exit statuses count
        report(run, time.monotonic() - began)
        logged = [line for log in sorted(Path(folder).glob("bench-*.log"))
                  for line in log.read_text(encoding="utf-8", errors="replace").splitlines()]
        busy = [line for line in logged if "waitress.queue: Task queue depth" in line]  # all 8 threads busy
        other = [line for line in logged if line not in busy]
        sys.stdout.write(f"the workers logged {len(busy)} waitress 'Task queue depth' warning(s) and "
                         f"{len(other)} other line(s) at WARNING or above\n")
        for line in other[:5]:
            sys.stdout.write(f"  {line[:200]}\n")
    for failure in run.failures[:10]:
        sys.stdout.write(f"FAILED {failure}\n")
    if run.failures:
        sys.stdout.write(f"{len(run.failures)} failure(s): the figures above do not measure a working system\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
