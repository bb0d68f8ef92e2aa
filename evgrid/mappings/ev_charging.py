"""evgrid's extension profile (EvCharging.xsd) <-> the EV Operation System's domain.

These nouns arrive once per charging session, so they are bound with the generated
xsdata classes (typed, simple) rather than mapped from the tree by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from xsdata.models.datatype import XmlDateTime

from evgrid.cim.generated import end_device_controls as edc
from evgrid.cim.generated import end_device_events as ede
from evgrid.cim.generated import ev_charging as ev
from evgrid.errors import MappingError
from evgrid.mappings import codes
from evgrid.operations import events
from evgrid.operations.handlers import Completion, Confirmation, DeviceEvent, DeviceEventKind, UsageAssignment
from evgrid.operations.model import ChargingKind, ChargingRequest, Rate, Tariff
from evgrid.operations.ports import Allotment
from evgrid.operations.rates import ChargeLine, PricedWindow
from evgrid.operations.session import Session

KINDS = {ChargingKind.HOME: ev.ChargingKind.HOME, ChargingKind.THIRD_PARTY: ev.ChargingKind.THIRD_PARTY}


def utc(value: XmlDateTime | None, path: str) -> datetime:
    """An xs:dateTime with a time zone, as aware UTC."""
    if value is None or value.offset is None:
        raise MappingError(f"{path} needs a date, time and time zone", path=path)
    return value.to_datetime().astimezone(UTC)


def xml_time(moment: datetime) -> XmlDateTime:
    """Aware UTC -> xs:dateTime."""
    return XmlDateTime.from_datetime(moment.astimezone(UTC))


def reference(mrid: str) -> ev.Reference:
    """A CIM reference to another object by its mRID."""
    return ev.Reference(m_rid=mrid)


def _account(account_id: str, customer_id: str | None = None) -> ev.CustomerAccount:
    return ev.CustomerAccount(m_rid=account_id, customer=ev.Customer(m_rid=customer_id) if customer_id else None)


def kilowatts(value: Decimal | float) -> Decimal:
    """A power in kW as the profile carries it: three decimals (watts)."""
    return Decimal(str(value)).quantize(Decimal("0.001"))


# ------------------------------------------------------------------ inbound
def charging_request_from_cim(request: ev.ChargingRequest) -> ChargingRequest:
    """1.1.2: the portal's ChargingRequest; its createdDateTime is the plug-in time."""
    location = request.usage_point.service_location
    return ChargingRequest(
        request_mrid=request.m_rid, ev_id=request.electric_vehicle.m_rid,
        station_id=request.charging_station.m_rid, customer_id=request.customer.m_rid,
        usage_point_id=request.usage_point.m_rid,
        premise_number=location.premise_number if location else None,
        requested_wh=request.requested_energy,
        departure_utc=utc(request.departure_time, "ChargingRequest/departureTime"),
        max_power_kw=request.max_power,
        plugged_in_utc=utc(request.created_date_time, "ChargingRequest/createdDateTime"),
        ev_max_power_kw=request.electric_vehicle.max_power,
    )


DEVICE_EVENT_KINDS = {codes.EV_PLUGGED_IN: DeviceEventKind.PLUGGED_IN, codes.EV_UNPLUGGED: DeviceEventKind.UNPLUGGED,
                      codes.EV_CHARGING_COMPLETE: DeviceEventKind.CHARGING_COMPLETE}


def device_events_from_cim(message: ede.EndDeviceEvents) -> tuple[DeviceEvent, ...]:
    """1 / 2.3.2 / 3.3.2: station events relayed by a portal (plug-in, charging complete)."""
    found = []
    for event in message.end_device_event:
        code = event.end_device_event_type.ref if event.end_device_event_type else ""
        station = event.assets.m_rid if event.assets else event.issuer_id
        if not station:
            raise MappingError("an EndDeviceEvent names no station (Assets or issuerID)", path="EndDeviceEvent/Assets")
        ev_id = next((d.value for d in event.end_device_event_details if d.name == "EVId"), None)
        found.append(DeviceEvent(DEVICE_EVENT_KINDS.get(code, DeviceEventKind.OTHER), station, ev_id,
                                 utc(event.created_date_time, "EndDeviceEvent/createdDateTime"),
                                 event.usage_point.m_rid if event.usage_point else None))
    return tuple(found)


def completion_from_cim(completion: ev.ChargingCompletion) -> Completion:
    """2.3.4 / 3.3.4."""
    if completion.consumed_energy != completion.end_register - completion.start_register:
        raise MappingError("consumedEnergy is not endRegister - startRegister", path="ChargingCompletion")
    interval = completion.actual_interval
    return Completion(
        session_id=completion.charging_session.m_rid, meter_number=completion.meter.m_rid,
        started_utc=utc(interval.start, "actualInterval/start"),
        completed_utc=utc(interval.end, "actualInterval/end"),
        start_register_wh=completion.start_register, end_register_wh=completion.end_register,
        reason=completion.reason.value,
    )


