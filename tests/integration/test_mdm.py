"""The reference MDM as the system of record: spans stored, gaps estimated, read back, over SOAP.

The real composition (``evgrid.apps.services.build``: the SOAP app, HTTP Basic, the
MDM's router and store) served on loopback, reached with :class:`ServiceClient`; each
test runs on an SQLite file and, when ``EVGRID_DATABASE_URL`` is set, on PostgreSQL (a
scratch schema). Bad input is tests/security/test_mdm_vee.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from xsdata.models.datatype import XmlDateTime

from evgrid.adapters.soap.client import ServiceClient
from evgrid.adapters.soap.runner import serve_in_thread
from evgrid.adapters.store.testing import scratch_schema
from evgrid.apps import services
from evgrid.apps.services.mdm import MeterDataManagement
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.generated import get_meter_readings as gmr
from evgrid.cim.generated import meter_readings as mr
from evgrid.cim.generated.message import RequestMessage, RequestType
from evgrid.errors import UpstreamFault
from evgrid.mappings import codes
from evgrid.operations.metering import ESTIMATED, Interval
from tests.integration.test_soap_client import start_sim, stop_sim

USER, PASSWORD = "evos", "evos-secret"
MR = "{" + ns.METER_READINGS + "}"
Q = timedelta(minutes=15)
T0 = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
METER, POINT = "MTR-0042", "UP-0042"
codec = Codec()


# ------------------------------------------------------------------------ messages
def _xml(moment: datetime) -> XmlDateTime:
    return XmlDateTime.from_datetime(moment)


def meter_reading(registers: Sequence[tuple[datetime, int | str]], intervals: Sequence[tuple[datetime, int | str]] = (),
                  *, meter: str | None = METER, usage_point: str | None = POINT,
                  register_type: str = codes.REGISTER_WH,
                  interval_type: str = codes.INTERVAL_15MIN_WH) -> mr.MeterReading:
    """One MeterReading: register reads and one IntervalBlock (values as given: Wh, or text)."""
    return mr.MeterReading(
        meter=mr.Meter(m_rid=meter) if meter else None,
        usage_point=mr.UsagePoint(m_rid=usage_point) if usage_point else None,
        readings=[mr.Reading(time_stamp=_xml(at), value=str(value), reading_type=mr.Reading.ReadingType(ref=register_type))
                  for at, value in registers],
        interval_blocks=[mr.IntervalBlock(
            interval_readings=[mr.IntervalReading(time_stamp=_xml(end), value=str(value)) for end, value in intervals],
            reading_type=mr.IntervalBlock.ReadingType(ref=interval_type))] if intervals else [])


def readings_message(*readings: mr.MeterReading, verb: env.Verb = env.Verb.CREATED,
                     message_id: str | None = None) -> bytes:
    """A created (or changed) MeterReadings event carrying ``readings``."""
    return codec.dump(env.event(verb, "MeterReadings", mr.MeterReadings(meter_reading=list(readings)),
                                source="evos", message_id=message_id))


def span(first: tuple[datetime, int], last: tuple[datetime, int], intervals: Sequence[int] | None = None,
         **options: object) -> mr.MeterReading:
    """A span: two register reads and its intervals (``None``: a gap), ends from the first boundary after ``first``."""
    ends = [first[0].replace(minute=first[0].minute // 15 * 15, second=0, microsecond=0) + Q * (k + 1)
            for k in range(len(intervals or ()))]
    return meter_reading([first, last], list(zip(ends, intervals or (), strict=True)), **options)  # type: ignore[arg-type]


def day(start: datetime = T0, register_wh: int = 1_000_000, per_interval: int = 100) -> mr.MeterReading:
    """A day of one meter: registers at start and end, 96 intervals of ``per_interval`` Wh."""
    return span((start, register_wh), (start + 96 * Q, register_wh + 96 * per_interval), [per_interval] * 96)


def get_message(*, usage_points: Sequence[str] = (POINT,), meters: Sequence[str] = (),
                reading_types: Sequence[str] = (), start: datetime | None = None, end: datetime | None = None) -> bytes:
    """A GetMeterReadings request (noun-specific wrapper), the window in TimeSchedule/scheduleInterval."""
    get = gmr.GetMeterReadings(
        usage_point=[gmr.UsagePoint(m_rid=m) for m in usage_points],
        end_device=[gmr.EndDevice(m_rid=m) for m in meters],
        reading_type=[gmr.ReadingType(m_rid=m) for m in reading_types],
        time_schedule=[gmr.TimeSchedule(schedule_interval=gmr.DateTimeInterval(
            start=_xml(start) if start else None, end=_xml(end) if end else None))] if start or end else [])
    return codec.dump(RequestMessage(header=env.header(env.Verb.GET, "MeterReadings", source="evos"),
                                     request=RequestType(other_element=[get])))


@dataclass(frozen=True, slots=True)
class Read:
    """One reading of a get reply."""

    meter: str
    usage_point: str
    kind: str  # register or interval
    at: datetime
    value: str
    reading_type: str
    quality: str | None


def reads_in(reply: bytes) -> list[Read]:
    """Every reading of a get reply, in the order of the reply."""
    root = codec.decode(reply).root  # schema-valid, or this raises
    found = []
    for reading in root.iter(MR + "MeterReading"):
        meter, point = reading.findtext(f"{MR}Meter/{MR}mRID"), reading.findtext(f"{MR}UsagePoint/{MR}mRID")
        for register in reading.iterchildren(MR + "Readings"):
            found.append(Read(meter, point, "register", datetime.fromisoformat(register.findtext(MR + "timeStamp")),
                              register.findtext(MR + "value"), register.find(MR + "ReadingType").get("ref"), None))
        for block in reading.iterchildren(MR + "IntervalBlocks"):
            ref = block.find(MR + "ReadingType").get("ref")
            for interval in block.iterchildren(MR + "IntervalReadings"):
                quality = interval.find(f"{MR}ReadingQualities/{MR}ReadingQualityType")
                found.append(Read(meter, point, "interval", datetime.fromisoformat(interval.findtext(MR + "timeStamp")),
                                  interval.findtext(MR + "value"), ref, None if quality is None else quality.get("ref")))
    return found


# ------------------------------------------------------------------------ the service
@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An SQLite file, or a scratch schema of the PostgreSQL at EVGRID_DATABASE_URL (skipped without it)."""
    if request.param == "sqlite":
        yield str(tmp_path / "mdm.db")
        return
    with scratch_schema(request.getfixturevalue("database_url")) as url:
        yield url


