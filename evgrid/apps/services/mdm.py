"""The reference Meter Data Management system: keeps IEC 61968-9 MeterReadings, serves them back.

Operations (:data:`evgrid.mappings.services.METER_DATA_MANAGEMENT`):

- ``created MeterReadings``: new readings are stored; a reading already stored (same meter,
  usage point, ReadingType, timestamp) keeps its first value: a created never overwrites;
- ``changed MeterReadings``: corrected readings replace stored ones;
- ``get MeterReadings``: Request/GetMeterReadings selects by UsagePoint and EndDevice (the
  meter) mRIDs, ReadingType mRIDs and a time window (TimeSchedule/scheduleInterval or
  Request/StartTime..EndTime, both ends inclusive); the reply's Payload is a MeterReadings.

Readings are taken as other systems send them: the generic envelope or the noun-specific
wrapper (``CreatedMeterReadings``), with or without a Meter, values kept as the exact text
received (kWh with decimals stay kWh with decimals). Each MessageID is applied once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

from lxml import etree
from xsdata.models.datatype import XmlDateTime

from evgrid.adapters.soap.security import Principal
from evgrid.adapters.store.sqlite_store import MEMORY, SqliteStore, SqliteUnitOfWork, from_utc_text, utc_text
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec, Header, Inbound, MessageKind
from evgrid.cim.generated import meter_readings as mr
from evgrid.errors import MappingError, MissingElement
from evgrid.messaging.router import Outcome, Route, Routed, Router

SOURCE = "evgrid-mdm"
_MR = "{" + ns.METER_READINGS + "}"
_GET = "{" + ns.GET_METER_READINGS + "}"
GET_METER_READINGS = _GET + "GetMeterReadings"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    meter TEXT NOT NULL, usage_point TEXT NOT NULL, reading_type TEXT NOT NULL, time_stamp TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('register', 'interval')), value TEXT NOT NULL, message_id TEXT,
    PRIMARY KEY (meter, usage_point, reading_type, kind, time_stamp));
"""


@dataclass(frozen=True, slots=True)
class StoredReading:
    """One reading as the MDM keeps it ('' for an absent meter or usage point)."""

    meter: str
    usage_point: str
    reading_type: str
    time_stamp: str
    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class Selection:
    """What a GetMeterReadings asks for; an empty tuple selects all."""

    usage_points: tuple[str, ...]
    meters: tuple[str, ...]
    reading_types: tuple[str, ...]
    start: str | None
    end: str | None


def _time(text: str | None, path: str) -> str:
    if not text:
        raise MappingError(f"{path} has no timeStamp", path=path)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise MappingError(f"{path} {text} has no time zone", path=path)
    return utc_text(moment)


def readings_of(payload: etree._Element) -> list[StoredReading]:
    """Every register and interval reading of a validated MeterReadings element."""
    found: list[StoredReading] = []
    for meter_reading in payload.iterchildren(_MR + "MeterReading"):
        meter = meter_reading.findtext(f"{_MR}Meter/{_MR}mRID") or ""
        usage_point = meter_reading.findtext(f"{_MR}UsagePoint/{_MR}mRID") or ""
        if not meter and not usage_point:
            raise MappingError("a MeterReading needs a Meter or a UsagePoint mRID", path="MeterReading")
        for reading in meter_reading.iterchildren(_MR + "Readings"):
            ref = reading.find(_MR + "ReadingType").get("ref", "")
            found.append(StoredReading(meter, usage_point, ref, _time(reading.findtext(_MR + "timeStamp"),
                                                                      "Readings"),
                                       "register", reading.findtext(_MR + "value") or ""))
        for block in meter_reading.iterchildren(_MR + "IntervalBlocks"):
            ref = block.find(_MR + "ReadingType").get("ref", "")
            for interval in block.iterchildren(_MR + "IntervalReadings"):
                found.append(StoredReading(meter, usage_point, ref,
                                           _time(interval.findtext(_MR + "timeStamp"), "IntervalReadings"),
                                           "interval", interval.findtext(_MR + "value") or ""))
    return found


def selection_of(root: etree._Element) -> Selection:
    """The selection of a get: Request/GetMeterReadings plus Request's StartTime and EndTime."""
    namespace = etree.QName(root).namespace
    request = root.find(f"{{{namespace}}}Request")
    get = request.find(GET_METER_READINGS) if request is not None else None
    if request is None or get is None:
        raise MissingElement("get MeterReadings needs a GetMeterReadings in its Request")

    def mrids(element: str) -> tuple[str, ...]:
        return tuple(text for text in get.xpath(f"g:{element}/g:mRID/text()", namespaces={"g": ns.GET_METER_READINGS}))

    # Request's own children are in the root's namespace: msg, or the noun wrapper's.
    start = (request.findtext(f"{{{namespace}}}StartTime")
             or get.findtext(f"{_GET}TimeSchedule/{_GET}scheduleInterval/{_GET}start"))
    end = (request.findtext(f"{{{namespace}}}EndTime")
           or get.findtext(f"{_GET}TimeSchedule/{_GET}scheduleInterval/{_GET}end"))
    selection = Selection(mrids("UsagePoint"), mrids("EndDevice"), mrids("ReadingType"),
                          _time(start, "start") if start else None, _time(end, "end") if end else None)
    if not selection.usage_points and not selection.meters:
        raise MissingElement("GetMeterReadings must name a UsagePoint or an EndDevice (meter)")
    return selection


