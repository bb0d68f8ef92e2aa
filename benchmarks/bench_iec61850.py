"""IEC 61850 field layer throughput, one run, one IED process on loopback.

Prints:
  raw binding        single-attribute reads/s with pyiec61850's IedConnection_readObject,
                     called directly from this thread (no adapter, no value decoding)
  adapter on I/O     the same reads through IedClient.read, made on the client's I/O
                     thread (inside IedClient.run): how the portal's report callbacks
                     and jobs read, one inline call per read, no thread hand-off
  adapter cross-thr  the same reads through IedClient.read called from this thread:
                     every read is a round trip to the I/O thread and back
  adapter batched    the same reads from this thread, 10 per hand-off (IedClient.read_many)
  ratios             each adapter figure / raw (target >= 0.8 for reads through the
                     adapter on its I/O thread; the cross-thread ratio is the price of
                     one thread hand-off per read)
  data-set poll      values/s reading the Energy data set of every meter of a 100-station
                     gateway IED through IedClient.read_dataset
  model build        time to parse evse.icd and build the libiec61850 model (and for the
                     200 logical devices of the 100-station gateway)

The IED runs in its own process (``python -m evgrid ied serve``): the binding must not
serve and read in one process. Reads are timed in many short rounds that alternate
raw / adapter (and rotate the adapter's three ways), so all see the same server state
and the same load from elsewhere; the best and the median round of each are printed,
and the ratios of both.

    python benchmarks/bench_iec61850.py
"""

from __future__ import annotations

import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import pyiec61850.pyiec61850 as iec

from evgrid.adapters.iec61850 import model, scl
from evgrid.adapters.iec61850.client import IedClient
from evgrid.mappings import iec61850_refs as refs
from evgrid.sim.devices.ied import plan_ied

ROOT = Path(__file__).resolve().parent.parent
EVSE_ICD = ROOT / "evgrid" / "schemas" / "scl" / "evse.icd"
ROUNDS = 20
SECONDS_PER_ROUND = 0.1
POLL_SECONDS = 0.5  # one poll of the gateway takes about 0.1 s
GATEWAY_STATIONS = 100
BATCH = 10


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_ied(*args: str) -> subprocess.Popen[str]:
    """Start an IED subprocess and wait for its ready line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "evgrid", "ied", "serve", "--log-level", "WARNING", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(30) or not process.stdout.readline().startswith("ready "):
            process.kill()
            raise SystemExit("IED did not start")
    return process


def stop_ied(process: subprocess.Popen[str]) -> None:
    """SIGTERM and wait."""
    process.send_signal(signal.SIGTERM)
    process.wait(10)
    if process.stdout is not None:
        process.stdout.close()


def rate(operation: Callable[[], int], seconds: float = SECONDS_PER_ROUND) -> float:
    """Operations per second of ``operation`` (returns how many it did) in one round."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        done += operation()
    return done / (time.perf_counter() - start)


@dataclass
class Reads:
    """Reads/s of each way of reading, one sample per round."""

    raw: list[float] = field(default_factory=list)
    on_io_thread: list[float] = field(default_factory=list)
    cross_thread: list[float] = field(default_factory=list)
    batched: list[float] = field(default_factory=list)


def bench_reads(port: int) -> Reads:
    """Reads/s of the raw binding and of the adapter's three ways against one IED.

    Only one connection is open at a time: with two IedConnections in one process,
    libiec61850 1.6 answers every request of either after 10-20 ms (measured here:
    16,000 -> 50-100 reads/s), which would measure the library, not the adapter.
    Many short rounds in rotating order: load from elsewhere on the machine comes in
    bursts of seconds, and a fixed order would hand one variant all the quiet moments.
    """
    ref = refs.METER_TOTWH.at(refs.meter_ld(1, ied=refs.STATION_IED))
    reads = Reads()

    def measure_raw() -> None:
        raw = _raw_connection(port, ref)

        def raw_read() -> int:
            value, error = iec.IedConnection_readObject(raw, ref, iec.IEC61850_FC_ST)
            if error != iec.IED_ERROR_OK:
                raise SystemExit(f"raw read failed: {iec.IedClientError_toString(error)}")
            iec.MmsValue_delete(value)
            return 1

        reads.raw.append(rate(raw_read))
        iec.IedConnection_close(raw)
        iec.IedConnection_destroy(raw)

    def measure_adapter(turn: int) -> None:
        with IedClient("127.0.0.1", port) as client:

            def adapter_read() -> int:
                client.read(ref, "ST")
                return 1

            batch = [(ref, "ST")] * BATCH

            def adapter_batch() -> int:
                return len(client.read_many(batch))

            ways: list[tuple[list[float], Callable[[], float]]] = [
                # The same function timed on the I/O thread: each client.read runs inline.
                (reads.on_io_thread, lambda: client.run(lambda: rate(adapter_read), timeout_s=5.0)),
                (reads.cross_thread, lambda: rate(adapter_read)),
                (reads.batched, lambda: rate(adapter_batch)),
            ]
            for samples, measure in ways[turn % 3 :] + ways[: turn % 3]:
                samples.append(measure())

    for turn in range(ROUNDS):
        if turn % 2:
            measure_adapter(turn)
            measure_raw()
        else:
            measure_raw()
            measure_adapter(turn)
    return reads