@dataclass(frozen=True, slots=True)
class Mdm:
    """The served MDM: the service (to count what it stores) and a client of it."""

    service: MeterDataManagement
    client: ServiceClient

    def send(self, message: bytes) -> bytes:
        return self.client.send(message)

    def counts(self) -> tuple[int, int, int]:
        """(register reads, intervals, estimated intervals) stored."""
        return self.service.register_count(), self.service.interval_count(), self.service.estimated_count()


@pytest.fixture
def mdm(database: str) -> Iterator[Mdm]:
    """``evgrid sim mdm``'s composition on ``database``, served on loopback."""
    service = services.build(services.ServiceSettings("mdm", 0, ((USER, PASSWORD),), database=database))
    assert isinstance(service.service, MeterDataManagement)
    try:
        with serve_in_thread(service.app) as url, \
                ServiceClient("MeterDataManagement", url, credentials=(USER, PASSWORD), timeout_s=30.0) as client:
            yield Mdm(service.service, client)
    finally:
        service.close()


# ------------------------------------------------------------------------ tests
def test_a_day_of_one_meter_is_stored_and_read_back(mdm: Mdm) -> None:
    reply = mdm.send(readings_message(day()))
    assert codec.decode(reply).result == "OK"
    assert mdm.counts() == (2, 96, 0)
    assert mdm.service.count() == 98

    reads = reads_in(mdm.send(get_message()))
    registers = [r for r in reads if r.kind == "register"]
    intervals = [r for r in reads if r.kind == "interval"]
    assert [(r.at, r.value) for r in registers] == [(T0, "1000000"), (T0 + 96 * Q, "1009600")]
    assert [r.at for r in intervals] == [T0 + Q * (k + 1) for k in range(96)]
    assert {(r.value, r.reading_type, r.quality, r.meter, r.usage_point) for r in intervals} == {
        ("100", codes.INTERVAL_15MIN_WH, None, METER, POINT)}
    assert mdm.service.intervals(POINT, T0, T0 + Q) == [Interval(T0 + Q, 100)]


