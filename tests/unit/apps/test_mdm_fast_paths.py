"""The MDM's short cuts give what the plain code gives.

- :func:`evgrid.adapters.store.mdm._sqlite_text`: a whole minute from two look-ups, the rest
  (and any other time zone) by ``isoformat``; always SQLAlchemy's SQLite DATETIME text.
- :func:`evgrid.apps.services.mdm.readings.meter_readings_in`: an IntervalBlock of UTC
  times and whole Wh is read all at once; anything else one by one, with its errors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from sqlalchemy import DateTime, create_engine, select
from sqlalchemy import Table as _Table

from evgrid.adapters.store import mdm as store
from evgrid.adapters.store.mdm import StoredInterval, _sqlite_text
from evgrid.apps.services.mdm.readings import meter_readings_in
from evgrid.cim import namespaces as ns
from evgrid.errors import InvalidParameter, MappingError, MissingElement
from evgrid.mappings.codes import INTERVAL_15MIN_WH, REGISTER_WH

MOMENTS = [
    datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 15, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, 0, 1, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, 30, tzinfo=UTC),
    datetime(999, 1, 1, 0, 45, tzinfo=UTC), datetime(2026, 3, 29, 3, 0, tzinfo=ZoneInfo("Europe/Berlin")),
    datetime(2026, 1, 1, 5, 45, tzinfo=timezone(timedelta(hours=5, minutes=45))),
    datetime(2026, 1, 1, 0, 7, tzinfo=timezone(timedelta(minutes=7))), datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("UTC")),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_sqlite_text_is_the_isoformat_in_utc(moment: datetime) -> None:
    expected = moment.astimezone(UTC).isoformat(" ", "microseconds")[:26]
    assert _sqlite_text(moment) == expected
    assert _sqlite_text(moment) == expected  # the day's text from the cache now


def test_sqlite_text_is_what_sqlalchemy_stores_and_reads_back() -> None:
    from sqlalchemy import Column, Integer, MetaData

    table = _Table("t", MetaData(), Column("k", Integer, primary_key=True), Column("at", DateTime()))
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        for k, moment in enumerate(MOMENTS):
            connection.execute(table.insert().values(k=k, at=moment.astimezone(UTC).replace(tzinfo=None)))
        stored = [text_ for (text_,) in connection.exec_driver_sql("SELECT at FROM t ORDER BY k")]
        read = [at for (at,) in connection.execute(select(table.c.at).order_by(table.c.k))]
    assert stored == [_sqlite_text(m) for m in MOMENTS]
    assert read == [m.astimezone(UTC).replace(tzinfo=None) for m in MOMENTS]


def test_the_day_cache_is_bounded() -> None:
    for k in range(5000):
        _sqlite_text(datetime(2000, 1, 1, tzinfo=UTC) + timedelta(days=k))
    assert len(store._DAY_TEXTS) <= 4096


# ------------------------------------------------------------------ the reader
_MR = "{" + ns.METER_READINGS + "}"


def payload(stamps: list[str], values: list[str], reading_type: str = INTERVAL_15MIN_WH) -> etree._Element:
    root = etree.Element(_MR + "MeterReadings", nsmap={"mr": ns.METER_READINGS})
    reading = etree.SubElement(root, _MR + "MeterReading")
    block = etree.SubElement(reading, _MR + "IntervalBlocks")
    for stamp, value in zip(stamps, values, strict=True):
        interval = etree.SubElement(block, _MR + "IntervalReadings")
        etree.SubElement(interval, _MR + "timeStamp").text = stamp
        etree.SubElement(interval, _MR + "value").text = value
    etree.SubElement(block, _MR + "ReadingType").set("ref", reading_type)
    etree.SubElement(etree.SubElement(reading, _MR + "Meter"), _MR + "mRID").text = "MTR-1"
    etree.SubElement(etree.SubElement(reading, _MR + "UsagePoint"), _MR + "mRID").text = "UP-1"
    return root


def one_by_one(stamps: list[str], values: list[str]) -> tuple[StoredInterval, ...]:
    """What the reader gives each interval on its own (a block of one never differs from a block)."""
    return tuple(i for s, v in zip(stamps, values, strict=True)
                 for i in meter_readings_in(payload([s], [v]))[0].intervals)


DAY = [f"2026-01-04T{h:02d}:{m:02d}:00Z" for h in range(24) for m in (15, 30, 45)]


def test_a_block_of_utc_times_and_whole_wh_is_read_at_once() -> None:
    values = [str(k) for k in range(len(DAY))]
    [reading] = meter_readings_in(payload(DAY, values))
    assert reading.intervals == one_by_one(DAY, values)
    assert all(i.end_utc.tzinfo is UTC and type(i.wh) is int and i.quality is None for i in reading.intervals)
    assert reading.intervals[1] == StoredInterval("MTR-1", "UP-1", INTERVAL_15MIN_WH,
                                                  datetime(2026, 1, 4, 0, 30, tzinfo=UTC), 1)


@pytest.mark.parametrize(("stamp", "value"), [
    ("2026-01-04T01:15:00+01:00", "7"),  # an offset: converted to UTC
    ("2026-01-04T00:15:00.000+00:00", "7"),
    ("2026-01-04T00:15:00Z", "007"),
    ("2026-01-04T00:15:00Z", "7.0"),  # whole Wh written with decimals
    ("2026-01-04T00:15:00Z", "\u0667"),  # a digit, but not an ASCII one: Decimal's
])
def test_a_block_with_one_other_reading_reads_each_alike(stamp: str, value: str) -> None:
    stamps, values = DAY[:5] + [stamp] + DAY[6:8], ["1"] * 5 + [value] + ["2", "3"]
    stamps[5] = stamp
    [reading] = meter_readings_in(payload(stamps, values))
    assert reading.intervals == one_by_one(stamps, values)
    assert reading.intervals[5].end_utc == datetime(2026, 1, 4, 0, 15, tzinfo=UTC)
    assert reading.intervals[5].end_utc.tzinfo is UTC and reading.intervals[5].wh == 7


@pytest.mark.parametrize(("stamp", "value", "error"), [
    ("2026-01-04T00:15:00", "7", MappingError),  # no time zone
    ("not a time", "7", MappingError),
    ("2026-01-04T00:15:00Z", "-7", InvalidParameter),
    ("2026-01-04T00:15:00Z", "7.5", MappingError),
])
def test_a_bad_reading_in_a_block_is_refused_as_before(stamp: str, value: str, error: type[Exception]) -> None:
    stamps, values = DAY[:3] + [stamp], ["1", "2", "3", value]
    with pytest.raises(error) as raised:
        meter_readings_in(payload(stamps, values))
    with pytest.raises(error) as alone:
        meter_readings_in(payload([stamp], [value]))
    assert str(raised.value) == str(alone.value)


def test_a_register_is_still_read_on_its_own() -> None:
    root = payload([], [])
    reading = root[0]
    register = etree.Element(_MR + "Readings")
    etree.SubElement(register, _MR + "timeStamp").text = "2026-01-04T00:00:00Z"
    etree.SubElement(register, _MR + "value").text = "1000"
    etree.SubElement(register, _MR + "ReadingType").set("ref", REGISTER_WH)
    reading.find(_MR + "Meter").addnext(register)
    [read] = meter_readings_in(root)
    assert read.registers[0].wh == 1000 and read.intervals == ()


def block_of(readings: list[str]) -> etree._Element:
    """A MeterReadings whose IntervalBlock holds ``readings`` (each the inside of an IntervalReadings), in Wh."""
    body = "".join(f"<mr:IntervalReadings>{r}</mr:IntervalReadings>" for r in readings)
    return etree.fromstring(
        f'<mr:MeterReadings xmlns:mr="{ns.METER_READINGS}"><mr:MeterReading><mr:IntervalBlocks>{body}'
        f'<mr:ReadingType ref="{INTERVAL_15MIN_WH}"/></mr:IntervalBlocks><mr:Meter><mr:mRID>MTR-1</mr:mRID></mr:Meter>'
        "<mr:UsagePoint><mr:mRID>UP-1</mr:mRID></mr:UsagePoint></mr:MeterReading></mr:MeterReadings>")


_T = "<mr:timeStamp>2026-01-04T00:{:02d}:00Z</mr:timeStamp>"


@pytest.mark.parametrize(("readings", "outcome"), [
    # A comment splits a value's text in two: never read as two values (the first reading's 150 Wh as 1 and 50).
    ([_T.format(15) + "<mr:value>1<!-- c -->50</mr:value>", _T.format(30)], MappingError),
    ([_T.format(15) + "<mr:value>1<!-- c -->50</mr:value>", _T.format(30) + "<mr:value>1<!-- c -->50</mr:value>"],
     MissingElement),
    ([_T.format(15), "<mr:value>7</mr:value>"], MissingElement),  # one without its value, one without its time
    (["<!-- c -->" + _T.format(15) + "<mr:value>150</mr:value>", _T.format(30) + "<?pi x?><mr:value>7</mr:value>"],
     [(15, 150), (30, 7)]),
    ([_T.format(15) + "<mr:value>7</mr:value><mr:ReadingQualities><mr:timeStamp>2026-01-04T00:00:00Z</mr:timeStamp>"
      "</mr:ReadingQualities>"], [(15, 7)]),  # a quality's own timeStamp is not the reading's
])
def test_texts_are_paired_per_interval_reading(readings: list[str], outcome: object) -> None:
    if isinstance(outcome, type):
        with pytest.raises(outcome):
            meter_readings_in(block_of(readings))
        return
    [reading] = meter_readings_in(block_of(readings))
    assert [(i.end_utc.minute, i.wh) for i in reading.intervals] == outcome
