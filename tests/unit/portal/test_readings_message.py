"""The MeterReadings a portal queues for each span: schema-valid, the contract's MessageID and ReadingTypes.

Rendered by the portal host's uplink into its SQLite outbox, then decoded (and validated
against the XSD) by the project's codec and read back by the operation system's mapping.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from evgrid.adapters.store.sqlite_store import MEMORY, SqliteStore
from evgrid.apps.portal.host import OutboxUplink
from evgrid.cim.codec import Codec
from evgrid.mappings import codes
from evgrid.mappings.meter_readings import readings_from_cim
from evgrid.mappings.portal import readings_to_cim
from evgrid.operations.metering import Interval, Register
from tests.unit.portal.test_site import SITE

MR = "{http://iec.ch/TC57/2011/MeterReadings#}"
codec = Codec()


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 26, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def queued() -> SqliteStore:
    store = SqliteStore(MEMORY)
    uplink = OutboxUplink(store, lambda: None)
    uplink.report_readings(SITE, "S-1", "start", (Register(at(22, 7, 3), 1_000_000),), ())
    uplink.report_readings(SITE, "S-1", "20261126T2215", (Register(at(22, 7, 3), 1_000_000),
                                                          Register(at(22, 15), 1_000_986)),
                           (Interval(at(22, 15), 986),))
    uplink.report_readings(SITE, "S-1", "20261126T2300", (Register(at(22, 15), 1_000_986),
                                                          Register(at(23, 0), 1_006_536)), ())
    yield store
    store.close()


def bodies(store: SqliteStore) -> dict[str, bytes]:
    return {row["message_id"]: row["body"] for row in store.query("SELECT message_id, body FROM outbox")}


def test_each_span_is_one_schema_valid_message_named_by_session_and_boundary(queued: SqliteStore) -> None:
    sent = bodies(queued)
    assert set(sent) == {"MeterReadings:S-1:start", "MeterReadings:S-1:20261126T2215",
                         "MeterReadings:S-1:20261126T2300"}
    for message_id, body in sent.items():
        inbound = codec.decode(body)  # validates against the XSD
        assert (inbound.header.verb.value, inbound.header.noun, inbound.header.message_id) == (
            "created", "MeterReadings", message_id)


def test_a_boundary_span_carries_both_registers_and_its_interval(queued: SqliteStore) -> None:
    payload = codec.decode(bodies(queued)["MeterReadings:S-1:20261126T2215"]).payload
    refs = [e.get("ref") for e in payload.iterfind(f".//{MR}Readings/{MR}ReadingType")]
    assert refs == [codes.REGISTER_WH, codes.REGISTER_WH]
    assert [e.get("ref") for e in payload.iterfind(f".//{MR}IntervalBlocks/{MR}ReadingType")] == [
        codes.INTERVAL_15MIN_WH]
    readings = readings_from_cim(payload)  # as the operation system reads it
    assert [(r.timestamp_utc, r.energy_wh, r.meter_mrid, r.usage_point_mrid) for r in readings.registers] == [
        (at(22, 7, 3), 1_000_000, "M-1", "UP-1"), (at(22, 15), 1_000_986, "M-1", "UP-1")]
    (block,) = readings.intervals
    assert (block.reading_type, block.readings) == (codes.INTERVAL_15MIN_WH, ((at(22, 15), 986),))


def test_the_start_and_a_gap_carry_registers_only(queued: SqliteStore) -> None:
    for message_id, registers in (("MeterReadings:S-1:start", [1_000_000]),
                                  ("MeterReadings:S-1:20261126T2300", [1_000_986, 1_006_536])):
        payload = codec.decode(bodies(queued)[message_id]).payload
        readings = readings_from_cim(payload)
        assert [r.energy_wh for r in readings.registers] == registers
        assert readings.intervals == () and payload.find(f".//{MR}IntervalBlocks") is None


def test_the_mapping_alone_validates_with_several_intervals() -> None:
    message = readings_to_cim(SITE, (Register(at(22, 0), 5), Register(at(22, 30), 905)),
                              (Interval(at(22, 15), 400), Interval(at(22, 30), 500)))
    root = etree.fromstring(codec.dump(message))
    codec.validate(root)
    values = [(e.findtext(f"{MR}timeStamp"), e.findtext(f"{MR}value")) for e in root.iter(f"{MR}IntervalReadings")]
    assert values == [("2026-11-26T22:15:00Z", "400"), ("2026-11-26T22:30:00Z", "500")]
