"""MeterReadings payload -> domain readings, straight from the validated tree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evgrid.cim.codec import Codec
from evgrid.errors import MappingError
from evgrid.mappings import catalog, codes, examples
from evgrid.mappings.meter_readings import energy_wh, readings_from_cim, utc_time, wh_factor


def _payload(step: str):
    codec = Codec()
    return codec.decode(codec.dump(examples.example_message(catalog.step(step)))).payload


def test_register_at_start_is_read_in_wh() -> None:
    readings = readings_from_cim(_payload("2.3.1"))
    assert readings.intervals == ()
    (register,) = readings.registers
    assert register.meter_mrid == "MTR-000123"
    assert register.usage_point_mrid == "UP-000123"
    assert register.reading_type == codes.REGISTER_WH
    assert register.energy_wh == 5_442_115
    assert register.timestamp_utc == datetime(2026, 11, 26, 22, 40, tzinfo=UTC)


def test_interval_block_in_kwh_becomes_whole_wh() -> None:
    readings = readings_from_cim(_payload("2.3.3"))
    (block,) = readings.intervals
    assert block.reading_type == codes.INTERVAL_15MIN_KWH
    assert block.readings == ((datetime(2026, 11, 27, 2, 0, tzinfo=UTC), 2000),)
    assert [r.energy_wh for r in readings.registers] == [5_464_115, 5_466_115]


@pytest.mark.parametrize(("reading_type", "factor"), [
    (codes.REGISTER_WH, 1), (codes.REGISTER_KWH, 1000), (codes.INTERVAL_15MIN_KWH, 1000),
])
def test_wh_factor_follows_the_multiplier(reading_type: str, factor: int) -> None:
    assert wh_factor(reading_type) == factor


@pytest.mark.parametrize("reading_type", [
    "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.38.0",  # kW, not energy
    "0.0.0.1.1.1.12",                          # not 18 fields
    "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.x.72.0",   # bad multiplier
])
def test_non_energy_reading_types_are_refused(reading_type: str) -> None:
    with pytest.raises(MappingError):
        wh_factor(reading_type)


def test_values_must_be_whole_wh_and_numbers() -> None:
    assert energy_wh("1.815", wh_factor(codes.REGISTER_KWH)) == 1815
    with pytest.raises(MappingError, match="whole number of Wh"):
        energy_wh("1.8155", wh_factor(codes.REGISTER_KWH))
    with pytest.raises(MappingError, match="not a number"):
        energy_wh("NaNa", wh_factor(codes.REGISTER_KWH))


def test_timestamps_must_carry_a_time_zone() -> None:
    assert utc_time("2026-11-26T23:00:00+01:00") == datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
    with pytest.raises(MappingError, match="no time zone"):
        utc_time("2026-11-26T23:00:00")


def test_interval_reading_without_value_is_refused() -> None:
    payload = _payload("2.3.3")
    value = payload.find(".//{http://iec.ch/TC57/2011/MeterReadings#}IntervalReadings/"
                         "{http://iec.ch/TC57/2011/MeterReadings#}value")
    value.getparent().remove(value)
    with pytest.raises(MappingError, match="timeStamp and a value"):
        readings_from_cim(payload)


def test_readings_forwarded_to_mdm_validate_and_read_back_the_same() -> None:
    from evgrid.cim import envelope as env
    from evgrid.mappings.meter_readings import readings_to_cim

    original = readings_from_cim(_payload("2.3.3"))
    codec = Codec()
    body = codec.dump(env.event(env.Verb.CREATED, "MeterReadings", readings_to_cim(original), source="t",
                                message_id="m-1"))
    again = readings_from_cim(codec.decode(body).payload)  # decode validates against the schema
    assert [(r.meter_mrid, r.usage_point_mrid, r.timestamp_utc, r.energy_wh) for r in again.registers] == [
        (r.meter_mrid, r.usage_point_mrid, r.timestamp_utc, r.energy_wh) for r in original.registers]
    assert [b.readings for b in again.intervals] == [b.readings for b in original.intervals]
    assert {b.reading_type for b in again.intervals} == {codes.INTERVAL_15MIN_WH}


def test_an_interval_block_that_is_not_15_minute_energy_is_refused() -> None:
    payload = _payload("2.3.3")
    for ref in payload.iter("{*}ReadingType"):
        if ref.getparent().tag.endswith("IntervalBlocks"):
            ref.set("ref", codes.REGISTER_WH)
    with pytest.raises(MappingError, match="not 15-minute interval energy"):
        readings_from_cim(payload)
