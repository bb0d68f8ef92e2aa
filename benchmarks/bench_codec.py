"""Inbound codec throughput on one ~3 KB IEC 61968-9 MeterReadings event.

Prints messages/s, best of several rounds, for:
  raw lxml   etree.fromstring + XMLSchema.validate (the same schema set evgrid uses)
  hot path   evgrid: size/DTD/depth guards + parse + validate + header + route
  full path  hot path + payload bound to typed domain readings (direct tree mapping)
  xsdata     hot path + xsdata's generic parser binding the whole message (for comparison)
and each one's ratio to raw lxml. Targets: hot >= 0.7 x raw, full >= 0.25 x raw.

    python benchmarks/bench_codec.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from lxml import etree
from workload import meter_readings_event, rate  # benchmarks/workload.py, beside this script

from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.generated import message
from evgrid.mappings.meter_readings import readings_from_cim
from evgrid.messaging.router import Outcome, Route, Router

ROUNDS = 5
SECONDS_PER_ROUND = 0.6


def best_rate(work: Callable[[], object]) -> float:
    """Best messages/s over ROUNDS rounds of about SECONDS_PER_ROUND each."""
    return max(rate(work, SECONDS_PER_ROUND) for _ in range(ROUNDS))


def main() -> int:
    codec = Codec()
    data = meter_readings_event(codec, intervals=16)
    route = Route(payload=ns.qname(ns.METER_READINGS, "MeterReadings"), bind=readings_from_cim,
                  handle=lambda command, header, uow: Outcome())
    router = Router({(env.Verb.CREATED, "MeterReadings"): route}, codec=codec)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    schema = codec._state.schema  # the same compiled schema set, for a like-for-like baseline

    def raw() -> object:
        return schema.validate(etree.fromstring(data, parser))

    def hot() -> object:
        inbound = codec.decode(data)
        return router.routes[(inbound.header.verb, inbound.header.noun)]

    def full() -> object:
        return router.route(codec.decode(data))[1]

    def xsdata() -> object:
        return codec.bind(codec.decode(data).root, message.EventMessage)

    readings = full()
    assert len(readings.intervals[0].readings) == 16 and readings.registers[-1].energy_wh == 5466115

    results = {"raw lxml": best_rate(raw), "hot path": best_rate(hot), "full path": best_rate(full),
               "xsdata bind": best_rate(xsdata)}
    baseline = results["raw lxml"]
    sys.stdout.write(f"MeterReadings event of {len(data)} bytes, best of {ROUNDS} rounds\n")
    sys.stdout.write(f"{'path':<12} {'msg/s':>10} {'x raw':>7}\n")
    for name, value in results.items():
        sys.stdout.write(f"{name:<12} {value:>10,.0f} {value / baseline:>7.2f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
