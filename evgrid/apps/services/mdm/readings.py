"""MeterReadings in and out of the MDM: the payload read into Wh per meter, the reply to a get.

Inbound, the validated lxml tree is walked directly (as :mod:`evgrid.mappings.meter_readings`
does, with its helpers): every value becomes whole Wh through its ReadingType's
multiplier (:func:`~evgrid.mappings.meter_readings.wh_factor`: kWh with decimals are
fine as long as they are whole Wh), and every error names the meter and the reading's
timestamp. Outbound, stored Wh go back in the ReadingType they came in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from itertools import repeat

from lxml import etree

from evgrid.adapters.store.mdm import StoredInterval, StoredRegister
from evgrid.cim import namespaces as ns
from evgrid.errors import InvalidParameter, MappingError, MissingElement
from evgrid.mappings.codes import INTERVAL_15MIN_WH
from evgrid.mappings.meter_readings import (
    INTERVAL_BLOCKS,
    METER_MRID,
    METER_READING,
    READING_TYPE,
    READINGS,
    TIME_STAMP,
    USAGE_POINT_MRID,
    VALUE,
    energy_wh,
    fifteen_minute_delta,
    utc_time,
    wh_factor,
)

_MR = "{" + ns.METER_READINGS + "}"
_GET = "{" + ns.GET_METER_READINGS + "}"
GET_METER_READINGS = _GET + "GetMeterReadings"
# ReadingType field 3 (index 2) is the measuringPeriod (IEC 61968-9 Annex C): 0 none (a
# register, read at an instant), 2 fifteen minutes (an interval).
_MEASURING_PERIOD = 2
REGISTER_PERIOD = "0"
FIFTEEN_MINUTES = "2"
_XP = {"m": ns.METER_READINGS}
# timeStamp precedes value in an IntervalReading (schema order): one call gives [time, value, ...].
# Plain strings, not lxml's "smart" ones (which know their parent element): a third cheaper.
_INTERVAL_TEXTS = etree.XPath("m:IntervalReadings/*[self::m:timeStamp or self::m:value]/text()", namespaces=_XP,
                              smart_strings=False)
_INTERVAL_COUNT = etree.XPath("count(m:IntervalReadings)", namespaces=_XP)
# Cheaper still: the timeStamps and the values apart, half the cost of the test above. Paired
# by position when every IntervalReading gives one text of each: as many of each as readings
# (the schema allows one of each at most) and no comment or processing instruction in the
# block (the only things that split an element's text in two).
_TIME_STAMP_TEXTS = etree.XPath("m:IntervalReadings/m:timeStamp/text()", namespaces=_XP, smart_strings=False)
_VALUE_TEXTS = etree.XPath("m:IntervalReadings/m:value/text()", namespaces=_XP, smart_strings=False)
_SPLIT_TEXT = etree.XPath("boolean(.//comment() | .//processing-instruction())")
_tuple_new = tuple.__new__


@dataclass(frozen=True, slots=True)
class MeterReadingIn:
    """One MeterReading of a message: a meter at a usage point ('' if not given), its reads and intervals (Wh)."""

    meter: str
    usage_point: str
    registers: tuple[StoredRegister, ...]
    intervals: tuple[StoredInterval, ...]


@dataclass(frozen=True, slots=True)
class Selection:
    """What a GetMeterReadings asks for; an empty tuple selects all (a usage point or a meter is required)."""

    usage_points: tuple[str, ...]
    meters: tuple[str, ...]
    reading_types: tuple[str, ...]
    start: datetime | None
    end: datetime | None


@lru_cache(maxsize=64)
def _factor(reading_type: str, period: str, what: str) -> Decimal:
    """Wh per unit of ``reading_type``, which must have the measuringPeriod ``period``."""
    factor = wh_factor(reading_type)  # MappingError (2.5) when it is not an energy in Wh
    if reading_type.split(".")[_MEASURING_PERIOD] != period:
        raise InvalidParameter(f"ReadingType {reading_type} is not a {what} ReadingType (measuringPeriod "
                               f"{reading_type.split('.')[_MEASURING_PERIOD]}, expected {period})",
                               details=reading_type)
    return factor


def _type_factor(meter: str, reading_type: str, period: str, what: str) -> Decimal:
    try:
        return _factor(reading_type, period, what)
    except InvalidParameter as error:
        raise InvalidParameter(f"meter {meter}: {error.reason}", details=reading_type) from None
    except MappingError as error:
        raise MappingError(f"meter {meter}: {error.reason}", mrid=reading_type) from None


def _value(meter: str, at_text: str | None, value: str | None, factor: Decimal, kind: str) -> tuple[datetime, int]:
    try:
        at = utc_time(at_text)
    except (MappingError, ValueError) as error:
        raise MappingError(f"meter {meter}: {kind} with timeStamp {at_text!r}: {error}", mrid=meter,
                           path="timeStamp") from None
    if factor == 1 and value is not None and value.isascii() and value.isdigit():
        return at, int(value)  # whole Wh, as the portals send them: no Decimal needed
    try:
        wh = energy_wh(value, factor)
    except MappingError as error:
        raise MappingError(f"meter {meter}, {kind} at {at.isoformat()}: {error.reason}", mrid=meter,
                           path=error.path) from None
    if wh < 0:
        raise InvalidParameter(f"meter {meter}, {kind} at {at.isoformat()}: {wh} Wh is negative", details=meter)
    return at, wh


def _plain_utc_wh(stamps: list[str], values: list[str], into: list[StoredInterval], meter: str, usage_point: str,
                  reading_type: str) -> bool:
    """An IntervalBlock as the portals send it, all at once: UTC timeStamps and whole Wh (a factor of 1).

    Appends its rows to ``into`` and returns True; False (nothing appended) when any
    reading is otherwise: the caller reads them one by one, with the errors they may raise.
    """
    joined = "".join(values)  # every text node is non-empty: all digits together means each is
    if not (joined.isascii() and joined.isdigit()):
        return False
    try:
        ends = list(map(datetime.fromisoformat, stamps))
    except ValueError:
        return False
    if any(end.tzinfo is not UTC for end in ends):  # an offset to convert, or none at all
        return False
    # StoredInterval(meter, usage_point, reading_type, end, wh) for each, built in C (a NamedTuple's
    # own __new__ is Python): the same tuples, quality None.
    into.extend(map(_tuple_new, repeat(StoredInterval), zip(repeat(meter), repeat(usage_point), repeat(reading_type),
                                                           ends, map(int, values), repeat(None))))
    return True


def meter_readings_in(payload: etree._Element) -> tuple[MeterReadingIn, ...]:
    """Every MeterReading of a validated MeterReadings element, values in Wh.

    Raises:
        MissingElement: a MeterReading without its Meter mRID.
        MappingError: a ReadingType that is not energy in Wh, a timeStamp without a time
            zone, a value that is not a whole number of Wh.
        InvalidParameter: a register in an interval ReadingType or the reverse, a negative value.
    """
    found = []
    for element in payload.iterchildren(METER_READING):
        meter = (element.findtext(METER_MRID) or "").strip()
        usage_point = (element.findtext(USAGE_POINT_MRID) or "").strip()
        if not meter:
            raise MissingElement(f"every MeterReading needs its Meter mRID (usage point {usage_point or '?'})")
        registers = []
        for reading in element.iterchildren(READINGS):
            ref = reading.find(READING_TYPE).get("ref", "")
            factor = _type_factor(meter, ref, REGISTER_PERIOD, "register")
            at, wh = _value(meter, reading.findtext(TIME_STAMP), reading.findtext(VALUE), factor, "register read")
            registers.append(StoredRegister(meter, usage_point, ref, at, wh))
        intervals = []
        for block in element.iterchildren(INTERVAL_BLOCKS):
            ref = block.find(READING_TYPE).get("ref", "")
            if not fifteen_minute_delta(ref):
                raise InvalidParameter(f"meter {meter}: ReadingType {ref} of an IntervalBlock is not 15-minute "
                                       f"interval energy (e.g. {INTERVAL_15MIN_WH})", details=ref)
            factor = _type_factor(meter, ref, FIFTEEN_MINUTES, "15-minute interval")
            count = int(_INTERVAL_COUNT(block))
            stamps, values = _TIME_STAMP_TEXTS(block), _VALUE_TEXTS(block)
            if len(stamps) != count or len(values) != count or _SPLIT_TEXT(block):
                texts = _INTERVAL_TEXTS(block)
                if len(texts) != 2 * count:  # both are optional in the schema
                    raise MissingElement(f"meter {meter}: every IntervalReading needs a timeStamp and a value")
                stamps, values = texts[::2], texts[1::2]
            if factor == 1 and _plain_utc_wh(stamps, values, intervals, meter, usage_point, ref):
                continue
            for at_text, value in zip(stamps, values, strict=True):
                # The common case inline (a zoned time, whole Wh); anything else, and every error, by _value.
                try:
                    end = datetime.fromisoformat(at_text)
                except ValueError:
                    end = None
                if end is not None and end.tzinfo is not None and factor == 1 and value.isascii() and value.isdigit():
                    intervals.append(StoredInterval(meter, usage_point, ref,
                                                    end if end.tzinfo is UTC else end.astimezone(UTC), int(value)))
                else:
                    end, wh = _value(meter, at_text, value, factor, "interval")
                    intervals.append(StoredInterval(meter, usage_point, ref, end, wh))
        found.append(MeterReadingIn(meter, usage_point, tuple(registers), tuple(intervals)))
    return tuple(found)


def selection_of(root: etree._Element) -> Selection:
    """The selection of a get: Request/GetMeterReadings plus Request's StartTime and EndTime.

    The window is Request/StartTime..EndTime or else the TimeSchedule's scheduleInterval;
    both ends inclusive, on the reading's timestamp (an interval's end).
    """
    namespace = etree.QName(root).namespace
    request = root.find(f"{{{namespace}}}Request")
    get = request.find(GET_METER_READINGS) if request is not None else None
    if request is None or get is None:
        raise MissingElement("get MeterReadings needs a GetMeterReadings in its Request")

    def mrids(element: str) -> tuple[str, ...]:
        return tuple(str(t).strip() for t in get.xpath(f"g:{element}/g:mRID/text()",
                                                      namespaces={"g": ns.GET_METER_READINGS}))

    def moment(text: str | None, which: str) -> datetime | None:
        if not text:
            return None
        try:
            return utc_time(text)
        except (MappingError, ValueError):
            raise InvalidParameter(f"the window's {which} {text!r} is not a time with a time zone") from None

    # Request's own children are in the root's namespace: msg, or the noun wrapper's.
    start = (request.findtext(f"{{{namespace}}}StartTime")
             or get.findtext(f"{_GET}TimeSchedule/{_GET}scheduleInterval/{_GET}start"))
    end = (request.findtext(f"{{{namespace}}}EndTime")
           or get.findtext(f"{_GET}TimeSchedule/{_GET}scheduleInterval/{_GET}end"))
    selection = Selection(mrids("UsagePoint"), mrids("EndDevice"), mrids("ReadingType"),
                          moment(start, "start"), moment(end, "end"))
    if not selection.usage_points and not selection.meters:
        raise MissingElement("GetMeterReadings must name a UsagePoint or an EndDevice (meter)")
    if selection.start and selection.end and selection.end < selection.start:
        raise InvalidParameter(f"the window ends ({selection.end.isoformat()}) before it starts "
                               f"({selection.start.isoformat()})")
    return selection


@lru_cache(maxsize=64)
def _out_factor(reading_type: str) -> Decimal:
    return wh_factor(reading_type)


def value_text(wh: int, reading_type: str) -> str:
    """Stored Wh as the text of a value in ``reading_type`` (kWh: ``18234.56``), exact, no exponent."""
    return format(Decimal(wh) / _out_factor(reading_type), "f")


def _xml_time(moment: datetime) -> str:
    """An aware datetime as xs:dateTime in UTC (``2026-01-15T22:15:00Z``)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def meter_readings_element(registers: Sequence[StoredRegister], intervals: Sequence[StoredInterval]) -> etree._Element:
    """Stored readings as one IEC 61968-9 MeterReadings element: a MeterReading per meter and usage point.

    Registers are Readings, intervals IntervalBlocks (one per ReadingType); an estimated
    interval carries its quality, ``ReadingQualities/ReadingQualityType ref="3.8.0"``
    (:data:`~evgrid.operations.metering.ESTIMATED`). Built with lxml, in schema order
    (a day of a meter is a hundred readings; the reply is schema-valid, as the tests check).
    """
    root = etree.Element(_MR + "MeterReadings", nsmap={"mr": ns.METER_READINGS})
    # MeterReading's children in schema order: IntervalBlocks, Meter, Readings, UsagePoint.
    parts: dict[tuple[str, str], tuple[list[StoredRegister], dict[str, list[StoredInterval]]]] = {}
    for r in registers:
        parts.setdefault((r.meter, r.usage_point), ([], {}))[0].append(r)
    for i in intervals:
        parts.setdefault((i.meter, i.usage_point), ([], {}))[1].setdefault(i.reading_type, []).append(i)
    sub = etree.SubElement
    for (meter, usage_point), (reads, blocks) in parts.items():
        reading = sub(root, _MR + "MeterReading")
        for reading_type, rows in blocks.items():
            block = sub(reading, _MR + "IntervalBlocks")
            for i in rows:
                interval = sub(block, _MR + "IntervalReadings")
                sub(interval, _MR + "timeStamp").text = _xml_time(i.end_utc)
                sub(interval, _MR + "value").text = value_text(i.wh, i.reading_type)
                if i.quality:
                    sub(sub(interval, _MR + "ReadingQualities"), _MR + "ReadingQualityType").set("ref", i.quality)
            sub(block, _MR + "ReadingType").set("ref", reading_type)
        sub(sub(reading, _MR + "Meter"), _MR + "mRID").text = meter
        for r in reads:
            register = sub(reading, _MR + "Readings")
            sub(register, _MR + "timeStamp").text = _xml_time(r.at_utc)
            sub(register, _MR + "value").text = value_text(r.wh, r.reading_type)
            sub(register, _MR + "ReadingType").set("ref", r.reading_type)
        sub(sub(reading, _MR + "UsagePoint"), _MR + "mRID").text = usage_point
    return root