def test_the_window_is_inclusive_on_the_readings_timestamp(mdm: Mdm) -> None:
    mdm.send(readings_message(day()))
    reads = reads_in(mdm.send(get_message(start=T0, end=T0 + 2 * Q)))
    # Both ends inclusive: the register at T0, the intervals ending T0+15 and T0+30 (an
    # interval is stamped with its end: the one ending at T0 belongs to the day before).
    assert [(r.kind, r.at) for r in reads] == [("register", T0), ("interval", T0 + Q), ("interval", T0 + 2 * Q)]
    only_intervals = reads_in(mdm.send(get_message(meters=(METER,), usage_points=(),
                                                   reading_types=(codes.INTERVAL_15MIN_WH,),
                                                   start=T0 + 95 * Q, end=T0 + 200 * Q)))
    assert [(r.kind, r.at) for r in only_intervals] == [("interval", T0 + 95 * Q), ("interval", T0 + 96 * Q)]
    assert reads_in(mdm.send(get_message(usage_points=("UP-NOBODY",)))) == []


def test_a_gap_is_estimated_flagged_and_replaced_by_the_actual_intervals(mdm: Mdm) -> None:
    start = (T0 + timedelta(minutes=3), 5_000)  # a session's start, off the boundary
    mdm.send(readings_message(meter_reading([start])))
    assert mdm.counts() == (1, 0, 0)
    # The portal could not read at 22:15 and 22:30: one span 22:03 -> 22:41, no intervals.
    end = (T0 + timedelta(minutes=41), 5_000 + 1_900)
    mdm.send(readings_message(span(start, end)))
    assert mdm.counts() == (2, 3, 3)

    reads = [r for r in reads_in(mdm.send(get_message())) if r.kind == "interval"]
    assert [r.at for r in reads] == [T0 + Q, T0 + 2 * Q, T0 + 3 * Q]
    assert {r.quality for r in reads} == {ESTIMATED}
    # 1,900 Wh over 38 minutes, by overlap: 12, 15 and 11 minutes; the rest to the earliest.
    assert [int(r.value) for r in reads] == [600, 750, 550]
    assert mdm.service.intervals(POINT) == [Interval(T0 + Q, 600, True), Interval(T0 + 2 * Q, 750, True),
                                            Interval(T0 + 3 * Q, 550, True)]

    # The meter data comes in after all (same span, its actual intervals): they replace the estimates.
    mdm.send(readings_message(span(start, end, [500, 800, 600])))
    assert mdm.counts() == (2, 3, 0)
    reads = [r for r in reads_in(mdm.send(get_message())) if r.kind == "interval"]
    assert [(r.value, r.quality) for r in reads] == [("500", None), ("800", None), ("600", None)]


def test_an_actual_is_never_replaced_by_an_estimate(mdm: Mdm) -> None:
    first, last = (T0, 0), (T0 + 2 * Q, 300)
    mdm.send(readings_message(span(first, last, [100, 200])))
    mdm.send(readings_message(span(first, last)))  # the same span again, as a gap
    assert mdm.service.intervals(POINT) == [Interval(T0 + Q, 100), Interval(T0 + 2 * Q, 200)]


