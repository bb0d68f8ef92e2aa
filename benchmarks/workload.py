"""What the codec and SOAP benchmarks share: the sample message and the rate loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from xsdata.models.datatype import XmlDateTime

from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.cim.generated import meter_readings as mr
from evgrid.mappings import codes

START = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)


def meter_readings_event(codec: Codec, intervals: int, message_id: str | None = None) -> bytes:
    """A created MeterReadings: a span of ``intervals`` fifteen-minute readings between two registers.

    The intervals (kWh with decimals) add up to the register delta, as the interval rules
    of every receiver want (:mod:`evgrid.operations.metering`).
    """
    def at(minutes: int) -> XmlDateTime:
        return XmlDateTime.from_datetime(START + timedelta(minutes=minutes))

    end_wh = 5466115
    opening_wh = end_wh - sum(1800 + 10 * i for i in range(intervals))
    payload = mr.MeterReadings(meter_reading=[mr.MeterReading(
        meter=mr.Meter(m_rid="MTR-000123"), usage_point=mr.UsagePoint(m_rid="UP-000123"),
        readings=[mr.Reading(time_stamp=at(minutes), value=str(wh), reading_type=mr.Reading.ReadingType(
            ref=codes.REGISTER_WH)) for minutes, wh in ((0, opening_wh), (15 * intervals, end_wh))],
        interval_blocks=[mr.IntervalBlock(
            interval_readings=[mr.IntervalReading(time_stamp=at(15 * (i + 1)), value=f"{1.8 + i / 100:.3f}")
                               for i in range(intervals)],
            reading_type=mr.IntervalBlock.ReadingType(ref=codes.INTERVAL_15MIN_KWH))],
    )])
    return codec.dump(env.event(env.Verb.CREATED, "MeterReadings", payload, source="portal-P000123",
                                message_id=message_id))


def rate(work: Callable[[], object], seconds: float, batch: int = 100) -> float:
    """Calls of ``work`` per second over about ``seconds`` (``batch`` calls between clock reads)."""
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(batch):
            work()
        count += batch
    return count / elapsed