def usage_assignment_from_cim(assignment: ev.UsageAssignment) -> UsageAssignment:
    """3.3.5."""
    return UsageAssignment(
        session_id=assignment.charging_session.m_rid, from_account_id=assignment.from_account.m_rid,
        to_account_id=assignment.to_account.m_rid, energy_wh=assignment.energy,
    )


def bill_from_cim(bill: ev.BillingInformation) -> events.BillInformation:
    """4.1.1: bill information from the Customer Billing System.

    A Charge without ``intervals`` was priced from the registers alone (0 intervals).
    """
    lines = tuple(ChargeLine(c.kind, c.energy, c.unit_price, c.amount, c.intervals or 0, c.estimated_intervals or 0)
                  for c in bill.charge)
    for line in lines:
        if line.intervals < 0 or not 0 <= line.estimated <= line.intervals:
            raise MappingError(f"charge {line.label!r}: {line.estimated} estimated of {line.intervals} intervals",
                               path="BillingInformation/Charge/estimatedIntervals")
    if sum(line.energy_wh for line in lines) != bill.total_energy:
        raise MappingError("the charges' energy does not add up to totalEnergy", path="BillingInformation")
    if sum((line.amount for line in lines), Decimal(0)) != bill.total_amount:
        raise MappingError("the charges' amounts do not add up to totalAmount", path="BillingInformation")
    return events.BillInformation(
        bill_id=bill.m_rid, session_id=bill.charging_session.m_rid, account_id=bill.customer_account.m_rid,
        currency=bill.currency, lines=lines, energy_wh=bill.total_energy, amount=bill.total_amount,
        issued_utc=utc(bill.issued_date_time, "BillingInformation/issuedDateTime"),
    )


# ----------------------------------------------------------------- outbound
def confirmation_to_cim(confirmation: Confirmation) -> ev.ChargingConfirmation:
    """2.1.1 / 3.1.3: the payload of the reply to a ChargingRequest."""
    session = confirmation.session
    return ev.ChargingConfirmation(
        charging_request=reference(session.request_mrid), charging_session=reference(session.session_id),
        kind=KINDS[session.kind], requested_energy=session.requested_wh,
        reachable_energy=session.reachable_wh or 0, effective_power=kilowatts(confirmation.effective_power_kw),
        departure_time=xml_time(session.departure_utc),
        tariff=reference(session.tariff_id) if session.tariff_id else None,
    )


def charging_type_to_cim(session: Session) -> ev.ChargingType:
    """1.2 / 3.1: home or third party, with the accounts of the EV owner and of the host."""
    return ev.ChargingType(
        charging_session=reference(session.session_id), kind=KINDS[session.kind], electric_vehicle=reference(session.ev_id),
        owner_account=_account(session.owner_account_id), host_account=_account(session.host_account_id),
    )


def allotment_to_cim(session: Session, allotment: Allotment) -> ev.TimeSlotAllotment:
    """2.2 / 2.2.1 / 3.2 / 3.2.1."""
    length = timedelta(minutes=allotment.slot_minutes)
    slots = [ev.Slot(start=xml_time(start), end=xml_time(start + length), power=kilowatts(kw))
             for start, kw in allotment.slots if kw > 0]
    if not slots:
        raise MappingError(f"session {session.session_id} has no slot with power", mrid=session.session_id)
    return ev.TimeSlotAllotment(
        charging_session=reference(session.session_id), charging_station=reference(session.station_id),
        power_transformer=ev.PowerTransformer(m_rid=allotment.transformer_id), kind=KINDS[session.kind],
        scheduled_interval=ev.DateTimeInterval(start=slots[0].start, end=slots[-1].end),
        planned_energy=allotment.planned_wh, slot=slots,
    )


def third_party_to_cim(event: events.ThirdPartyRecorded) -> ev.ThirdPartyCharging:
    """3.1.1."""
    session = event.session
    return ev.ThirdPartyCharging(
        charging_session=reference(session.session_id), electric_vehicle=reference(session.ev_id),
        owner_account=_account(session.owner_account_id, event.owner_customer_id),
        host_account=_account(session.host_account_id, event.host_customer_id),
        host_usage_point=ev.UsagePoint(
            m_rid=event.usage_point_id,
            service_location=ev.ServiceLocation(m_rid=session.premise_number,
                                                premise_number=session.premise_number),
            meter=ev.Meter(m_rid=session.meter_number)),
    )


def _tariff_to_cim(tariff: Tariff, windows: tuple[PricedWindow, ...]) -> ev.Tariff:
    return ev.Tariff(
        m_rid=tariff.tariff_id, name=tariff.name, currency=tariff.currency,
        time_tariff_interval=[_window_to_cim(window) for window in windows],
    )


