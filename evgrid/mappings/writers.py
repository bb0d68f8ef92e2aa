"""The hot outbound messages, written directly: the codec's (xsdata's) bytes, without xsdata.

xsdata's generic serializer walks each generated class's metadata and builds an lxml
tree through SAX events: 1 to 1.6 ms for each of the two messages a ChargingRequest makes
(its reply, 4.4 KB, and the TimeSlotAllotment for the portal, 2.4 KB), a quarter of the
request's CPU in process (docs/benchmarks.md). The messages every session sends are
written here as text instead, straight from the domain, about fifteen times faster: the
reply to a ChargingRequest (OK or PARTIAL), the TimeSlotAllotment, the EndDeviceControls
(start and stop), ThirdPartyCharging, ChargingConsumption, BillingInformation,
ChargingAcknowledgment and the MeterReadings forwarded to meter data management.

Every writer gives exactly the bytes the codec writes for the generated classes the
mapping functions build (:mod:`evgrid.mappings.ev_charging`,
:func:`evgrid.mappings.meter_readings.readings_to_cim`, :mod:`evgrid.cim.envelope`):
tests/unit/mappings/test_writers.py checks it over many cases, and that each message
validates. So the rules are xsdata's: the envelope's namespace declarations on the root
(``namespaces.PREFIXES``, in order), elements in the generated classes' field order
(which is why a DateTimeInterval writes ``end`` before ``start``), None left out and an
empty string as an empty element, decimals as ``f"{value:f}"``, date-times as
:class:`~xsdata.models.datatype.XmlDateTime` writes them in UTC (``Z``, milliseconds
when they are whole, else microseconds), and character data escaped as libxml2 does
(``& < >`` and a carriage return; in attributes ``"`` and tab and newline too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.errors import MappingError
from evgrid.mappings import codes
from evgrid.mappings.ev_charging import kilowatts
from evgrid.operations import events
from evgrid.operations.handlers import Confirmation
from evgrid.operations.model import ChargingKind, MeterReadingSet, Rate, Tariff
from evgrid.operations.ports import Allotment
from evgrid.operations.rates import PricedWindow
from evgrid.operations.session import Session


@dataclass(frozen=True, slots=True)
class Written:
    """One payload element written as XML text (a handler's reply payload, see :func:`reply`)."""

    xml: str


# ------------------------------------------------------------------ values
TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;",
                            "\t": "&#9;"})
# What lxml refuses to write (a C0 control but tab, newline and carriage return; U+FFFE and
# U+FFFF): the codec raises on it, so the writers do too, rather than write a message no one
# can read. A lone surrogate fails to encode, in both.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_KINDS = {ChargingKind.HOME: "home", ChargingKind.THIRD_PARTY: "thirdParty"}


def xml_datetime(moment: datetime) -> str:
    """An aware datetime as the codec writes ``XmlDateTime.from_datetime(moment.astimezone(UTC))``."""
    moment = moment.astimezone(UTC)
    text = moment.isoformat()[:-6]  # without "+00:00"
    micro = moment.microsecond
    if micro and not micro % 1000:
        text = text[:-3]
    return text + "Z"


def xml_decimal(value: Decimal) -> str:
    """A decimal as xsdata writes it: never an exponent."""
    text = f"{value:f}"
    return text.replace("Infinity", "INF") if value.is_infinite() else text


def element(prefix: str, tag: str, text: str | None) -> str:
    """``<prefix:tag>text</prefix:tag>``, escaped; ``<prefix:tag/>`` when empty; nothing for None."""
    if text is None:
        return ""
    if not text:
        return f"<{prefix}:{tag}/>"
    return f"<{prefix}:{tag}>{text.translate(TEXT_ESCAPES)}</{prefix}:{tag}>"


def ev_element(tag: str, text: str | None) -> str:
    """:func:`element` in the EV charging namespace (prefix ``ev``)."""
    return element("ev", tag, text)