def _store(uow: SqliteUnitOfWork, readings: Iterable[StoredReading], message_id: str | None, replace: bool) -> None:
    verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
    uow.db.executemany(
        f"{verb} INTO readings (meter, usage_point, reading_type, time_stamp, kind, value, message_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(r.meter, r.usage_point, r.reading_type, r.time_stamp, r.kind, r.value, message_id) for r in readings])


def _created(readings: list[StoredReading], header: Header, uow: SqliteUnitOfWork) -> Outcome:
    _store(uow, readings, header.message_id, replace=False)
    return Outcome()


def _changed(readings: list[StoredReading], header: Header, uow: SqliteUnitOfWork) -> Outcome:
    _store(uow, readings, header.message_id, replace=True)
    return Outcome()


def _get(selection: Selection, header: Header, uow: SqliteUnitOfWork) -> Outcome:
    clauses, params = [], []
    for column, values in (("usage_point", selection.usage_points), ("meter", selection.meters),
                           ("reading_type", selection.reading_types)):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if selection.start:
        clauses.append("time_stamp >= ?")
        params.append(selection.start)
    if selection.end:
        clauses.append("time_stamp <= ?")
        params.append(selection.end)
    rows = uow.db.execute("SELECT meter, usage_point, reading_type, time_stamp, kind, value FROM readings WHERE "
                          + " AND ".join(clauses) + " ORDER BY meter, usage_point, kind, reading_type, time_stamp",
                          params).fetchall()
    return Outcome(payload=(meter_readings([StoredReading(*row) for row in rows]),))


def meter_readings(readings: list[StoredReading]) -> mr.MeterReadings:
    """Stored readings as one IEC 61968-9 MeterReadings, one MeterReading per meter and usage point."""
    result = mr.MeterReadings()
    for (meter, usage_point), group in groupby(readings, key=lambda r: (r.meter, r.usage_point)):
        items = list(group)
        registers = [mr.Reading(time_stamp=_xml(r.time_stamp), value=r.value,
                                reading_type=mr.Reading.ReadingType(ref=r.reading_type))
                     for r in items if r.kind == "register"]
        intervals = [r for r in items if r.kind == "interval"]
        blocks = [mr.IntervalBlock(
            interval_readings=[mr.IntervalReading(time_stamp=_xml(r.time_stamp), value=r.value) for r in block],
            reading_type=mr.IntervalBlock.ReadingType(ref=ref))
            for ref, block in groupby(intervals, key=lambda r: r.reading_type)]
        result.meter_reading.append(mr.MeterReading(
            meter=mr.Meter(m_rid=meter) if meter else None,
            usage_point=mr.UsagePoint(m_rid=usage_point) if usage_point else None,
            readings=registers, interval_blocks=blocks))
    return result


def _xml(text: str) -> XmlDateTime:
    return XmlDateTime.from_datetime(from_utc_text(text).astimezone(UTC))


_READINGS = ns.qname(ns.METER_READINGS, "MeterReadings")
ROUTES = {
    (env.Verb.CREATED, "MeterReadings"): Route(_READINGS, readings_of, _created, None, "new readings"),
    (env.Verb.CHANGED, "MeterReadings"): Route(_READINGS, readings_of, _changed, None, "corrected readings"),
    (env.Verb.GET, "MeterReadings"): Route(None, selection_of, _get, None, "stored readings"),
}


class MdmRouter(Router):
    """The Router, plus the 61968-100 get pattern: a get's selection is in Request, not Payload."""

    def route(self, inbound: Inbound) -> Routed:
        header = inbound.header
        if header is not None and header.verb is env.Verb.GET and inbound.kind is MessageKind.REQUEST:
            route = self.routes.get((header.verb, header.noun))
            if route is not None:
                return Routed(route, route.bind(inbound.root))
        return super().route(inbound)


class MeterDataManagement:
    """The MDM service: its store and router; ``handle`` is what the SOAP endpoint calls."""

    def __init__(self, database: str | Path = MEMORY, *, codec: Codec | None = None) -> None:
        self.store = SqliteStore(database, _SCHEMA)
        # The router only uses the unit of work's journal, commit and context manager.
        self.router = MdmRouter(ROUTES, codec=codec, source=SOURCE,
                                unit_of_work=self.store.unit_of_work)  # type: ignore[arg-type]

    def handle(self, message: bytes, principal: Principal | None = None) -> bytes:
        """Answer one 61968-100 message (the endpoint's callback; any authenticated caller may call)."""
        return self.router.handle(message, sender=principal.user if principal else None)

    def handle_inbound(self, inbound: Inbound, principal: Principal | None, checked: object = None) -> bytes:
        """The SOAP endpoint's callback: the message the server decoded and validated, not decoded again."""
        return self.router.handle_inbound(inbound, sender=principal.user if principal else None)

    def count(self) -> int:
        """How many readings are stored."""
        return int(self.store.query("SELECT count(*) FROM readings")[0][0])

    def close(self) -> None:
        """Close the store."""
        self.store.close()