def _raw_connection(port: int, ref: str) -> object:
    # libiec61850 1.6 now and then hands out an association that answers nothing
    # (every request: "connection lost"); the adapter probes for it, so do we.
    for _ in range(5):
        raw = iec.IedConnection_create()
        if iec.IedConnection_connect(raw, "127.0.0.1", port)[1] == iec.IED_ERROR_OK:
            value, error = iec.IedConnection_readObject(raw, ref, iec.IEC61850_FC_ST)
            iec.MmsValue_delete(value)
            if error == iec.IED_ERROR_OK:
                return raw
        iec.IedConnection_destroy(raw)
    raise SystemExit("no usable raw connection")


def bench_dataset_poll(port: int) -> float:
    """Best values/s polling the Energy data set of all gateway meters."""
    datasets = [
        f"{refs.meter_ld(n, ied=refs.STATION_IED)}/{refs.DS_ENERGY}" for n in range(1, GATEWAY_STATIONS + 1)
    ]
    best = 0.0
    with IedClient("127.0.0.1", port, timeout_s=5.0) as client:
        for dataset in datasets:  # fetch the directories once (cached by the client)
            client.read_dataset(dataset)

        def poll() -> int:
            return sum(len(client.read_dataset(dataset)) for dataset in datasets)

        for _ in range(3):
            best = max(best, rate(poll, seconds=POLL_SECONDS))
    return best


def bench_build() -> tuple[float, float]:
    """Milliseconds to build the evse.icd model, and the 100-station gateway model."""
    rounds = 20
    start = time.perf_counter()
    for _ in range(rounds):
        document = scl.load(EVSE_ICD)
        ied = document.ied()
        model.build(ied.name, model.plans_for(ied, document.templates)).destroy()
    single = (time.perf_counter() - start) / rounds * 1000
    start = time.perf_counter()
    plan = plan_ied(EVSE_ICD, stations=GATEWAY_STATIONS)
    model.build(plan.ied_name, plan.devices).destroy()
    gateway = (time.perf_counter() - start) * 1000
    return single, gateway


def _line(label: str, samples: list[float], what: str) -> None:
    print(f"{label:18s} {max(samples):10,.0f} best {median(samples):10,.0f} median  ({what})")


def _ratio(label: str, adapter: list[float], raw: list[float], note: str) -> None:
    best, middle = max(adapter) / max(raw), median(adapter) / median(raw)
    print(f"{label:18s} {best:10.2f} x    {middle:10.2f} x       {f'({note})' if note else ''}".rstrip())


def main() -> None:
    """Run every benchmark and print one line each."""
    port = free_port()
    ied = start_ied("--scl", str(EVSE_ICD), "--port", str(port), "--stations", str(GATEWAY_STATIONS))
    try:
        reads = bench_reads(port)
        values = bench_dataset_poll(port)
    finally:
        stop_ied(ied)
    single_ms, gateway_ms = bench_build()
    raw = reads.raw
    print(f"reads/s, best and median of {ROUNDS} rounds of {SECONDS_PER_ROUND} s:")
    _line("raw binding", raw, "IedConnection_readObject from this thread, one attribute")
    _line("adapter on I/O", reads.on_io_thread, "IedClient.read on its I/O thread, inside IedClient.run")
    _line("adapter cross-thr", reads.cross_thread, "IedClient.read from this thread: one hand-off per read")
    _line("adapter batched", reads.batched, f"IedClient.read_many from this thread, {BATCH} per hand-off")
    _ratio("ratio on I/O", reads.on_io_thread, raw, "target >= 0.8")
    _ratio("ratio cross-thread", reads.cross_thread, raw, "one thread round trip per read")
    _ratio("ratio batched", reads.batched, raw, "")
    print(
        f"data-set poll      {values:10,.0f} values/s "
        f"(Energy data set of {GATEWAY_STATIONS} gateway meters)"
    )
    print(
        f"model build        {single_ms:10.1f} ms       (evse.icd); "
        f"{gateway_ms:.0f} ms for the {GATEWAY_STATIONS}-station gateway"
    )


if __name__ == "__main__":
    main()