def _ref(tag: str, mrid: str | None) -> str:
    """A reference by mRID: ``<ev:tag><ev:mRID>..</ev:mRID></ev:tag>``."""
    return f"<ev:{tag}>{ev_element('mRID', mrid)}</ev:{tag}>" if mrid is not None else f"<ev:{tag}/>"


def wrap(prefix: str, tag: str, content: str) -> str:
    """``content`` inside ``<prefix:tag>``; ``<prefix:tag/>`` when empty."""
    return f"<{prefix}:{tag}>{content}</{prefix}:{tag}>" if content else f"<{prefix}:{tag}/>"


def _account(tag: str, account_id: str, customer_id: str | None = None) -> str:
    customer = wrap("ev", "Customer", ev_element("mRID", customer_id)) if customer_id else ""
    return wrap("ev", tag, ev_element("mRID", account_id) + customer)


def _interval(prefix: str, tag: str, start: datetime | None, end: datetime | None) -> str:
    # The generated DateTimeInterval declares end before start: xsdata writes them so.
    return wrap(prefix, tag, element(prefix, "end", xml_datetime(end) if end else None)
                 + element(prefix, "start", xml_datetime(start) if start else None))


def _usage_point(tag: str, mrid: str, session: Session) -> str:
    location = ev_element("mRID", session.premise_number) + ev_element("premiseNumber", session.premise_number)
    return wrap("ev", tag, ev_element("mRID", mrid) + wrap("ev", "ServiceLocation", location)
                 + wrap("ev", "Meter", ev_element("mRID", session.meter_number)))


# ---------------------------------------------------------------- envelope
def _open(kind: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<msg:{kind}'
            + "".join(f' xmlns:{prefix}="{uri}"' for prefix, uri in ns.PREFIXES.items()) + ">")


_OPEN = {kind: _open(kind) for kind in ("RequestMessage", "ResponseMessage", "EventMessage")}


def _header(verb: env.Verb, noun: str, source: str, message_id: str | None, correlation_id: str | None,
            timestamp: datetime | None) -> str:
    return ("<msg:Header>" + element("msg", "Verb", verb.value) + element("msg", "Noun", noun)
            + element("msg", "Timestamp", xml_datetime(timestamp or datetime.now(UTC))) + element("msg", "Source", source)
            + element("msg", "MessageID", message_id or env.new_message_id())
            + element("msg", "CorrelationID", correlation_id) + "</msg:Header>")


def _document(parts: list[str]) -> bytes:
    text = "".join(parts)
    if _NOT_XML.search(text) is not None:
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters")
    return text.encode()


def _payload(payload: Iterable[str]) -> str:
    content = "".join(payload)
    return f"<msg:Payload>{content}</msg:Payload>" if content else ""


def reply(result: env.Result, noun: str, payload: Iterable[Written] = (), *, source: str,
          correlation_id: str | None, errors: Iterable[env.ReplyDetail] = (), timestamp: datetime | None = None,
          message_id: str | None = None) -> bytes:
    """``codec.dump(env.reply(result, noun, *payload, ...))`` with the payload written, written directly.

    ``timestamp`` and ``message_id`` as :func:`evgrid.cim.envelope.header` fills them in
    when not given (now, a new UUID).
    """
    error_parts = [
        wrap("msg", "Error", element("msg", "code", e.code) + element("msg", "level", e.level.value if e.level else None)
              + element("msg", "reason", e.reason or None) + element("msg", "details", e.details))
        for e in errors]
    return _document([
        _OPEN["ResponseMessage"], _header(env.Verb.REPLY, noun, source, message_id, correlation_id, timestamp),
        "<msg:Reply>", element("msg", "Result", result.value), *error_parts, "</msg:Reply>",
        _payload(item.xml for item in payload), "</msg:ResponseMessage>"])


