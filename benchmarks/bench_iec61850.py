"""IEC 61850 field layer throughput, one run, one IED process on loopback.

Prints:
  raw binding     single-attribute reads/s with pyiec61850's IedConnection_readObject,
                  called directly from this thread (no adapter)
  evgrid adapter  the same reads through IedClient.read (hand-off to its I/O thread)
  ratio           adapter / raw (target >= 0.8)
  adapter batched the same reads, 10 per hand-off (IedClient.read_many)
  data-set poll   values/s reading the Energy data set of every meter of a 100-station
                  gateway IED through IedClient.read_dataset
  model build     time to parse evse.icd and build the libiec61850 model (and for the
                  200 logical devices of the 100-station gateway)

The IED runs in its own process (``python -m evgrid ied serve``): the binding must not
serve and read in one process. Rounds alternate raw / adapter so both see the same
server state; the best round of each is printed.

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
from pathlib import Path

import pyiec61850.pyiec61850 as iec

from evgrid.adapters.iec61850 import model, scl
from evgrid.adapters.iec61850.client import IedClient
from evgrid.mappings import iec61850_refs as refs
from evgrid.sim.ied import plan_ied

ROOT = Path(__file__).resolve().parent.parent
EVSE_ICD = ROOT / "evgrid" / "schemas" / "scl" / "evse.icd"
ROUNDS = 5
SECONDS_PER_ROUND = 0.5
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


def rate(operation: Callable[[], int]) -> float:
    """Operations per second of ``operation`` (returns how many it did) in one round."""
    done = 0
    start = time.perf_counter()
    deadline = start + SECONDS_PER_ROUND
    while time.perf_counter() < deadline:
        done += operation()
    return done / (time.perf_counter() - start)


def bench_reads(port: int) -> tuple[float, float, float]:
    """Best reads/s of the raw binding and of the adapter against one IED.

    Only one connection is open at a time: with two IedConnections in one process,
    libiec61850 1.6 answers every request of either after 10-20 ms (measured here:
    16,000 -> 50-100 reads/s), which would measure the library, not the adapter.
    """
    ref = refs.METER_TOTWH.at(refs.meter_ld(1, ied=refs.STATION_IED))
    raw_best = adapter_best = batched_best = 0.0
    for _ in range(ROUNDS):
        raw = _raw_connection(port, ref)

        def raw_read(raw: object = raw) -> int:
            value, error = iec.IedConnection_readObject(raw, ref, iec.IEC61850_FC_ST)
            if error != iec.IED_ERROR_OK:
                raise SystemExit(f"raw read failed: {iec.IedClientError_toString(error)}")
            iec.MmsValue_delete(value)
            return 1

        raw_best = max(raw_best, rate(raw_read))
        iec.IedConnection_close(raw)
        iec.IedConnection_destroy(raw)
        with IedClient("127.0.0.1", port) as client:

            def adapter_read() -> int:
                client.read(ref, "ST")
                return 1

            adapter_best = max(adapter_best, rate(adapter_read))
            batch = [(ref, "ST")] * BATCH

            def adapter_batch(batch: list[tuple[str, str]] = batch) -> int:
                return len(client.read_many(batch))

            batched_best = max(batched_best, rate(adapter_batch))
    return raw_best, adapter_best, batched_best


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
            best = max(best, rate(poll))
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


def main() -> None:
    """Run every benchmark and print one line each."""
    port = free_port()
    ied = start_ied("--scl", str(EVSE_ICD), "--port", str(port), "--stations", str(GATEWAY_STATIONS))
    try:
        raw, adapter, batched = bench_reads(port)
        values = bench_dataset_poll(port)
    finally:
        stop_ied(ied)
    single_ms, gateway_ms = bench_build()
    print(f"raw binding     {raw:10,.0f} reads/s  (IedConnection_readObject, one attribute)")
    print(f"evgrid adapter  {adapter:10,.0f} reads/s  (IedClient.read via its I/O thread)")
    print(f"ratio           {adapter / raw:10.2f} x      (target >= 0.8)")
    print(f"adapter batched {batched:10,.0f} reads/s  (IedClient.read_many, {BATCH} reads per hand-off)")
    print(f"data-set poll   {values:10,.0f} values/s (Energy data set of {GATEWAY_STATIONS} gateway meters)")
    print(
        f"model build     {single_ms:10.1f} ms       (evse.icd); {gateway_ms:.0f} ms for the {GATEWAY_STATIONS}-station gateway"
    )


if __name__ == "__main__":
    main()
