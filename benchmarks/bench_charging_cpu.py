"""CPU per ChargingRequest through the operation system's router, in process, on SQLite or PostgreSQL.

Each round seeds a fresh SQLite file (or, with ``--database``, a fresh schema of that
PostgreSQL database, the operation system then a scale-out worker as ``evgrid serve``
runs there) with ``--requests`` premises (station S-n, its owner's
EV EV-n, as ``bench_serve.py``'s registry) and hands the router one ChargingRequest per
premise (``Router.handle``: decode, validate, bind, classify, rate, place, schedule, the
TimeSlotAllotment to the outbox, the reply, the journal, the commit). Every reply must be
OK. No SOAP, no network, no other process: what the worker itself spends per request.

Two ways of writing the outbound XML, alternated round by round (``--modes``):

  written  what evgrid does: the reply and the outbox messages written directly
           (:mod:`evgrid.mappings.writers`), the same bytes as the codec's.
  xsdata   the same messages built as generated classes and serialized by the codec
           (xsdata), as before the direct writers.

Prints CPU ms per request for each round, then each mode's best and median, and how much
of a request writing the XML took: the writers' calls, or the mappings' to generated
classes and ``Codec.dump``'s (timed around every call; the timing itself adds a little).

    python benchmarks/bench_charging_cpu.py [--requests 300] [--rounds 6] [--modes written,xsdata]
                                            [--database postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

from serve_workload import Messages, night_start, registry_csv, reply_result  # benchmarks/, beside this script

import evgrid.adapters.store.uow as uow_module
from evgrid.adapters.store.registry import seed
from evgrid.adapters.store.testing import scratch_schema
from evgrid.apps.evos.system import operation_system
from evgrid.cim.codec import Codec
from evgrid.mappings import ev_charging as mapping
from evgrid.mappings import outbound, writers
from evgrid.messaging import routes
from evgrid.messaging.router import Router
from evgrid.scheduler.partitions import RollingHorizon

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MODES = ("written", "xsdata")


WRITERS = ("reply", "message", "charging_reply_payload", "allotment", "switch", "third_party", "consumption", "bill",
           "acknowledgment", "readings")
MAPPINGS = ("confirmation_to_cim", "charging_type_to_cim", "applicable_rate_to_cim", "allotment_to_cim",
            "switch_to_cim", "third_party_to_cim", "consumption_to_cim", "bill_to_cim", "acknowledgment_to_cim")


class Timer:
    """CPU seconds spent inside the functions it wraps; a call inside another is counted once."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.depth = 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.depth += 1
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.depth -= 1
                if not self.depth:
                    self.seconds += time.process_time() - start
        return timed


@contextmanager
def patched(patches: list[tuple[object, str, object]]) -> Iterator[None]:
    """Set each (owner, attribute, value) for the block, and back afterwards."""
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    try:
        for owner, name, value in patches:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def mode(name: str, router: Router, timer: Timer) -> contextlib.AbstractContextManager[None]:
    """Have ``router`` and the outbox write XML with the writers (``written``) or the codec (``xsdata``).

    ``timer`` times the writing: the writers, or the mappings to generated classes and ``Codec.dump``.
    """
    route = router.routes[routes.CHARGING_REQUEST]
    patches: list[tuple[object, str, object]] = [(owner, attribute, timer.wrap(getattr(owner, attribute)))
                                                 for owner, names in ((writers, WRITERS), (mapping, MAPPINGS))
                                                 for attribute in names]
    patches += [(Codec, "dump", timer.wrap(Codec.dump)), (outbound, "readings_to_cim",
                                                          timer.wrap(outbound.readings_to_cim))]
    if name == "xsdata":
        def render(*args: Any, **kwargs: Any) -> outbound.OutboundMessage:
            return outbound.render(*args, written=False, **kwargs)
        patches += [(uow_module, "render", render)]
        router.routes[routes.CHARGING_REQUEST] = replace(route, handle=routes.request_charging_cim)
    else:
        router.routes[routes.CHARGING_REQUEST] = route
    return patched(patches)


def one_round(count: int, name: str, folder: Path, index: int, database: str | None) -> tuple[float, float]:
    """CPU seconds per request of one round, and of it in Codec.dump and the writers."""
    with scratch_schema(database) if database else contextlib.nullcontext(f"sqlite:///{folder / f'round-{index}.db'}") as url:
        return _timed(url, count, name, folder / f"registry-{index}.csv", worker_id="bench" if database else None)


def _timed(url: str, count: int, name: str, registry: Path, worker_id: str | None) -> tuple[float, float]:
    registry.write_text(registry_csv(count), encoding="utf-8")
    seed(url, registry, EXAMPLES / "tariff.toml")
    night = night_start(datetime.now(UTC))
    system = operation_system(url, horizon=RollingHorizon(night), worker_id=worker_id)
    try:
        codec = system.router.codec
        messages = Messages(codec, night).charging_requests(range(1, count + 1))
        router: Router = system.router
        router.handle(messages[0])  # the first one pays for the imports and caches: not timed
        timer = Timer()
        route = router.routes[routes.CHARGING_REQUEST]
        try:
            with mode(name, router, timer):
                start = time.process_time()
                replies = [router.handle(message) for message in messages[1:]]
                spent = time.process_time() - start
        finally:
            router.routes[routes.CHARGING_REQUEST] = route
        failed = [reply_result(reply) for reply in replies if reply_result(reply)[0] != "OK"]
        if failed:
            raise SystemExit(f"{len(failed)} replies not OK, e.g. {failed[:3]}")
        return spent / len(replies), timer.seconds / len(replies)
    finally:
        system.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--database", help="a PostgreSQL URL: each round in a scratch schema of it (default: SQLite)")
    args = parser.parse_args()
    names = [name for name in args.modes.split(",") if name]
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as folder:
        for index in range(args.rounds):
            name = names[index % len(names)]
            per_request, serializing = one_round(args.requests, name, Path(folder), index, args.database)
            results[name].append((per_request, serializing))
            print(f"round {index + 1} {name:8s} {per_request * 1e3:7.3f} ms/request, "
                  f"of it writing XML {serializing * 1e3:6.3f} ms", flush=True)
    for name, rounds in results.items():
        if not rounds:
            continue
        totals, writing = [r[0] * 1e3 for r in rounds], [r[1] * 1e3 for r in rounds]
        print(f"{name:8s} best {min(totals):.3f}  median {statistics.median(totals):.3f} ms/request; "
              f"writing XML median {statistics.median(writing):.3f} ms ({len(rounds)} rounds)")


if __name__ == "__main__":
    main()