def message(verb: env.Verb, noun: str, payload: str, *, source: str, message_id: str | None = None,
            timestamp: datetime | None = None) -> bytes:
    """``codec.dump(env.request(...))`` for a request verb, ``env.event(...)`` for an event verb, written directly."""
    if verb in env.REQUEST_VERBS:
        kind = "RequestMessage"
    elif verb in env.EVENT_VERBS:
        kind = "EventMessage"
    else:
        raise ValueError(f"{verb.value!r} is neither a request nor an event verb")
    return _document([_OPEN[kind], _header(verb, noun, source, message_id, None, timestamp),
                            _payload((payload,)), f"</msg:{kind}>"])


# ------------------------------------------------- ChargingRequest's reply
def confirmation(confirmation: Confirmation) -> str:
    """:func:`~evgrid.mappings.ev_charging.confirmation_to_cim` (2.1.1 / 3.1.3), written."""
    session = confirmation.session
    return ("<ev:ChargingConfirmation>" + _ref("ChargingRequest", session.request_mrid)
            + _ref("ChargingSession", session.session_id) + ev_element("kind", _KINDS[session.kind])
            + ev_element("requestedEnergy", str(session.requested_wh))
            + ev_element("reachableEnergy", str(session.reachable_wh or 0))
            + ev_element("effectivePower", xml_decimal(kilowatts(confirmation.effective_power_kw)))
            + ev_element("departureTime", xml_datetime(session.departure_utc))
            + (_ref("Tariff", session.tariff_id) if session.tariff_id else "") + "</ev:ChargingConfirmation>")


def charging_type(session: Session) -> str:
    """:func:`~evgrid.mappings.ev_charging.charging_type_to_cim` (1.2 / 3.1), written."""
    return ("<ev:ChargingType>" + _ref("ChargingSession", session.session_id) + ev_element("kind", _KINDS[session.kind])
            + _ref("ElectricVehicle", session.ev_id) + _account("OwnerAccount", session.owner_account_id)
            + _account("HostAccount", session.host_account_id) + "</ev:ChargingType>")


def _pricing_structure(tariff: Tariff, rate: Rate) -> str:
    return wrap("ev", "PricingStructure", ev_element("mRID", f"{tariff.tariff_id}:{rate.value}") + ev_element("name", tariff.name)
                 + ev_element("code", rate.value))


def _tariff(tariff: Tariff, windows: tuple[PricedWindow, ...]) -> str:
    parts = [ev_element("mRID", tariff.tariff_id), ev_element("name", tariff.name), ev_element("currency", tariff.currency)]
    for window in windows:
        parts.append(wrap("ev", "TimeTariffInterval", ev_element("sequenceNumber", str(window.sequence))
                           + ev_element("startTime", xml_datetime(window.start_utc))
                           + ev_element("endTime", xml_datetime(window.end_utc))
                           + ev_element("price", xml_decimal(window.price_per_kwh)) + ev_element("label", window.label)))
    return wrap("ev", "Tariff", "".join(parts))


def applicable_rate(confirmation: Confirmation) -> str:
    """:func:`~evgrid.mappings.ev_charging.applicable_rate_to_cim` (2.1 / 3.1.2), written."""
    session, tariff = confirmation.session, confirmation.tariff
    if tariff is None or session.rate is None or not confirmation.windows:
        raise MappingError(f"session {session.session_id} has no applicable rate", mrid=session.session_id)
    return ("<ev:ApplicableRate>" + _ref("ChargingSession", session.session_id) + ev_element("kind", _KINDS[session.kind])
            + _account("ChargedAccount", session.owner_account_id, confirmation.owner_customer_id)
            + _pricing_structure(tariff, session.rate) + _tariff(tariff, confirmation.windows)
            + "</ev:ApplicableRate>")


