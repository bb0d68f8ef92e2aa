"""A utility's evening on PostgreSQL: a million-meter registry, its ChargingRequests placed by 1, 2 and 4 workers.

1. Registry: ``--meters`` premises (``utility_workload.write_grid``: 8-12 homes a
   transformer, feeders of about 1,500 homes rated below the sum of their transformers,
   about 40 % of the premises with an EV and a home station, a residential base-load
   profile per transformer) written as the CSV files of ``evgrid registry import`` and
   ``evgrid baseload import``, and imported with those very commands (subprocesses, each
   timed) into a scratch schema of ``$EVGRID_DATABASE_URL`` (dropped at the end), after
   ``evgrid db upgrade`` and ``evgrid tariff import examples/tariff.toml``.
2. In process, no HTTP: for 1, 2 and 4 workers, that many spawned processes each build
   ``operation_system(url, ..., worker_id=...)`` (a scale-out worker on PostgreSQL: the
   shared plan log and its lock) in :func:`build_system`, hand a few untimed requests to
   their router to warm up, wait at a barrier, then hand ``--requests`` / workers prebuilt
   ChargingRequests, one after another, to ``system.router.handle``. Each request is an EV
   never seen before plugging in at its home station, on a premise drawn at random among
   all EVs (so over every feeder), at an evening time drawn as ``western_night`` draws them.
   Every reply must be OK.
3. Per worker count: requests/s (all requests / from the barrier to the last reply),
   latency of ``router.handle`` per request (p50, p99), CPU per request (the worker's
   thread CPU inside ``handle``; PostgreSQL's backends' CPU from ``/proc``), peak RSS per
   worker (``ru_maxrss``), and the plan lock (see :func:`instrument_plan_lock`): how long a
   request waited to get it, how long it held it, and how long it spent applying the
   other workers' placements from the plan log. Also ``handle``'s wall time minus its
   CPU time: the time a request was off the CPU (database round trips, lock waits, and
   being descheduled on a busy machine), measured without touching the code.
4. The evening peak of a 1-million-meter utility (the assumption is printed) against what
   1, 2 and 4 workers carried, and the targets.
5. Unless ``--no-amqp``: ``evgrid serve --config`` workers (the ESB binding, as
   bench_serve.py starts them) on the same schema, ``--amqp-requests`` ChargingRequests
   sent with one ``AmqpRequester.request_many``, with 1 and then 2 workers.

This machine has 2 cores, shared by the workers, PostgreSQL, RabbitMQ and whatever else
runs: throughput with 2 and 4 workers here is bounded by the cores, not by the code. CPU
per request and the plan-lock figures are what carry over to a bigger machine.

    python benchmarks/bench_utility.py [--meters 100000] [--requests 2000] [--workers 1,2,4]
    python benchmarks/bench_utility.py --meters 1000000
    python benchmarks/bench_utility.py --quick       # 20,000 meters, 200 requests, 1 and 2 workers, no AMQP
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

import serve_workload
from serve_workload import (  # benchmarks/, beside this script
    config_toml,
    cpu_snapshot,
    cpu_spent,
    machine_busy,
    reply_result,
    start_worker,
    stop_worker,
    wait_for,
)
from utility_workload import PEAK_QUARTER_SHARE, Evening, Grid, pick, write_grid

from evgrid.adapters.store.testing import scratch_schema

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CLOCK_LEAD = timedelta(hours=2)  # the workers' clock starts this long before the night (15:00 local)
WARMUP = 20  # untimed requests per worker before the barrier
WARM_CATCH_UP = 0.005  # s: a request that spent less in the plan's catch-up found its partition open
# The evening peak of the target utility (printed with the results).
UTILITY_METERS = 1_000_000
PLUG_IN_SHARE = 0.6  # of the EVs, the share plugging in on a weekday evening
PEAK_WORKERS, RSS_LIMIT_MB, SCALING_TARGET = 4, 2048, 1.8


def build_system(url: str, night: datetime, worker_id: str) -> Any:
    """The operation system of one scale-out worker, its rolling horizon anchored at the night's start.

    Its clock runs at real speed from CLOCK_LEAD before the night (the requests' plug-in
    times are ahead of it, nothing is due during the run).
    """
    from evgrid.apps.evos.system import operation_system
    from evgrid.clock import AcceleratedClock
    from evgrid.scheduler.partitions import RollingHorizon

    clock = AcceleratedClock(1.0, night - CLOCK_LEAD)
    return operation_system(url, horizon=RollingHorizon(night), worker_id=worker_id, clock=clock)


def evening_start(now: datetime) -> datetime:
    """16:00 UTC (17:00 in the tariff's Europe/Amsterdam) two days after ``now``: the evening played."""
    return datetime.combine(now.date() + timedelta(days=2), datetime.min.time(), UTC) + timedelta(hours=16)


# ------------------------------------------------------------ the plan lock, measured from outside
class LockProbe:
    """Per unit of work that took a plan lock: seconds waiting for it, holding it, catching up.

    The plan lock is taken in ``evgrid.adapters.store.plan_log.SharedPlan`` by
    ``_hold(partition, ...)`` (one per feeder partition), which takes the worker's
    in-process lock, then ``SELECT ... FOR UPDATE`` of the partition's row (which blocks
    while another worker's transaction holds it), then applies the plan log's entries the
    other workers wrote since (``_catch_up``; also the first opening of a partition in
    this worker, its sessions read from the store). wait = time in ``_hold`` minus time
    in ``_catch_up``: the lock waits plus that SELECT's round trip (the 1-worker figure is
    the round trip alone, and any in-process wait). held = from ``_hold``'s return to
    ``discard`` (called as the unit of work ends, after its commit):
    the time no other worker could place on that lock.
    """

    def __init__(self) -> None:
        self.wait: list[float] = []
        self.held: list[float] = []
        self.catch_up: list[float] = []
        self.got: dict[int, float] = {}

    def reset(self) -> None:
        self.wait.clear()
        self.held.clear()
        self.catch_up.clear()


def instrument_plan_lock() -> tuple[LockProbe | None, str]:
    """Wrap the plan lock's taking and release; (None, why) when the code has no such methods."""
    from evgrid.adapters.store import plan_log

    shared = getattr(plan_log, "SharedPlan", None)
    if shared is None or not all(hasattr(shared, n) for n in ("_hold", "_catch_up", "discard")):
        return None, "plan_log.SharedPlan has no _hold, _catch_up, discard: lock not instrumented"
    probe = LockProbe()
    take, catch_up, discard = shared._hold, shared._catch_up, shared.discard
    inside: list[float] = [0.0]

    def held_already(plan: Any, args: tuple[Any, ...]) -> bool:
        return args[0].key in plan._held

    @wraps(take)
    def timed_take(self: Any, *args: Any, **kwargs: Any) -> Any:
        if held_already(self, args):
            return take(self, *args, **kwargs)
        inside[0] = 0.0
        started = time.perf_counter()
        result = take(self, *args, **kwargs)
        got = time.perf_counter()
        probe.wait.append(got - started - inside[0])
        probe.catch_up.append(inside[0])
        probe.got.setdefault(id(self), got)
        return result

    @wraps(catch_up)
    def timed_catch_up(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return catch_up(self, *args, **kwargs)
        finally:
            inside[0] += time.perf_counter() - started

    @wraps(discard)
    def timed_discard(self: Any, *args: Any, **kwargs: Any) -> Any:
        got = probe.got.pop(id(self), None)
        if got is not None:
            probe.held.append(time.perf_counter() - got)
        return discard(self, *args, **kwargs)

    shared._hold = timed_take
    shared._catch_up, shared.discard = timed_catch_up, timed_discard
    return probe, "wrapped plan_log.SharedPlan._hold/_catch_up/discard"


# ------------------------------------------------------------ one worker process
def worker(url: str, night: datetime, worker_id: str, numbers: list[tuple[int, int]], warmup: int,
           barrier: Any, results: Any, done: Any) -> None:
    """One spawned worker: build, warm up, wait at the barrier, place ``numbers[warmup:]``; results to the queue.

    Its connections stay open until ``done`` is set: the parent reads the PostgreSQL
    backends' CPU first (a backend that has exited is not counted).
    """
    logging.basicConfig(level=logging.WARNING)
    try:
        probe, how = instrument_plan_lock()
        began = time.perf_counter()
        system = build_system(url, night, worker_id)
        built = time.perf_counter() - began
        rss_built = _rss_mb()
        evening = Evening(system.router.codec, night, seed=hash(worker_id) & 0xFFFF)
        messages = [evening.request(n, battery) for n, battery in numbers]
        handle: Callable[[bytes], bytes] = system.router.handle
        failures = [r for r in (reply_result(handle(m)) for m in messages[:warmup]) if r[0] != "OK"]
        if probe is not None:
            probe.reset()
        timed = messages[warmup:]
        latency, cpu, replies = [0.0] * len(timed), [0.0] * len(timed), [b""] * len(timed)
        catch_up = [0.0] * len(timed)  # per request: time in _catch_up (opening a partition, adopting)
        caught = probe.catch_up if probe is not None else []
        barrier.wait(timeout=600)
        started, process_cpu = time.perf_counter(), time.process_time()
        for index, message in enumerate(timed):
            k0 = len(caught)
            t0, c0 = time.perf_counter(), time.thread_time()
            replies[index] = handle(message)
            cpu[index] = time.thread_time() - c0
            latency[index] = time.perf_counter() - t0
            catch_up[index] = sum(caught[k0:])
        ended, process_cpu = time.perf_counter(), time.process_time() - process_cpu
        failures += [r for r in map(reply_result, replies) if r[0] != "OK"]
        results.put({"worker": worker_id, "started": started, "ended": ended, "latency": latency, "cpu": cpu,
                     "catch_up": catch_up,
                     "process_cpu": process_cpu, "built": built, "rss_built": rss_built,
                     "rss_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                     "lock": None if probe is None else {"wait": probe.wait, "held": probe.held,
                                                         "catch_up": probe.catch_up},
                     "lock_how": how, "failures": [" ".join(map(str, f)) for f in failures[:5]],
                     "failed": len(failures), "pid": os.getpid()})
        done.wait(600)
        system.close()
    except BaseException as error:  # the parent must hear of it, not wait at the barrier for ever
        barrier.abort()
        results.put({"worker": worker_id, "error": f"{type(error).__name__}: {error}"})
        raise


def _peak_rss_mb(pid: int) -> float:
    """VmHWM (peak RSS) of process ``pid``, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ------------------------------------------------------------ the parent
def run_workers(url: str, night: datetime, count: int, numbers: list[tuple[int, int]], warmup: int) -> dict[str, Any]:
    """Run ``count`` worker processes over ``numbers`` (dealt round-robin); their results and the run's."""
    context = multiprocessing.get_context("spawn")
    barrier, results, done = context.Barrier(count + 1), context.Queue(), context.Event()
    shares = [numbers[i::count] for i in range(count)]
    processes = [context.Process(target=worker, args=(url, night, f"bench-{count}w-{i}", shares[i], warmup, barrier,
                                                      results, done), daemon=True) for i in range(count)]
    for process in processes:
        process.start()
    pids = {process.pid: "worker" for process in processes if process.pid is not None}
    with contextlib.suppress(threading.BrokenBarrierError):  # a worker failed before the barrier (it aborted it)
        barrier.wait(timeout=900)
    before, busy = cpu_snapshot({"postgres": "postgres"}, pids), machine_busy()
    got = [results.get(timeout=1800) for _ in processes]
    after, busy = cpu_snapshot({"postgres": "postgres"}, pids), machine_busy() - busy
    done.set()
    for process in processes:
        process.join(60)
    errors = [f"{r['worker']}: {r['error']}" for r in got if "error" in r]
    if errors:
        raise SystemExit("a worker failed: " + "; ".join(errors))
    spent = cpu_spent(before, after)
    return {"workers": sorted(got, key=lambda r: r["worker"]), "postgres_cpu": spent.get("postgres", 0.0),
            "machine_busy": busy}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def summarise(count: int, run: dict[str, Any]) -> dict[str, Any]:
    workers = run["workers"]
    latency = [x for w in workers for x in w["latency"]]
    cpu = [x for w in workers for x in w["cpu"]]
    requests = len(latency)
    elapsed = max(w["ended"] for w in workers) - min(w["started"] for w in workers)
    locks = [w["lock"] for w in workers if w["lock"] is not None]
    wait = [x for lock in locks for x in lock["wait"]]
    held = [x for lock in locks for x in lock["held"]]
    catch_up = [x for lock in locks for x in lock["catch_up"]]
    off_cpu = [a - b for a, b in zip(latency, cpu, strict=True)]
    # "warm": requests that spent under WARM_CATCH_UP in _catch_up (their partition was open, little to adopt)
    per_request = [x for w in workers for x in w["catch_up"]]
    warm = [i for i, x in enumerate(per_request) if x < WARM_CATCH_UP] if locks else []
    return {
        "workers": count, "requests": requests, "elapsed": elapsed, "rate": requests / elapsed,
        "p50": percentile(latency, 0.5), "p99": percentile(latency, 0.99), "max": max(latency),
        "cpu": statistics.fmean(cpu), "process_cpu": sum(w["process_cpu"] for w in workers) / requests,
        "postgres": run["postgres_cpu"] / requests, "off_cpu": statistics.fmean(off_cpu),
        "others": max(0.0, run["machine_busy"] - run["postgres_cpu"] - sum(w["process_cpu"] for w in workers))
        / (elapsed * (os.cpu_count() or 1)),
        "rss_peak": max(w["rss_peak"] for w in workers), "rss_built": max(w["rss_built"] for w in workers),
        "built": max(w["built"] for w in workers),
        "lock": bool(locks), "lock_how": workers[0]["lock_how"],
        "wait_mean": statistics.fmean(wait) if wait else float("nan"), "wait_p50": percentile(wait, 0.5),
        "wait_p99": percentile(wait, 0.99), "held_mean": statistics.fmean(held) if held else float("nan"),
        "held_sum": sum(held), "catch_up_mean": statistics.fmean(catch_up) if catch_up else float("nan"),
        "warm": len(warm), "warm_p50": percentile([latency[i] for i in warm], 0.5),
        "warm_p99": percentile([latency[i] for i in warm], 0.99),
        "warm_cpu": statistics.fmean([cpu[i] for i in warm]) if warm else float("nan"),
        "failed": sum(w["failed"] for w in workers),
        "failures": [f for w in workers for f in w["failures"]][:5],
    }


def import_registry(url: str, folder: Path, meters: int) -> tuple[Grid, dict[str, float], dict[str, str]]:
    """Write the CSV files and import them with the project's commands; the grid, each step's seconds, its output."""
    registry, base_load = folder / "registry.csv", folder / "baseload.csv"
    began = time.perf_counter()
    grid = write_grid(meters, registry, base_load)
    seconds = {"generate the CSV files": time.perf_counter() - began}
    output: dict[str, str] = {}
    evgrid = [sys.executable, "-m", "evgrid"]
    for label, command in (("evgrid db upgrade", [*evgrid, "db", "upgrade"]),
                           ("evgrid tariff import", [*evgrid, "tariff", "import", str(EXAMPLES / "tariff.toml")]),
                           ("evgrid registry import", [*evgrid, "registry", "import", str(registry)]),
                           ("evgrid baseload import", [*evgrid, "baseload", "import", str(base_load)])):
        began = time.perf_counter()
        done = subprocess.run([*command, "--database-url", url], capture_output=True, text=True, check=False)
        seconds[label] = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(f"{label} failed ({done.returncode}): {done.stderr[-2000:]}")
        output[label] = done.stdout.strip()
    sizes = {"registry": registry.stat().st_size, "baseload": base_load.stat().st_size}
    output["sizes"] = f"registry.csv {sizes['registry'] / 1e6:.0f} MB, baseload.csv {sizes['baseload'] / 1e6:.0f} MB"
    registry.unlink()
    base_load.unlink()
    return grid, seconds, output


def peak_rate(ev_share: float) -> dict[str, float]:
    """The evening peak of a utility of UTILITY_METERS meters (requests/s), design case and every EV."""
    evs = UTILITY_METERS * ev_share
    design = evs * PLUG_IN_SHARE * PEAK_QUARTER_SHARE / 900
    return {"evs": evs, "design": design, "all": evs * PEAK_QUARTER_SHARE / 900}


def report(out: Any, grid: Grid, results: list[dict[str, Any]]) -> None:
    out.write(f"\n{'workers':>7} {'requests':>8} {'req/s':>7} {'x 1w':>5} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
              f"{'CPU ms':>7} {'pg ms':>6} {'off-CPU':>8} {'RSS MB':>7} {'start s':>7} {'others':>6}\n")
    one = results[0]["rate"] if results and results[0]["workers"] == 1 else None
    for r in results:
        scale = f"{r['rate'] / one:5.2f}" if one else "    -"
        out.write(f"{r['workers']:>7} {r['requests']:>8,} {r['rate']:>7.1f} {scale} {r['p50'] * 1e3:>7.1f} "
                  f"{r['p99'] * 1e3:>7.1f} {r['max'] * 1e3:>7.0f} {r['cpu'] * 1e3:>7.2f} {r['postgres'] * 1e3:>6.2f} "
                  f"{r['off_cpu'] * 1e3:>8.2f} {r['rss_peak']:>7.0f} {r['built']:>7.1f} {r['others']:>6.0%}\n")
    out.write("  req/s: all workers' timed requests / barrier to last reply; p50/p99/max: wall time in "
              "router.handle per request;\n  CPU ms: the worker's thread CPU in handle per request (mean); pg ms: "
              "CPU of every PostgreSQL process per request;\n  off-CPU: wall minus CPU in handle (mean): round trips, "
              "waits, descheduling; RSS MB: peak RSS of the largest worker (ru_maxrss);\n  start s: building "
              "operation_system (migrations check, registry read, planner) in the slowest worker;\n  others: the share of the "
              "machine's cores that processes other than the workers and PostgreSQL used during the run\n")
    if any(r["lock"] for r in results):
        out.write(f"\nplan lock ({results[0]['lock_how']}), per request, ms:\n")
        out.write(f"{'workers':>7} {'wait mean':>10} {'wait p50':>9} {'wait p99':>9} {'held mean':>10} "
                  f"{'catch-up':>9} {'wait/handle':>12} {'held x req/s':>13}\n")
        for r in results:
            mean_latency = r["elapsed"] * r["workers"] / r["requests"]
            out.write(f"{r['workers']:>7} {r['wait_mean'] * 1e3:>10.2f} {r['wait_p50'] * 1e3:>9.2f} "
                      f"{r['wait_p99'] * 1e3:>9.2f} {r['held_mean'] * 1e3:>10.2f} {r['catch_up_mean'] * 1e3:>9.2f} "
                      f"{r['wait_mean'] / mean_latency:>12.1%} {r['held_sum'] / r['elapsed']:>13.1%}\n")
        out.write("  wait: in _hold outside _catch_up (lock waits + one SELECT FOR UPDATE round trip; "
                  "the 1-worker row is the round trip alone);\n  held: lock taken to the unit of work's end (after "
                  "its commit); catch-up: opening the partition (its first request in a worker), applying the\n  "
                  "others' placements; held x req/s: the share of the run during which some worker held a lock "
                  "(at 100 % with one lock, placement is serial)\n")
        out.write(f"requests whose catch-up took under {WARM_CATCH_UP * 1e3:.0f} ms (their feeder's partition open "
                  "in that worker already, little to adopt):\n")
        for r in results:
            out.write(f"  {r['workers']}w: {r['warm']:,} of {r['requests']:,}; p50 {r['warm_p50'] * 1e3:.1f} ms, p99 "
                      f"{r['warm_p99'] * 1e3:.1f} ms, CPU {r['warm_cpu'] * 1e3:.2f} ms per request\n")
    else:
        out.write(f"\nplan lock: {results[0]['lock_how'] if results else 'no run'}\n")
    for r in results:
        if r["failed"]:
            out.write(f"FAILED {r['workers']}w: {r['failed']} replies not OK, e.g. {r['failures']}\n")
    # The evening peak.
    ev_share = len(grid.ev_feeder) / grid.premises
    peak = peak_rate(ev_share)
    out.write(f"\nevening peak of a {UTILITY_METERS:,}-meter utility: {peak['evs']:,.0f} EVs ({ev_share:.1%} of the "
              f"premises, as this registry), {PLUG_IN_SHARE:.0%} of them plugging in on a weekday evening = "
              f"{peak['evs'] * PLUG_IN_SHARE:,.0f} ChargingRequests,\n  arriving 17:00-21:00 local as western_night "
              f"draws them (triangular, mode 18:30): the busiest 15 minutes hold {PEAK_QUARTER_SHARE:.1%} of them = "
              f"{peak['evs'] * PLUG_IN_SHARE * PEAK_QUARTER_SHARE:,.0f} in 900 s = {peak['design']:.1f} requests/s; "
              f"if every EV plugged in: {peak['all']:.1f}/s\n")
    for r in results:
        out.write(f"  {r['workers']} worker(s): {r['rate']:.1f}/s = {r['rate'] / peak['design']:.0%} of the design "
                  f"peak, {r['rate'] / peak['all']:.0%} of every-EV peak; CPU (worker + PostgreSQL) per request "
                  f"{(r['cpu'] + r['postgres']) * 1e3:.1f} ms -> one core each for worker and database would carry "
                  f"{1 / r['cpu']:.0f}/s per worker\n")
    out.write(f"\ntargets: 2 workers >= {SCALING_TARGET} x one over spread feeders; the peak served by at most "
              f"{PEAK_WORKERS} workers, each under {RSS_LIMIT_MB / 1024:.0f} GB RSS\n")
    by = {r["workers"]: r for r in results}
    if 1 in by and 2 in by:
        ratio = by[2]["rate"] / by[1]["rate"]
        out.write(f"  2w/1w = {ratio:.2f}: {'met' if ratio >= SCALING_TARGET else 'MISSED'} (on {os.cpu_count()} "
                  "cores shared with PostgreSQL: see the CPU columns)\n")
    served = [r for r in results if r["workers"] <= PEAK_WORKERS and r["rate"] >= peak["design"]]
    fewest = min(served, key=lambda r: r["workers"]) if served else None
    out.write(f"  design peak {peak['design']:.1f}/s: " + (f"served by {fewest['workers']} worker(s) ({fewest['rate']:.1f}/s)"
                                                            if fewest else "NOT served by the workers measured") + "\n")
    rss = max(r["rss_peak"] for r in results)
    out.write(f"  RSS per worker: at most {rss:,.0f} MB: {'met' if rss < RSS_LIMIT_MB else 'MISSED'}\n")


# ------------------------------------------------------------ over AMQP
def serve_config(url: str, night: datetime, prefix: str) -> str:
    """``serve_workload.config_toml`` with the clock of :func:`build_system` (and ``[planning]`` if renamed)."""
    from evgrid.settings import SECTIONS

    text = config_toml(url, night, prefix)
    start = night.strftime("%Y-%m-%dT%H:%M:%SZ")
    if "night" not in SECTIONS and "[night]" in text:
        text = text.replace(f"[night]\nstart = {start}\nslots = 64\n", f"[planning]\nstart = {start}\n")
    return text + f"[clock]\nspeed = 1.0\nstart = {(night - CLOCK_LEAD).strftime('%Y-%m-%dT%H:%M:%SZ')}\n"


def amqp_phase(out: Any, url: str, night: datetime, folder: Path, numbers: list[tuple[int, int]], per_case: int) -> None:
    """``evgrid serve`` workers with the ESB binding: ``per_case`` ChargingRequests with 1 worker, then 2."""
    import pika

    from evgrid.adapters.esb.binding import AmqpRequester, Topology
    from evgrid.adapters.soap.evos import MAY_SEND
    from evgrid.cim.codec import Codec

    serve_workload.START_TIMEOUT_S = 900  # a worker reads a million-meter registry and claims its station leases
    amqp_url = os.environ.get("EVGRID_AMQP_URL", AMQP_URL)
    prefix = f"bench-utility-{secrets.token_hex(4)}"
    config = folder / "evgrid.toml"
    config.write_text(serve_config(url, night, prefix), encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EVGRID_")} | {"EVGRID_AMQP_URL": amqp_url}
    evening = Evening(Codec(), night, seed=99)
    queue = iter(numbers)
    workers = []
    stack = ExitStack()
    try:
        for count in (1, 2):
            began = time.perf_counter()
            workers.append(start_worker(f"bench-amqp-{count}", config, environ, folder))
            started = time.perf_counter() - began
            settle = time.perf_counter()
            held = [0]

            def settled(count: int = count, held: list[int] = held) -> bool:
                held[0] = sum(w.held() for w in workers)
                return len(workers) == count and all(w.held() for w in workers)
            wait_for(settled, 600, "the station leases to settle")
            settle = time.perf_counter() - settle
            # A requester of its own, opened now: one left idle while the leases settle misses its heartbeats.
            requester = stack.enter_context(AmqpRequester(amqp_url, prefix=prefix))
            warm = [("ChargingRequest", evening.request(*next(queue))) for _ in range(WARMUP * count)]
            requester.request_many(warm, timeout=300)
            bodies = [("ChargingRequest", evening.request(*next(queue))) for _ in range(per_case)]
            before = cpu_snapshot({"postgres": "postgres", "beam.smp": "rabbitmq"},
                                  {w.process.pid: "worker" for w in workers})
            t0 = time.perf_counter()
            replies = requester.request_many(bodies, timeout=120 + per_case)
            elapsed = time.perf_counter() - t0
            spent = cpu_spent(before, cpu_snapshot({"postgres": "postgres", "beam.smp": "rabbitmq"},
                                                   {w.process.pid: "worker" for w in workers}))
            bad = [reply_result(r) for r in replies if reply_result(r)[0] != "OK"]
            peak = max(_peak_rss_mb(w.process.pid) for w in workers)
            out.write(f"AMQP {count} worker(s): {per_case:,} ChargingRequests in {elapsed:.1f} s = "
                      f"{per_case / elapsed:.1f}/s; CPU per request: workers "
                      f"{spent.get('worker', 0) / per_case * 1e3:.1f} ms, PostgreSQL "
                      f"{spent.get('postgres', 0) / per_case * 1e3:.1f}, RabbitMQ "
                      f"{spent.get('rabbitmq', 0) / per_case * 1e3:.1f}; not OK: {len(bad)}"
                      f"{f' e.g. {bad[:2]}' if bad else ''}; the worker started in {started:.0f} s, leases "
                      f"({held[0]:,} stations) settled in {settle:.0f} s; peak RSS of a worker {peak:,.0f} MB\n")
            out.flush()
    finally:
        stack.close()
        while workers:
            w = workers.pop()
            if (status := stop_worker(w)) != 0:
                out.write(f"worker {w.name} exited with {status}: {w.log.read_text()[-1500:]}\n")
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            Topology(prefix, nouns=tuple(sorted({noun for _verb, noun in MAY_SEND}))).delete(connection.channel())
        finally:
            connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=100_000, help="premises in the registry (default 100,000)")
    parser.add_argument("--requests", type=int, default=2000, help="timed ChargingRequests per worker count")
    parser.add_argument("--workers", help="worker counts, in order (default 1,2,4; with --quick 1,2; 0: none, "
                        "only the AMQP runs)")
    parser.add_argument("--amqp-requests", type=int, default=2000, help="ChargingRequests per AMQP case")
    parser.add_argument("--no-amqp", action="store_true", help="skip the evgrid serve runs over AMQP")
    parser.add_argument("--quick", action="store_true", help="20,000 meters, 200 requests, 1 and 2 workers, no AMQP")
    args = parser.parse_args()
    if args.quick:
        args.meters, args.requests, args.no_amqp = min(args.meters, 20_000), 200, True
        args.workers = args.workers or "1,2"
    counts = [int(c) for c in (args.workers or "1,2,4").split(",") if c and int(c) > 0]
    out = sys.stdout
    free = shutil.disk_usage(tempfile.gettempdir()).free
    need = args.meters * 400  # the two CSV files: about 150 + 250 bytes per premise
    if free < 2 * need:
        raise SystemExit(f"only {free / 1e9:.1f} GB free in {tempfile.gettempdir()}, {need / 1e9:.1f} GB wanted")
    runs = (f"{args.requests:,} timed ChargingRequests per worker count {counts}, {WARMUP} untimed per worker first"
            if counts else "no in-process runs")
    out.write(f"bench_utility {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {args.meters:,} meters, {runs}; "
              f"{os.cpu_count()} cores shared by the workers, PostgreSQL, RabbitMQ and anything else running "
              f"(load average at start {os.getloadavg()[0]:.2f})\n")
    out.flush()
    began = time.monotonic()
    with (scratch_schema(os.environ.get("EVGRID_DATABASE_URL", DATABASE_URL)) as url,
          tempfile.TemporaryDirectory(prefix="bench-utility-") as folder):
        grid, seconds, output = import_registry(url, Path(folder), args.meters)
        ratio = statistics.fmean(r / t for r, t in zip(grid.feeder_rating_kw, grid.feeder_transformers_kw, strict=True))
        out.write(f"registry: {grid.premises:,} premises, {len(grid.ev_feeder):,} with an EV, {grid.transformers:,} "
                  f"transformers, {grid.feeders:,} feeders (rated {ratio:.2f} x the sum of their transformers on "
                  f"average); {output['sizes']}\n")
        for label, spent in seconds.items():
            out.write(f"  {label:<24} {spent:7.1f} s\n")
        out.write("  " + output["evgrid registry import"].replace("\n", "\n  ") + "\n")
        out.write("  " + output["evgrid baseload import"] + "\n")
        out.flush()
        night = evening_start(datetime.now(UTC))
        need_evs = sum(args.requests + WARMUP * c for c in counts) + (0 if args.no_amqp else 2 * args.amqp_requests + 3 * WARMUP)
        chosen = pick(grid, need_evs)
        feeders = {grid.ev_feeder[n] for n, _battery in chosen}
        out.write(f"night from {night:%Y-%m-%d %H:%M} UTC (17:00 local); operation_system(horizon=RollingHorizon("
                  f"night): a plan lock per feeder partition); clock from "
                  f"{night - CLOCK_LEAD:%H:%M} UTC at real speed; requests on {len(feeders)} of {grid.feeders} feeders\n")
        out.flush()
        results = []
        offset = 0
        for count in counts:
            share = chosen[offset:offset + args.requests + WARMUP * count]
            offset += len(share)
            # Dealt round-robin: each worker gets requests / count + WARMUP, the first WARMUP its warm-up.
            run = run_workers(url, night, count, share, WARMUP)
            summary = summarise(count, run)
            results.append(summary)
            out.write(f"  {count} worker(s): {summary['rate']:.1f} requests/s, p50 {summary['p50'] * 1e3:.1f} ms, "
                      f"p99 {summary['p99'] * 1e3:.1f} ms, at {time.monotonic() - began:.0f} s\n")
            out.flush()
        if results:
            report(out, grid, results)
        if not args.no_amqp:
            out.write("\nover AMQP (evgrid serve --config workers, the ESB binding, one AmqpRequester.request_many):\n")
            out.flush()
            amqp_phase(out, url, night, Path(folder), chosen[offset:], args.amqp_requests)
    out.write(f"\nrun took {time.monotonic() - began:.0f} s; scratch schema dropped\n")
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
