"""Realistic example messages for every catalog step that a CIM message carries.

One coherent night: a home charge (EV-0042 at its owner's premise) and a third-party
charge (EV-0077, owned by another customer, at the same premise). `evgrid catalog`
writes these; the contract tests validate each against our schemas and, for the
standard nouns, against the public IEC 61968-9 / 61968-100 schemas.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from xsdata.models.datatype import XmlDateTime

from evgrid.cim import envelope as env
from evgrid.cim.generated import end_device_controls as edc
from evgrid.cim.generated import end_device_events as ede
from evgrid.cim.generated import ev_charging as ev
from evgrid.cim.generated import meter_readings as mr
from evgrid.mappings import codes
from evgrid.mappings.catalog import Step

NIGHT = datetime(2026, 11, 26, 18, 40, tzinfo=UTC)
SOURCE = {"1": "portal-P000123", "2": "evgrid-evos", "3": "evgrid-evos", "4": "evgrid-evos"}

HOME = {"session": "S-1001", "ev": "EV-0042", "owner": "ACC-000123", "owner_customer": "C-000123"}
THIRD = {"session": "S-1002", "ev": "EV-0077", "owner": "ACC-000555", "owner_customer": "C-000555"}
HOST = {"account": "ACC-000123", "customer": "C-000123", "usage_point": "UP-000123",
        "premise": "P-000123", "meter": "MTR-000123", "station": "EVSE-000123",
        "transformer": "TX-017"}


def _t(minutes: float) -> XmlDateTime:
    return XmlDateTime.from_datetime(NIGHT + timedelta(minutes=minutes))


def _ref(mrid: str) -> ev.Reference:
    return ev.Reference(m_rid=mrid)


def _account(mrid: str, customer: str) -> ev.CustomerAccount:
    return ev.CustomerAccount(m_rid=mrid, customer=ev.Customer(m_rid=customer))


def _usage_point() -> ev.UsagePoint:
    return ev.UsagePoint(
        m_rid=HOST["usage_point"],
        service_location=ev.ServiceLocation(m_rid="SL-000123", premise_number=HOST["premise"]),
        meter=ev.Meter(m_rid=HOST["meter"]),
    )


def _tariff(third_party: bool) -> ev.Tariff:
    if third_party:
        return ev.Tariff(m_rid="T-EV-QUICK", name="EV quick charge at a third-party site",
                         currency="EUR", time_tariff_interval=[ev.TimeTariffInterval(
                             sequence_number=1, start_time=_t(0), end_time=_t(24 * 60),
                             price=Decimal("0.3100"), label="quick charge")])
    return ev.Tariff(
        m_rid="T-EV-NIGHT", name="Residential with EV night rate", currency="EUR",
        time_tariff_interval=[
            ev.TimeTariffInterval(sequence_number=1, start_time=_t(0), end_time=_t(200),
                                  price=Decimal("0.2800"), label="day"),
            ev.TimeTariffInterval(sequence_number=2, start_time=_t(200), end_time=_t(680),
                                  price=Decimal("0.0900"), label="EV night"),
        ],
    )


def _party(third_party: bool) -> dict[str, str]:
    return THIRD if third_party else HOME


def charging_request(third_party: bool) -> ev.ChargingRequest:
    """Step 1.1.2: the portal's request for an EV that just plugged in."""
    p = _party(third_party)
    return ev.ChargingRequest(
        m_rid=f"REQ-{p['session']}", created_date_time=_t(1),
        electric_vehicle=ev.ElectricVehicle(m_rid=p["ev"], max_power=Decimal("11.000"),
                                             state_of_charge=Decimal("35")),
        charging_station=ev.ChargingStation(m_rid=HOST["station"], rated_power=Decimal("7.400")),
        customer=ev.Customer(m_rid=HOST["customer"]), usage_point=_usage_point(),
        requested_energy=12000 if third_party else 24000,
        departure_time=_t(90) if third_party else _t(720), max_power=Decimal("7.400"),
    )


def charging_type(third_party: bool) -> ev.ChargingType:
    """Steps 1.2 / 3.1."""
    p = _party(third_party)
    return ev.ChargingType(
        charging_session=_ref(p["session"]),
        kind=ev.ChargingKind.THIRD_PARTY if third_party else ev.ChargingKind.HOME,
        electric_vehicle=_ref(p["ev"]), owner_account=_account(p["owner"], p["owner_customer"]),
        host_account=_account(HOST["account"], HOST["customer"]),
    )