def allotment(session: Session, allotment: Allotment) -> str:
    """:func:`~evgrid.mappings.ev_charging.allotment_to_cim` (2.2 / 2.2.1 / 3.2 / 3.2.1), written."""
    length = timedelta(minutes=allotment.slot_minutes)
    powers: dict[object, str] = {}  # the same few powers over and over
    slots: list[str] = []
    first = last = None
    end_text = ""
    for start, kw in allotment.slots:
        if not kw > 0:
            continue
        power = powers.get(kw)
        if power is None:
            power = powers[kw] = xml_decimal(kilowatts(kw))
        end = start + length
        start_text, end_text = xml_datetime(start), xml_datetime(end)
        if first is None:
            first = start_text
        last = end_text
        slots.append(f"<ev:Slot><ev:start>{start_text}</ev:start><ev:end>{end_text}</ev:end>"
                     f"<ev:power>{power}</ev:power></ev:Slot>")
    if first is None:
        raise MappingError(f"session {session.session_id} has no slot with power", mrid=session.session_id)
    return ("<ev:TimeSlotAllotment>" + _ref("ChargingSession", session.session_id)
            + _ref("ChargingStation", session.station_id)
            + wrap("ev", "PowerTransformer", ev_element("mRID", allotment.transformer_id))
            + ev_element("kind", _KINDS[session.kind])
            + f"<ev:scheduledInterval><ev:end>{last}</ev:end><ev:start>{first}</ev:start></ev:scheduledInterval>"
            + ev_element("plannedEnergy", str(allotment.planned_wh)) + "".join(slots) + "</ev:TimeSlotAllotment>")


def charging_reply_payload(confirmation_: Confirmation) -> tuple[Written, ...]:
    """The reply to a ChargingRequest: confirmation, charging type, applicable rate and allotment."""
    session = confirmation_.session
    return (Written(confirmation(confirmation_)), Written(charging_type(session)),
            Written(applicable_rate(confirmation_)), Written(allotment(session, confirmation_.allotment)))


# ------------------------------------------------------- outbound events
def third_party(event: events.ThirdPartyRecorded) -> str:
    """:func:`~evgrid.mappings.ev_charging.third_party_to_cim` (3.1.1), written."""
    session = event.session
    return ("<ev:ThirdPartyCharging>" + _ref("ChargingSession", session.session_id)
            + _ref("ElectricVehicle", session.ev_id)
            + _account("OwnerAccount", session.owner_account_id, event.owner_customer_id)
            + _account("HostAccount", session.host_account_id, event.host_customer_id)
            + _usage_point("HostUsagePoint", event.usage_point_id, session) + "</ev:ThirdPartyCharging>")


def consumption(event: events.ConsumptionForBilling) -> str:
    """:func:`~evgrid.mappings.ev_charging.consumption_to_cim` (4.1), written."""
    session = event.session
    start = session.started_utc or session.plugged_in_utc
    end = session.completed_utc or start
    return ("<ev:ChargingConsumption>" + _ref("ChargingSession", session.session_id)
            + ev_element("kind", _KINDS[session.kind]) + _ref("ElectricVehicle", session.ev_id)
            + _account("ChargedAccount", session.owner_account_id)
            + (_account("HostAccount", session.host_account_id) if session.third_party else "")
            + _interval("ev", "interval", start, end) + ev_element("consumedEnergy", str(session.consumed_wh or 0))
            + _tariff(event.tariff, event.windows)
            + (_pricing_structure(event.tariff, event.rate) if event.rate else "")
            + (_usage_point("UsagePoint", event.usage_point_id, session) if event.usage_point_id is not None else "")
            + "</ev:ChargingConsumption>")


def bill(bill: events.BillInformation) -> str:
    """:func:`~evgrid.mappings.ev_charging.bill_to_cim` (4.1.1), written."""
    charges = "".join(
        wrap("ev", "Charge", ev_element("kind", line.label) + ev_element("energy", str(line.energy_wh))
              + ev_element("unitPrice", xml_decimal(line.price_per_kwh)) + ev_element("amount", xml_decimal(line.amount))
              + (ev_element("intervals", str(line.intervals)) + ev_element("estimatedIntervals", str(line.estimated))
                 if line.intervals else ""))
        for line in bill.lines)
    return ("<ev:BillingInformation>" + ev_element("mRID", bill.bill_id) + _ref("ChargingSession", bill.session_id)
            + _account("CustomerAccount", bill.account_id) + ev_element("issuedDateTime", xml_datetime(bill.issued_utc))
            + ev_element("currency", bill.currency) + charges + ev_element("totalEnergy", str(bill.energy_wh))
            + ev_element("totalAmount", xml_decimal(bill.amount)) + "</ev:BillingInformation>")