def test_two_sessions_share_the_interval_between_them(mdm: Mdm) -> None:
    # Session A ends at 22:07, session B starts at 22:10: both touch the interval ending 22:15.
    mdm.send(readings_message(span((T0 - Q, 0), (T0 + timedelta(minutes=7), 400), [250, 150])))
    mdm.send(readings_message(meter_reading([(T0 + timedelta(minutes=10), 400)])))
    b = span((T0 + timedelta(minutes=10), 400), (T0 + 2 * Q, 700), [100, 200])
    mdm.send(readings_message(b))
    assert mdm.service.intervals(POINT) == [Interval(T0, 250), Interval(T0 + Q, 250), Interval(T0 + 2 * Q, 200)]
    mdm.send(readings_message(b))  # the same span again (a new MessageID): nothing added twice
    assert mdm.service.intervals(POINT) == [Interval(T0, 250), Interval(T0 + Q, 250), Interval(T0 + 2 * Q, 200)]


def test_a_meter_reading_without_its_usage_point_is_the_known_meters(mdm: Mdm) -> None:
    mdm.send(readings_message(day()))
    mdm.send(readings_message(span((T0 + 96 * Q, 1_009_600), (T0 + 97 * Q, 1_009_700), [100], usage_point=None)))
    assert mdm.service.intervals(POINT, T0 + 97 * Q, T0 + 97 * Q) == [Interval(T0 + 97 * Q, 100)]
    assert mdm.counts() == (3, 97, 0)


def test_reads_inside_a_stored_span_agree_with_its_intervals_or_are_refused(mdm: Mdm) -> None:
    mdm.send(readings_message(span((T0, 0), (T0 + 4 * Q, 1_000), [100, 200, 300, 400])))
    # New register reads inside the stored span: its intervals are there, and must agree.
    assert codec.decode(mdm.send(readings_message(span((T0 + Q, 100), (T0 + 3 * Q, 600), [200, 300])))).result == "OK"
    assert codec.decode(mdm.send(readings_message(span((T0 + 3 * Q, 600), (T0 + 4 * Q, 1_000), [400])))).result == "OK"
    with pytest.raises(UpstreamFault) as refused:  # 350 Wh at T0+30min fits the registers, not the interval stored
        mdm.send(readings_message(span((T0 + Q, 100), (T0 + 2 * Q, 350), [250])))
    assert refused.value.code == "2.6" and (T0 + 2 * Q).isoformat() in refused.value.reason
    assert "200 Wh" in refused.value.reason
    assert mdm.counts() == (4, 4, 0)


def test_a_replayed_message_id_gets_the_same_reply_and_is_stored_once(mdm: Mdm) -> None:
    message = readings_message(day(), message_id="MDM-REPLAY-1")
    first = mdm.send(message)
    assert mdm.send(message) == first
    assert mdm.counts() == (2, 96, 0)
    assert mdm.service.message_count() == 1
    # The same readings under a new MessageID: an idempotent replay, accepted, stored once.
    assert codec.decode(mdm.send(readings_message(day()))).result == "OK"
    assert mdm.counts() == (2, 96, 0)


def test_changed_readings_replace_the_stored_values(mdm: Mdm) -> None:
    first, last = (T0, 10_000), (T0 + 2 * Q, 10_300)
    mdm.send(readings_message(span(first, last, [100, 200])))
    corrected = span(first, (T0 + 2 * Q, 10_350), [120, 230])
    mdm.send(readings_message(corrected, verb=env.Verb.CHANGED))
    reads = reads_in(mdm.send(get_message()))
    assert [(r.kind, r.value) for r in reads] == [("register", "10000"), ("register", "10350"),
                                                  ("interval", "120"), ("interval", "230")]
    assert mdm.counts() == (2, 2, 0)