def third_party_charging() -> ev.ThirdPartyCharging:
    """Step 3.1.1."""
    return ev.ThirdPartyCharging(
        charging_session=_ref(THIRD["session"]), electric_vehicle=_ref(THIRD["ev"]),
        owner_account=_account(THIRD["owner"], THIRD["owner_customer"]),
        host_account=_account(HOST["account"], HOST["customer"]), host_usage_point=_usage_point(),
    )


def applicable_rate(third_party: bool) -> ev.ApplicableRate:
    """Steps 2.1 / 3.1.2."""
    p = _party(third_party)
    return ev.ApplicableRate(
        charging_session=_ref(p["session"]),
        kind=ev.ChargingKind.THIRD_PARTY if third_party else ev.ChargingKind.HOME,
        charged_account=_account(p["owner"], p["owner_customer"]),
        pricing_structure=ev.PricingStructure(
            m_rid="T-EV-QUICK:quickCharge" if third_party else "T-EV-NIGHT:evNight",
            name="EV quick charge at a third-party site" if third_party else "Residential with EV night rate",
            code="quickCharge" if third_party else "evNight"),
        tariff=_tariff(third_party),
    )


def charging_confirmation(third_party: bool) -> ev.ChargingConfirmation:
    """Steps 2.1.1 / 3.1.3: the third-party EV cannot get all it asked for by departure."""
    p = _party(third_party)
    return ev.ChargingConfirmation(
        charging_request=_ref(f"REQ-{p['session']}"), charging_session=_ref(p["session"]),
        kind=ev.ChargingKind.THIRD_PARTY if third_party else ev.ChargingKind.HOME,
        requested_energy=12000 if third_party else 24000,
        reachable_energy=10915 if third_party else 24000, effective_power=Decimal("7.400"),
        departure_time=_t(90) if third_party else _t(720),
        tariff=_ref("T-EV-QUICK" if third_party else "T-EV-NIGHT"),
    )


def time_slot_allotment(third_party: bool) -> ev.TimeSlotAllotment:
    """Steps 2.2 / 2.2.1 / 3.2 / 3.2.1."""
    p = _party(third_party)
    first = 5 if third_party else 240
    powers = [Decimal("7.400")] * 4 if third_party else [Decimal("7.400")] * 12 + [Decimal("1.800")]
    slots = [ev.Slot(start=_t(first + 15 * i), end=_t(first + 15 * (i + 1)), power=power)
             for i, power in enumerate(powers)]
    planned = int(sum(power * 250 for power in powers))  # kW x 0.25 h x 1000 Wh/kWh
    return ev.TimeSlotAllotment(
        charging_session=_ref(p["session"]), charging_station=_ref(HOST["station"]),
        power_transformer=ev.PowerTransformer(m_rid=HOST["transformer"], rated_s=Decimal("250")),
        kind=ev.ChargingKind.THIRD_PARTY if third_party else ev.ChargingKind.HOME,
        scheduled_interval=ev.DateTimeInterval(start=slots[0].start, end=slots[-1].end),
        planned_energy=planned, slot=slots,
    )


def _session_energy(third_party: bool) -> tuple[int, int, float, float]:
    """(start register Wh, end register Wh, start minute, end minute)."""
    return (5_432_100, 5_442_115, 5, 86) if third_party else (5_442_115, 5_466_115, 240, 435)


def charging_completion(third_party: bool) -> ev.ChargingCompletion:
    """Steps 2.3.4 / 3.3.4."""
    p = _party(third_party)
    start, end, t0, t1 = _session_energy(third_party)
    return ev.ChargingCompletion(
        charging_session=_ref(p["session"]), charging_station=_ref(HOST["station"]),
        electric_vehicle=_ref(p["ev"]), meter=ev.Meter(m_rid=HOST["meter"]),
        actual_interval=ev.DateTimeInterval(start=_t(t0), end=_t(t1)),
        start_register=start, end_register=end, consumed_energy=end - start,
        reason=ev.CompletionReason.DEPARTURE if third_party else ev.CompletionReason.EV_FULL,
    )