def acknowledgment(event: events.SessionAcknowledged) -> str:
    """:func:`~evgrid.mappings.ev_charging.acknowledgment_to_cim` (4.1.2), written."""
    return ("<ev:ChargingAcknowledgment>" + _ref("ChargingSession", event.session_id) + "<ev:status>billed</ev:status>"
            + _ref("BillingInformation", event.bill_id) + _ref("CustomerAccount", event.account_id)
            + "</ev:ChargingAcknowledgment>")


def switch(session: Session, close: bool) -> str:
    """:func:`~evgrid.mappings.ev_charging.switch_to_cim` (2.3 / 3.3), written."""
    code = codes.CONNECT_LOAD_SWITCH if close else codes.DISCONNECT_LOAD_SWITCH
    start, end = session.planned_start_utc, session.planned_end_utc
    timing = ""
    if close and start is not None:
        timing = wrap("edc", "primaryDeviceTiming", _interval("edc", "interval", start, end))
    return ("<edc:EndDeviceControls><edc:EndDeviceControl>"
            + element("edc", "mRID", f"{session.session_id}:{'start' if close else 'stop'}")
            + "<edc:issuerID>evgrid-scheduler</edc:issuerID>"
            + ("<edc:reason>start charging</edc:reason>" if close else "<edc:reason>stop charging</edc:reason>")
            + f'<edc:EndDeviceControlType ref="{code.translate(ATTRIBUTE_ESCAPES)}"/>'
            + wrap("edc", "EndDevices", element("edc", "mRID", session.station_id)) + timing
            + "</edc:EndDeviceControl></edc:EndDeviceControls>")


_REGISTER_TYPE = f'<mr:ReadingType ref="{codes.REGISTER_WH.translate(ATTRIBUTE_ESCAPES)}"/>'
_INTERVAL_TYPE = f'<mr:ReadingType ref="{codes.INTERVAL_15MIN_WH.translate(ATTRIBUTE_ESCAPES)}"/>'


def readings(readings: MeterReadingSet) -> str:
    """:func:`~evgrid.mappings.meter_readings.readings_to_cim`, written.

    One MeterReading per meter (and usage point), in the order first met: its interval
    readings in one IntervalBlock, its registers as Readings (schema order: IntervalBlocks,
    Meter, Readings, UsagePoint).
    """
    grouped: dict[tuple[str, str | None], tuple[list[str], list[str]]] = {}
    for register in readings.registers:
        entry = grouped.setdefault((register.meter_mrid, register.usage_point_mrid), ([], []))
        entry[0].append(f"<mr:Readings><mr:timeStamp>{xml_datetime(register.timestamp_utc)}</mr:timeStamp>"
                        f"{element('mr', 'value', str(register.energy_wh))}{_REGISTER_TYPE}</mr:Readings>")
    for block in readings.intervals:
        entry = grouped.setdefault((block.meter_mrid, block.usage_point_mrid), ([], []))
        entry[1].extend(f"<mr:IntervalReadings><mr:timeStamp>{xml_datetime(end)}</mr:timeStamp>"
                        f"{element('mr', 'value', str(wh))}</mr:IntervalReadings>" for end, wh in block.readings)
    parts = []
    for (meter, usage_point), (registers, intervals) in grouped.items():
        parts.append("<mr:MeterReading>")
        if intervals:
            parts.append("<mr:IntervalBlocks>" + "".join(intervals) + _INTERVAL_TYPE + "</mr:IntervalBlocks>")
        parts.append(wrap("mr", "Meter", element("mr", "mRID", meter)))
        parts.extend(registers)
        if usage_point:
            parts.append(wrap("mr", "UsagePoint", element("mr", "mRID", usage_point)))
        parts.append("</mr:MeterReading>")
    return wrap("mr", "MeterReadings", "".join(parts))
