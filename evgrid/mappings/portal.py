"""The Customer Communication Portal's side of the CIM messages: portal domain <-> CIM.

What a portal sends (1.1.2 ChargingRequest, 2.3.1 / 2.3.3 and interval MeterReadings, 2.3.4
ChargingCompletion, 3.3.5 UsageAssignment) is built here from the portal's own values;
what it receives (the request's reply: ChargingConfirmation, ChargingType and
TimeSlotAllotment; 2.3 EndDeviceControls; 4.1.1 BillingInformation) is read here into
frozen values of :mod:`evgrid.portal.model`. The portal itself never touches CIM classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from evgrid.cim.generated import end_device_controls as edc
from evgrid.cim.generated import end_device_events as ede
from evgrid.cim.generated import ev_charging as ev
from evgrid.cim.generated import meter_readings as mr
from evgrid.errors import MappingError
from evgrid.mappings import codes
from evgrid.mappings.ev_charging import bill_from_cim, kilowatts, reference, utc, xml_time
from evgrid.operations.metering import Interval, Register
from evgrid.portal.model import Allotted, Bill, Completed, Confirmed, PlugIn, Site, SwitchOrder


def _usage_point(site: Site) -> ev.UsagePoint:
    """The site's usage point with its premise and meter, as the operation system's registry knows them."""
    return ev.UsagePoint(
        m_rid=site.usage_point_id,
        service_location=ev.ServiceLocation(m_rid=f"SL-{site.premise_number}", premise_number=site.premise_number),
        meter=ev.Meter(m_rid=site.meter_number))


def charging_request_to_cim(site: Site, plug: PlugIn) -> ev.ChargingRequest:
    """1.1.1 -> 1.1.2: the EV's identity and needs, with the portal's customer and location."""
    return ev.ChargingRequest(
        m_rid=plug.request_mrid, created_date_time=xml_time(plug.plugged_in_utc),
        electric_vehicle=ev.ElectricVehicle(m_rid=plug.ev_id, max_power=kilowatts(plug.ev_max_power_kw)),
        charging_station=ev.ChargingStation(m_rid=site.station_id, rated_power=kilowatts(site.station_max_kw)),
        customer=ev.Customer(m_rid=site.customer_id),
        usage_point=_usage_point(site),
        requested_energy=plug.requested_wh, departure_time=xml_time(plug.departure_utc),
        max_power=kilowatts(min(plug.ev_max_power_kw, site.station_max_kw)),
    )


def readings_to_cim(site: Site, registers: Sequence[Register], intervals: Sequence[Interval]) -> mr.MeterReadings:
    """2.3.1 / 2.3.3 and each 15-minute boundary: register reads (Wh) and the intervals between them.

    IEC 61968-9 MeterReading: each register read is a ``Readings`` of the forward active
    energy register; the intervals are one ``IntervalBlocks`` of 15-minute delta data, each
    ``IntervalReadings`` stamped with the end of its interval. No block when there are none
    (the start, or a span the meter data management estimates).
    """
    readings = [mr.Reading(time_stamp=xml_time(read.at_utc), value=str(read.wh),
                           reading_type=mr.Reading.ReadingType(ref=codes.REGISTER_WH)) for read in registers]
    blocks = [mr.IntervalBlock(
        interval_readings=[mr.IntervalReading(time_stamp=xml_time(interval.end_utc), value=str(interval.wh))
                           for interval in intervals],
        reading_type=mr.IntervalBlock.ReadingType(ref=codes.INTERVAL_15MIN_WH))] if intervals else []
    return mr.MeterReadings(meter_reading=[mr.MeterReading(
        meter=mr.Meter(m_rid=site.meter_number), usage_point=mr.UsagePoint(m_rid=site.usage_point_id),
        readings=readings, interval_blocks=blocks)])


def device_event_to_cim(site: Site, code: str, ev_id: str, at_utc: datetime, mrid: str,
                        reason: str) -> ede.EndDeviceEvents:
    """1 / 2.3.2 / 3.3.2: a station event the portal relays (EV plugged in, charging complete)."""
    return ede.EndDeviceEvents(end_device_event=[ede.EndDeviceEvent(
        m_rid=mrid, created_date_time=xml_time(at_utc), issuer_id=site.station_id, reason=reason,
        assets=ede.Asset(m_rid=site.station_id),
        end_device_event_details=[ede.EndDeviceEventDetail(name="EVId", value=ev_id)],
        end_device_event_type=ede.EndDeviceEvent.EndDeviceEventType(ref=code),
        usage_point=ede.UsagePoint(m_rid=site.usage_point_id),
    )])


def completion_to_cim(site: Site, done: Completed) -> ev.ChargingCompletion:
    """2.3.4 / 3.3.4: start and end registers of the session and why it ended."""
    return ev.ChargingCompletion(
        charging_session=reference(done.session_id), charging_station=reference(site.station_id),
        electric_vehicle=reference(done.ev_id), meter=ev.Meter(m_rid=site.meter_number),
        actual_interval=ev.DateTimeInterval(start=xml_time(done.started_utc), end=xml_time(done.completed_utc)),
        start_register=done.start_register_wh, end_register=done.end_register_wh,
        consumed_energy=done.consumed_wh, reason=ev.CompletionReason(done.reason),
    )


def usage_assignment_to_cim(site: Site, done: Completed, owner_account_id: str,
                            owner_customer_id: str | None) -> ev.UsageAssignment:
    """3.3.5: the host's portal hands a third-party session's energy to the EV owner."""
    return ev.UsageAssignment(
        charging_session=reference(done.session_id), electric_vehicle=reference(done.ev_id),
        host_usage_point=_usage_point(site),
        from_account=ev.CustomerAccount(m_rid=site.account_id, customer=ev.Customer(m_rid=site.customer_id)),
        to_account=ev.CustomerAccount(
            m_rid=owner_account_id,
            customer=ev.Customer(m_rid=owner_customer_id) if owner_customer_id else None),
        interval=ev.DateTimeInterval(start=xml_time(done.started_utc), end=xml_time(done.completed_utc)),
        energy=done.consumed_wh,
    )


def confirmation_from_cim(confirmation: ev.ChargingConfirmation,
                          charging_type: ev.ChargingType | None) -> Confirmed:
    """2.1.1 / 3.1.3 (and 1.2 / 3.1 from the ChargingType): what the request's reply says."""
    owner = charging_type.owner_account if charging_type else None
    return Confirmed(
        request_mrid=confirmation.charging_request.m_rid, session_id=confirmation.charging_session.m_rid,
        third_party=confirmation.kind is ev.ChargingKind.THIRD_PARTY,
        requested_wh=confirmation.requested_energy, reachable_wh=confirmation.reachable_energy,
        owner_account_id=owner.m_rid if owner else None,
        owner_customer_id=owner.customer.m_rid if owner and owner.customer else None,
    )