def usage_assignment() -> ev.UsageAssignment:
    """Step 3.3.5."""
    start, end, t0, t1 = _session_energy(True)
    return ev.UsageAssignment(
        charging_session=_ref(THIRD["session"]), electric_vehicle=_ref(THIRD["ev"]),
        host_usage_point=_usage_point(), from_account=_account(HOST["account"], HOST["customer"]),
        to_account=_account(THIRD["owner"], THIRD["owner_customer"]),
        interval=ev.DateTimeInterval(start=_t(t0), end=_t(t1)), energy=end - start,
    )


def charging_consumption() -> ev.ChargingConsumption:
    """Step 4.1 (the home session)."""
    start, end, t0, t1 = _session_energy(False)
    return ev.ChargingConsumption(
        charging_session=_ref(HOME["session"]), kind=ev.ChargingKind.HOME,
        electric_vehicle=_ref(HOME["ev"]), charged_account=_account(HOME["owner"], HOME["owner_customer"]),
        interval=ev.DateTimeInterval(start=_t(t0), end=_t(t1)), consumed_energy=end - start,
        tariff=_tariff(False),
    )


def billing_information() -> ev.BillingInformation:
    """Step 4.1.1 (the home session, all of it in the EV night window)."""
    start, end, _, _ = _session_energy(False)
    night = _tariff(False).time_tariff_interval[1]
    energy = end - start
    amount = (Decimal(energy) / 1000 * night.price).quantize(Decimal("0.01"))
    return ev.BillingInformation(
        m_rid="BILL-S-1001", charging_session=_ref(HOME["session"]),
        customer_account=_account(HOME["owner"], HOME["owner_customer"]), issued_date_time=_t(440),
        currency="EUR",
        charge=[ev.Charge(kind="EV night energy", energy=energy, unit_price=night.price, amount=amount,
                          time_tariff_interval=night)],
        total_energy=energy, total_amount=amount,
    )


def charging_acknowledgment() -> ev.ChargingAcknowledgment:
    """Step 4.1.2."""
    return ev.ChargingAcknowledgment(
        charging_session=_ref(HOME["session"]), status=ev.AcknowledgmentStatus.BILLED,
        billing_information=_ref("BILL-S-1001"), customer_account=_ref(HOME["owner"]),
    )


def end_device_event(plug_in: bool, third_party: bool) -> ede.EndDeviceEvents:
    """Steps 1, 2.3.2, 3.3.2: EV plugged in / charging complete, relayed by the portal."""
    p = _party(third_party)
    code = codes.EV_PLUGGED_IN if plug_in else codes.EV_CHARGING_COMPLETE
    minute = 0 if plug_in else _session_energy(third_party)[3]
    return ede.EndDeviceEvents(end_device_event=[ede.EndDeviceEvent(
        m_rid=f"EVT-{p['session']}-{'plug' if plug_in else 'full'}", created_date_time=_t(minute),
        issuer_id=HOST["station"], reason="EV plugged in" if plug_in else "EV opened the contactor: full",
        assets=ede.Asset(m_rid=HOST["station"]),
        end_device_event_details=[ede.EndDeviceEventDetail(name="EVId", value=p["ev"])],
        end_device_event_type=ede.EndDeviceEvent.EndDeviceEventType(ref=code),
        usage_point=ede.UsagePoint(m_rid=HOST["usage_point"]),
    )])


def end_device_control(third_party: bool) -> edc.EndDeviceControls:
    """Steps 2.3 / 3.3: close the station's load switch at the scheduled start."""
    p = _party(third_party)
    allotment = time_slot_allotment(third_party)
    return edc.EndDeviceControls(end_device_control=[edc.EndDeviceControl(
        m_rid=f"CTL-{p['session']}-start", issuer_id="evgrid-scheduler", reason="start charging",
        end_device_control_type=edc.EndDeviceControl.EndDeviceControlType(ref=codes.CONNECT_LOAD_SWITCH),
        end_devices=[edc.EndDevice(m_rid=HOST["station"])],
        primary_device_timing=edc.EndDeviceTiming(interval=edc.DateTimeInterval(
            start=allotment.scheduled_interval.start, end=allotment.scheduled_interval.end)),
        usage_points=[edc.UsagePoint(m_rid=HOST["usage_point"])],
    )])