def pricing_structure_to_cim(tariff: Tariff, rate: Rate) -> ev.PricingStructure:
    """2.1 / 3.1.2 / 4.1: the rate told, ``<tariff id>:<rate>`` with the rate as its code."""
    return ev.PricingStructure(m_rid=f"{tariff.tariff_id}:{rate.value}", name=tariff.name, code=rate.value)


def applicable_rate_to_cim(confirmation: Confirmation) -> ev.ApplicableRate:
    """2.1 / 3.1.2: the EV owner's tariff and rate, with its prices from plug-in to departure.

    Charged to the EV owner's account, also for a quick charge at another customer's premise.
    """
    session, tariff = confirmation.session, confirmation.tariff
    if tariff is None or session.rate is None or not confirmation.windows:
        raise MappingError(f"session {session.session_id} has no applicable rate", mrid=session.session_id)
    return ev.ApplicableRate(
        charging_session=reference(session.session_id), kind=KINDS[session.kind],
        charged_account=_account(session.owner_account_id, confirmation.owner_customer_id),
        pricing_structure=pricing_structure_to_cim(tariff, session.rate),
        tariff=_tariff_to_cim(tariff, confirmation.windows),
    )


def _window_to_cim(window: PricedWindow) -> ev.TimeTariffInterval:
    return ev.TimeTariffInterval(
        sequence_number=window.sequence, start_time=xml_time(window.start_utc),
        end_time=xml_time(window.end_utc), price=window.price_per_kwh, label=window.label,
    )


def consumption_to_cim(event: events.ConsumptionForBilling) -> ev.ChargingConsumption:
    """4.1: charged to the EV owner's account, whatever premise it was charged at.

    The Tariff carries the session's rate over every metered 15-minute interval of the
    session, PricingStructure names that rate (as told at 2.1 / 3.1.2), and UsagePoint
    (with premise and meter) is where billing fetches the metered intervals.
    """
    session = event.session
    start = session.started_utc or session.plugged_in_utc
    end = session.completed_utc or start
    usage_point = None
    if event.usage_point_id is not None:
        usage_point = ev.UsagePoint(
            m_rid=event.usage_point_id,
            service_location=ev.ServiceLocation(m_rid=session.premise_number, premise_number=session.premise_number),
            meter=ev.Meter(m_rid=session.meter_number))
    return ev.ChargingConsumption(
        charging_session=reference(session.session_id), kind=KINDS[session.kind],
        electric_vehicle=reference(session.ev_id), charged_account=_account(session.owner_account_id),
        host_account=_account(session.host_account_id) if session.third_party else None,
        interval=ev.DateTimeInterval(start=xml_time(start), end=xml_time(end)),
        consumed_energy=session.consumed_wh or 0, tariff=_tariff_to_cim(event.tariff, event.windows),
        pricing_structure=pricing_structure_to_cim(event.tariff, event.rate) if event.rate else None,
        usage_point=usage_point,
    )


def bill_to_cim(bill: events.BillInformation) -> ev.BillingInformation:
    """4.1.1; a line priced from metered intervals says how many, and how many were estimated."""
    return ev.BillingInformation(
        m_rid=bill.bill_id, charging_session=reference(bill.session_id),
        customer_account=_account(bill.account_id), issued_date_time=xml_time(bill.issued_utc),
        currency=bill.currency,
        charge=[ev.Charge(kind=line.label, energy=line.energy_wh, unit_price=line.price_per_kwh,
                          amount=line.amount, intervals=line.intervals or None,
                          estimated_intervals=line.estimated if line.intervals else None) for line in bill.lines],
        total_energy=bill.energy_wh, total_amount=bill.amount,
    )


def acknowledgment_to_cim(event: events.SessionAcknowledged) -> ev.ChargingAcknowledgment:
    """4.1.2."""
    return ev.ChargingAcknowledgment(
        charging_session=reference(event.session_id), status=ev.AcknowledgmentStatus.BILLED,
        billing_information=reference(event.bill_id), customer_account=reference(event.account_id),
    )


def switch_to_cim(session: Session, close: bool) -> edc.EndDeviceControls:
    """2.3 / 3.3: close (3.31.0.18) or open (3.31.0.23) the station's load switch."""
    code = codes.CONNECT_LOAD_SWITCH if close else codes.DISCONNECT_LOAD_SWITCH
    start, end = session.planned_start_utc, session.planned_end_utc
    timing = None
    if close and start is not None:
        interval = edc.DateTimeInterval(start=xml_time(start), end=xml_time(end) if end else None)
        timing = edc.EndDeviceTiming(interval=interval)
    return edc.EndDeviceControls(end_device_control=[edc.EndDeviceControl(
        m_rid=f"{session.session_id}:{'start' if close else 'stop'}", issuer_id="evgrid-scheduler",
        reason="start charging" if close else "stop charging",
        end_device_control_type=edc.EndDeviceControl.EndDeviceControlType(ref=code),
        end_devices=[edc.EndDevice(m_rid=session.station_id)], primary_device_timing=timing,
    )])