def test_kwh_with_decimals_are_stored_as_wh_and_read_back_as_sent(mdm: Mdm) -> None:
    reading = span((T0, "18234.56"), (T0 + 2 * Q, "18235.06"), ["0.2", "0.3"],  # type: ignore[arg-type]
                   register_type=codes.REGISTER_KWH, interval_type=codes.INTERVAL_15MIN_KWH)
    mdm.send(readings_message(reading))
    assert mdm.service.intervals(POINT) == [Interval(T0 + Q, 200), Interval(T0 + 2 * Q, 300)]
    reads = reads_in(mdm.send(get_message()))
    assert [(r.kind, r.value, r.reading_type) for r in reads] == [
        ("register", "18234.56", codes.REGISTER_KWH), ("register", "18235.06", codes.REGISTER_KWH),
        ("interval", "0.2", codes.INTERVAL_15MIN_KWH), ("interval", "0.3", codes.INTERVAL_15MIN_KWH)]


def test_evgrid_sim_mdm_keeps_its_readings_in_the_database_it_is_given(database: str) -> None:
    process, url = start_sim("mdm", "--port", "0", "--credentials", f"{USER}:{PASSWORD}", "--database", database)
    try:
        with ServiceClient("MeterDataManagement", url.rsplit("/", 1)[0], credentials=(USER, PASSWORD)) as client:
            client.send(readings_message(day()))
    finally:
        assert stop_sim(process) in (0, 143, -15)
    stored = MeterDataManagement(database)
    try:
        assert (stored.register_count(), stored.interval_count()) == (2, 96)
    finally:
        stored.close()


def test_concurrent_messages_about_one_meter_are_applied_one_after_the_other(mdm: Mdm) -> None:
    # Eight days of one meter at once, and one of them twice under the same MessageID: the
    # service's threads validate each against what the others committed.
    days = [readings_message(day(T0 + timedelta(days=k), 1_000_000 + k * 9_600), message_id=f"DAY-{k}")
            for k in range(8)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(mdm.send, [*days, days[3]]))
    assert all(codec.decode(reply).result == "OK" for reply in replies)
    assert replies[3] == replies[8]  # the same MessageID: the same reply, applied once
    assert mdm.counts() == (9, 8 * 96, 0)
    assert mdm.service.message_count() == 8


def test_the_get_reply_is_the_meter_readings_the_generated_classes_write(mdm: Mdm) -> None:
    start, end = (T0 + timedelta(minutes=3), 5_000), (T0 + timedelta(minutes=41), 6_900)
    mdm.send(readings_message(meter_reading([start])))
    mdm.send(readings_message(span(start, end)))
    payload = codec.decode(mdm.send(get_message())).payload  # schema-valid, or this raises
    assert payload is not None

    def estimated(at: datetime, wh: int) -> mr.IntervalReading:
        return mr.IntervalReading(time_stamp=_xml(at), value=str(wh), reading_qualities=[
            mr.ReadingQuality(reading_quality_type=mr.ReadingQuality.ReadingQualityType(ref=ESTIMATED))])

    expected = mr.MeterReadings(meter_reading=[mr.MeterReading(
        meter=mr.Meter(m_rid=METER), usage_point=mr.UsagePoint(m_rid=POINT),
        readings=[mr.Reading(time_stamp=_xml(at), value=str(wh), reading_type=mr.Reading.ReadingType(
            ref=codes.REGISTER_WH)) for at, wh in (start, end)],
        interval_blocks=[mr.IntervalBlock(
            interval_readings=[estimated(T0 + Q, 600), estimated(T0 + 2 * Q, 750), estimated(T0 + 3 * Q, 550)],
            reading_type=mr.IntervalBlock.ReadingType(ref=codes.INTERVAL_15MIN_WH))])])

    def canonical(element: etree._Element) -> bytes:
        return etree.tostring(element, method="c14n", exclusive=True)

    assert canonical(payload) == canonical(codec.to_element(expected))