def meter_readings(at_end: bool, third_party: bool) -> mr.MeterReadings:
    """Steps 2.3.1 / 2.3.3 / 3.3.1 / 3.3.3: the register at start, or the last span of a session.

    The last span: the register read at the last 15-minute boundary, the register at the
    end, and the one interval between them (in kWh here: any Wh multiple is read).
    """
    start, end, t0, t1 = _session_energy(third_party)
    if not at_end:
        readings = [mr.Reading(time_stamp=_t(t0), value=str(start),
                               reading_type=mr.Reading.ReadingType(ref=codes.REGISTER_WH))]
        blocks = []
    else:
        boundary = t1 - (NIGHT.minute + t1) % 15  # the last 15-minute boundary before the end
        last_wh = 2_000
        readings = [mr.Reading(time_stamp=_t(at), value=str(wh), reading_type=mr.Reading.ReadingType(
            ref=codes.REGISTER_WH)) for at, wh in ((boundary, end - last_wh), (t1, end))]
        blocks = [mr.IntervalBlock(
            interval_readings=[mr.IntervalReading(time_stamp=_t(boundary + 15), value=f"{last_wh / 1000:.3f}")],
            reading_type=mr.IntervalBlock.ReadingType(ref=codes.INTERVAL_15MIN_KWH))]
    return mr.MeterReadings(meter_reading=[mr.MeterReading(
        meter=mr.Meter(m_rid=HOST["meter"]), usage_point=mr.UsagePoint(m_rid=HOST["usage_point"]),
        readings=readings, interval_blocks=blocks,
        values_interval=mr.DateTimeInterval(start=_t(t0), end=_t(t1)) if at_end else None,
    )])


def _payload(step_id: str) -> object:
    third = step_id.startswith("3")
    builders = {
        "1": lambda: end_device_event(True, False),
        "1.1.2": lambda: charging_request(False),
        "1.2": lambda: charging_type(False), "3.1": lambda: charging_type(True),
        "2.1": lambda: applicable_rate(False), "3.1.2": lambda: applicable_rate(True),
        "2.1.1": lambda: charging_confirmation(False), "3.1.3": lambda: charging_confirmation(True),
        "3.1.1": third_party_charging,
        "2.3": lambda: end_device_control(third), "3.3": lambda: end_device_control(third),
        "2.3.1": lambda: meter_readings(False, third), "3.3.1": lambda: meter_readings(False, third),
        "2.3.2": lambda: end_device_event(False, third), "3.3.2": lambda: end_device_event(False, third),
        "2.3.3": lambda: meter_readings(True, third), "3.3.3": lambda: meter_readings(True, third),
        "2.3.4": lambda: charging_completion(third), "3.3.4": lambda: charging_completion(third),
        "3.3.5": usage_assignment, "4.1": charging_consumption, "4.1.1": billing_information,
        "4.1.2": charging_acknowledgment,
    }
    for prefix in ("2.2", "3.2"):
        builders[prefix] = builders[prefix + ".1"] = (lambda t=third: time_slot_allotment(t))
    return builders[step_id]()


def example_message(row: Step) -> object:
    """The complete 61968-100 message of a catalog step that a CIM message carries."""
    if not row.carries_cim or row.verb is None or row.noun is None:
        raise ValueError(f"step {row.step} is not carried by a CIM message")
    payload = _payload(row.step)
    source = SOURCE[row.step[0]]
    message_id = f"MSG-{row.step}"
    verb = env.Verb(row.verb)
    if verb is env.Verb.REPLY:
        # 2.1.1 / 3.1.3 answer the ChargingRequest of step 1.1.2; PARTIAL when short.
        assert isinstance(payload, ev.ChargingConfirmation)
        if payload.reachable_energy < payload.requested_energy:
            short = env.ReplyDetail("0.1", env.Level.WARNING,
                                    f"only {payload.reachable_energy} Wh reachable by departure")
            return env.reply_partial(row.noun, payload, source=source, correlation_id="MSG-1.1.2",
                                     errors=[short])
        return env.reply_ok(row.noun, payload, source=source, correlation_id="MSG-1.1.2")
    build = env.request if verb in env.REQUEST_VERBS else env.event
    return build(verb, row.noun, payload, source=source, message_id=message_id,
                 timestamp=NIGHT)  # type: ignore[arg-type]
