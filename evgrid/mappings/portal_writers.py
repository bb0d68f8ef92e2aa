"""What a portal sends, written directly: the codec's (xsdata's) bytes for :mod:`evgrid.mappings.portal`.

Every session makes a portal send eight or so messages (EndDeviceEvents, ChargingRequest,
a MeterReadings at the start, at every 15-minute boundary and at the end,
ChargingCompletion, a UsageAssignment at a third-party site). xsdata's generic serializer
takes about a millisecond for each; written here as text from the portal's own values,
they cost a few tens of microseconds. Each function gives exactly the bytes of
``codec.dump(env.request(...))`` / ``codec.dump(env.event(...))`` around the generated
object the matching :mod:`evgrid.mappings.portal` function builds
(tests/unit/mappings/test_portal_writers.py checks it over many cases, and that each
message validates). The envelope, escaping and value formats are those of
:mod:`evgrid.mappings.writers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from evgrid.cim import envelope as env
from evgrid.cim.generated import ev_charging as ev
from evgrid.mappings import codes, writers
from evgrid.mappings.ev_charging import kilowatts
from evgrid.mappings.writers import ATTRIBUTE_ESCAPES, element, ev_element, wrap, xml_datetime, xml_decimal
from evgrid.operations.metering import Interval, Register
from evgrid.portal.model import Completed, PlugIn, Site

_REGISTER_TYPE = f'<mr:ReadingType ref="{codes.REGISTER_WH.translate(ATTRIBUTE_ESCAPES)}"/>'
_INTERVAL_TYPE = f'<mr:ReadingType ref="{codes.INTERVAL_15MIN_WH.translate(ATTRIBUTE_ESCAPES)}"/>'


def _ref(tag: str, mrid: str) -> str:
    return wrap("ev", tag, ev_element("mRID", mrid))


def _usage_point(tag: str, site: Site) -> str:
    location = ev_element("mRID", f"SL-{site.premise_number}") + ev_element("premiseNumber", site.premise_number)
    return wrap("ev", tag, ev_element("mRID", site.usage_point_id) + wrap("ev", "ServiceLocation", location)
                 + _ref("Meter", site.meter_number))


def _interval(tag: str, start: datetime, end: datetime) -> str:
    # The generated DateTimeInterval declares end before start: xsdata writes them so.
    return f"<ev:{tag}><ev:end>{xml_datetime(end)}</ev:end><ev:start>{xml_datetime(start)}</ev:start></ev:{tag}>"


def _source(site: Site) -> str:
    return f"portal-{site.premise_number}"


def charging_request(site: Site, plug: PlugIn, message_id: str, timestamp: datetime | None = None) -> bytes:
    """``create ChargingRequest`` of :func:`~evgrid.mappings.portal.charging_request_to_cim` (1.1.2)."""
    payload = ("<ev:ChargingRequest>" + ev_element("mRID", plug.request_mrid)
               + ev_element("createdDateTime", xml_datetime(plug.plugged_in_utc))
               + wrap("ev", "ElectricVehicle", ev_element("mRID", plug.ev_id)
                       + ev_element("maxPower", xml_decimal(kilowatts(plug.ev_max_power_kw))))
               + wrap("ev", "ChargingStation", ev_element("mRID", site.station_id)
                       + ev_element("ratedPower", xml_decimal(kilowatts(site.station_max_kw))))
               + _ref("Customer", site.customer_id) + _usage_point("UsagePoint", site)
               + ev_element("requestedEnergy", str(plug.requested_wh))
               + ev_element("departureTime", xml_datetime(plug.departure_utc))
               + ev_element("maxPower", xml_decimal(kilowatts(min(plug.ev_max_power_kw, site.station_max_kw))))
               + "</ev:ChargingRequest>")
    return writers.message(env.Verb.CREATE, "ChargingRequest", payload, source=_source(site),
                           message_id=message_id, timestamp=timestamp)


def readings(site: Site, registers: Sequence[Register], intervals: Sequence[Interval], message_id: str,
             timestamp: datetime | None = None) -> bytes:
    """``created MeterReadings`` of :func:`~evgrid.mappings.portal.readings_to_cim` (2.3.1 / 2.3.3, boundaries)."""
    parts = ["<mr:MeterReadings><mr:MeterReading>"]
    if intervals:
        parts.append("<mr:IntervalBlocks>")
        parts.extend(f"<mr:IntervalReadings><mr:timeStamp>{xml_datetime(i.end_utc)}</mr:timeStamp>"
                     f"<mr:value>{i.wh}</mr:value></mr:IntervalReadings>" for i in intervals)
        parts.append(_INTERVAL_TYPE + "</mr:IntervalBlocks>")
    parts.append(wrap("mr", "Meter", element("mr", "mRID", site.meter_number)))
    parts.extend(f"<mr:Readings><mr:timeStamp>{xml_datetime(r.at_utc)}</mr:timeStamp><mr:value>{r.wh}</mr:value>"
                 f"{_REGISTER_TYPE}</mr:Readings>" for r in registers)
    parts.append(wrap("mr", "UsagePoint", element("mr", "mRID", site.usage_point_id)))
    parts.append("</mr:MeterReading></mr:MeterReadings>")
    return writers.message(env.Verb.CREATED, "MeterReadings", "".join(parts), source=_source(site),
                           message_id=message_id, timestamp=timestamp)


def device_event(site: Site, code: str, ev_id: str, at_utc: datetime, mrid: str, reason: str,
                 message_id: str, timestamp: datetime | None = None) -> bytes:
    """``created EndDeviceEvents`` of :func:`~evgrid.mappings.portal.device_event_to_cim` (1, 2.3.2, 3.3.2)."""
    payload = ("<ede:EndDeviceEvents><ede:EndDeviceEvent>" + element("ede", "mRID", mrid)
               + element("ede", "createdDateTime", xml_datetime(at_utc)) + element("ede", "issuerID", site.station_id)
               + element("ede", "reason", reason) + wrap("ede", "Assets", element("ede", "mRID", site.station_id))
               + wrap("ede", "EndDeviceEventDetails", element("ede", "name", "EVId") + element("ede", "value", ev_id))
               + f'<ede:EndDeviceEventType ref="{code.translate(ATTRIBUTE_ESCAPES)}"/>'
               + wrap("ede", "UsagePoint", element("ede", "mRID", site.usage_point_id))
               + "</ede:EndDeviceEvent></ede:EndDeviceEvents>")
    return writers.message(env.Verb.CREATED, "EndDeviceEvents", payload, source=_source(site),
                           message_id=message_id, timestamp=timestamp)


def completion(site: Site, done: Completed, message_id: str, timestamp: datetime | None = None) -> bytes:
    """``created ChargingCompletion`` of :func:`~evgrid.mappings.portal.completion_to_cim` (2.3.4 / 3.3.4).

    Raises:
        ValueError: ``done.reason`` is not a CompletionReason, as the generated enum raises.
    """
    payload = ("<ev:ChargingCompletion>" + _ref("ChargingSession", done.session_id)
               + _ref("ChargingStation", site.station_id) + _ref("ElectricVehicle", done.ev_id)
               + _ref("Meter", site.meter_number) + _interval("actualInterval", done.started_utc, done.completed_utc)
               + ev_element("startRegister", str(done.start_register_wh)) + ev_element("endRegister", str(done.end_register_wh))
               + ev_element("consumedEnergy", str(done.consumed_wh))
               + ev_element("reason", ev.CompletionReason(done.reason).value)
               + "</ev:ChargingCompletion>")
    return writers.message(env.Verb.CREATED, "ChargingCompletion", payload, source=_source(site),
                           message_id=message_id, timestamp=timestamp)


def usage_assignment(site: Site, done: Completed, owner_account_id: str, owner_customer_id: str | None,
                     message_id: str, timestamp: datetime | None = None) -> bytes:
    """``created UsageAssignment`` of :func:`~evgrid.mappings.portal.usage_assignment_to_cim` (3.3.5)."""
    owner_customer = _ref("Customer", owner_customer_id) if owner_customer_id else ""
    payload = ("<ev:UsageAssignment>" + _ref("ChargingSession", done.session_id) + _ref("ElectricVehicle", done.ev_id)
               + _usage_point("HostUsagePoint", site)
               + wrap("ev", "FromAccount", ev_element("mRID", site.account_id) + _ref("Customer", site.customer_id))
               + wrap("ev", "ToAccount", ev_element("mRID", owner_account_id) + owner_customer)
               + _interval("interval", done.started_utc, done.completed_utc) + ev_element("energy", str(done.consumed_wh))
               + "</ev:UsageAssignment>")
    return writers.message(env.Verb.CREATED, "UsageAssignment", payload, source=_source(site),
                           message_id=message_id, timestamp=timestamp)