def allotment_from_cim(allotment: ev.TimeSlotAllotment) -> Allotted:
    """2.2.1 / 3.2.1: the slots (start, end, kW) the scheduler gave the session."""
    slots = tuple((utc(s.start, "Slot/start"), utc(s.end, "Slot/end"), float(s.power)) for s in allotment.slot)
    if not slots:
        raise MappingError("a TimeSlotAllotment without slots", path="TimeSlotAllotment/Slot")
    return Allotted(session_id=allotment.charging_session.m_rid, station_id=allotment.charging_station.m_rid,
                    slots=slots, planned_wh=allotment.planned_energy)


def switch_from_cim(controls: edc.EndDeviceControls) -> tuple[SwitchOrder, ...]:
    """2.3 / 3.3: each EndDeviceControl as (station, close or open, session)."""
    orders = []
    for control in controls.end_device_control:
        code = control.end_device_control_type.ref if control.end_device_control_type else None
        if code not in (codes.CONNECT_LOAD_SWITCH, codes.DISCONNECT_LOAD_SWITCH):
            raise MappingError(f"EndDeviceControlType {code} is not a load switch connect/disconnect",
                               path="EndDeviceControl/EndDeviceControlType")
        if not control.end_devices:
            raise MappingError("an EndDeviceControl names no EndDevice", path="EndDeviceControl/EndDevices")
        session_id = (control.m_rid or "").rsplit(":", 1)[0] or None
        for device in control.end_devices:
            orders.append(SwitchOrder(station_id=device.m_rid, close=code == codes.CONNECT_LOAD_SWITCH,
                                      session_id=session_id, control_mrid=control.m_rid))
    return tuple(orders)


def bill_for_portal(bill: ev.BillingInformation) -> Bill:
    """4.1.1: the bill information the owner's portal keeps."""
    info = bill_from_cim(bill)
    return Bill(bill_id=info.bill_id, session_id=info.session_id, account_id=info.account_id,
                energy_wh=info.energy_wh, amount=info.amount, currency=info.currency, issued_utc=info.issued_utc)
