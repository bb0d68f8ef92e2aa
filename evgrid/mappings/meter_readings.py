"""IEC 61968-9 MeterReadings -> domain readings.

Binding is a direct walk of the validated lxml tree: xsdata's generic parser binds a
3 KB MeterReadings about 25 times slower than libxml2 parses and validates it, and
MeterReadings is the noun that arrives by the million. The schema has already checked
the structure, so this walk only reads what the domain needs, with a compiled XPath that
pulls a whole interval block's timestamps and values in one call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from evgrid.cim import namespaces as ns
from evgrid.cim.generated import meter_readings as mr
from evgrid.errors import MappingError
from evgrid.mappings.codes import INTERVAL_15MIN_WH, REGISTER_WH
from evgrid.mappings.ev_charging import xml_time
from evgrid.operations.model import IntervalBlock, MeterReadingSet, RegisterReading

_MR = "{" + ns.METER_READINGS + "}"
METER_READING = _MR + "MeterReading"
READINGS = _MR + "Readings"
INTERVAL_BLOCKS = _MR + "IntervalBlocks"
READING_TYPE = _MR + "ReadingType"
TIME_STAMP = _MR + "timeStamp"
VALUE = _MR + "value"
METER_MRID = f"{_MR}Meter/{_MR}mRID"
USAGE_POINT_MRID = f"{_MR}UsagePoint/{_MR}mRID"

_XP = {"m": ns.METER_READINGS}
# timeStamp comes before value in every IntervalReading (schema order), so one call
# returns [time, value, time, value, ...] when every reading has both.
_INTERVAL_TEXTS = etree.XPath(
    "m:IntervalReadings/*[self::m:timeStamp or self::m:value]/text()", namespaces=_XP
)
_INTERVAL_COUNT = etree.XPath("count(m:IntervalReadings)", namespaces=_XP)

# ReadingType field 16 is the multiplier (a power of ten), field 17 the unit: 72 = Wh.
UNIT_WH = "72"
# Field 3 is the measuring period (2 = 15 minutes), field 4 the accumulation (4 = delta data).
FIFTEEN_MINUTES, DELTA = "2", "4"


def fifteen_minute_delta(reading_type: str) -> bool:
    """True for a ReadingType of 15-minute interval energy (what IntervalBlocks must carry here)."""
    fields = reading_type.split(".")
    return len(fields) == 18 and fields[2] == FIFTEEN_MINUTES and fields[3] == DELTA


def wh_factor(reading_type: str) -> Decimal:
    """How many Wh one unit of a reading of this ReadingType is (IEC 61968-9 Annex C).

    Raises:
        MappingError: the ReadingType is not an energy in Wh with a power-of-ten multiplier.
    """
    fields = reading_type.split(".")
    if len(fields) != 18 or fields[16] != UNIT_WH:
        raise MappingError(f"ReadingType {reading_type} is not an energy in Wh", mrid=reading_type)
    try:
        return Decimal(10) ** int(fields[15])
    except ValueError:
        raise MappingError(f"ReadingType {reading_type} has a bad multiplier", mrid=reading_type) from None


def energy_wh(text: str | None, factor: Decimal) -> int:
    """A reading value in Wh; energy is whole Wh everywhere in evgrid, so no rounding here."""
    try:
        wh = Decimal(text or "") * factor
    except InvalidOperation:
        raise MappingError(f"reading value {text!r} is not a number", path="value") from None
    if wh != wh.to_integral_value():
        raise MappingError(f"reading value {text} is not a whole number of Wh", path="value")
    return int(wh)


def utc_time(text: str | None) -> datetime:
    """An xs:dateTime that must carry a time zone, as aware UTC."""
    if not text:
        raise MappingError("a reading has no timeStamp", path="timeStamp")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise MappingError(f"timeStamp {text} has no time zone", path="timeStamp")
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def readings_from_cim(payload: etree._Element) -> MeterReadingSet:
    """Read registers and interval blocks from a validated ``MeterReadings`` element."""
    registers: list[RegisterReading] = []
    blocks: list[IntervalBlock] = []
    factors: dict[str, Decimal] = {}

    def factor_of(element: etree._Element) -> tuple[str, Decimal]:
        ref = element.find(READING_TYPE).get("ref", "")
        if ref not in factors:
            factors[ref] = wh_factor(ref)
        return ref, factors[ref]

    for meter_reading in payload.iterchildren(METER_READING):
        meter = meter_reading.findtext(METER_MRID)
        if not meter:
            raise MappingError("MeterReading without Meter/mRID", path="MeterReading/Meter/mRID")
        usage_point = meter_reading.findtext(USAGE_POINT_MRID)
        for reading in meter_reading.iterchildren(READINGS):
            ref, factor = factor_of(reading)
            registers.append(RegisterReading(
                meter, usage_point, ref, utc_time(reading.findtext(TIME_STAMP)),
                energy_wh(reading.findtext(VALUE), factor),
            ))
        for block in meter_reading.iterchildren(INTERVAL_BLOCKS):
            ref, factor = factor_of(block)
            if not fifteen_minute_delta(ref):
                raise MappingError(f"IntervalBlocks of meter {meter}: ReadingType {ref} is not 15-minute interval "
                                   f"energy (e.g. {INTERVAL_15MIN_WH})", mrid=ref)
            texts = _INTERVAL_TEXTS(block)
            # timeStamp and value are optional per reading: pairing them needs both.
            if len(texts) != 2 * int(_INTERVAL_COUNT(block)):
                raise MappingError("every IntervalReading needs a timeStamp and a value",
                                   path="IntervalBlocks/IntervalReadings")
            pairs = tuple(
                (utc_time(t), energy_wh(v, factor)) for t, v in zip(texts[::2], texts[1::2], strict=True)
            )
            blocks.append(IntervalBlock(meter, usage_point, ref, pairs))
    return MeterReadingSet(registers=tuple(registers), intervals=tuple(blocks))


def readings_to_cim(readings: MeterReadingSet) -> mr.MeterReadings:
    """Readings in Wh as one MeterReadings: one MeterReading per meter, registers then intervals."""
    grouped: dict[tuple[str, str | None], tuple[list[mr.Reading], list[mr.IntervalReading]]] = {}
    for register in readings.registers:
        entry = grouped.setdefault((register.meter_mrid, register.usage_point_mrid), ([], []))
        entry[0].append(mr.Reading(time_stamp=xml_time(register.timestamp_utc), value=str(register.energy_wh),
                                   reading_type=mr.Reading.ReadingType(ref=REGISTER_WH)))
    for block in readings.intervals:
        entry = grouped.setdefault((block.meter_mrid, block.usage_point_mrid), ([], []))
        entry[1].extend(mr.IntervalReading(time_stamp=xml_time(end), value=str(wh)) for end, wh in block.readings)
    return mr.MeterReadings(meter_reading=[
        mr.MeterReading(meter=mr.Meter(m_rid=meter), usage_point=mr.UsagePoint(m_rid=usage_point) if usage_point else None,
                        readings=registers,
                        interval_blocks=[mr.IntervalBlock(interval_readings=intervals,
                                                          reading_type=mr.IntervalBlock.ReadingType(
                                                              ref=INTERVAL_15MIN_WH))] if intervals else [])
        for (meter, usage_point), (registers, intervals) in grouped.items()])
