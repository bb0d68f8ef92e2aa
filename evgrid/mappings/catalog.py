"""The use-case step catalog: every step of the use case as one row.

The IntelliGrid use case is "Customer Services - Consumer Portal - Electric Vehicle
Function".

A row says who sends what to whom, over which transport: an IEC 61968-100 message
(verb, noun, payload element and schema) or an IEC 61850 service (object reference),
or both where the portal relays a device event as a CIM message. Step numbers are the
use case's: 1.x plug-in and identification, 2.x home charging, 3.x third-party
charging, 4.x billing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from evgrid.cim import namespaces as ns

EV = "EV On-Board System"
STATION = "EV Charging Station"
METER = "Meter Device"
PORTAL = "Customer Communication Portal"
EVOS = "EV Operation System"
SCHEDULER = "EV Charging Scheduler"
BILLING = "Customer Billing System"
MDM = "Meter Data Management"

# IntelliGrid (IEC/TR 62357 / IECSA) environments crossed by each exchange.
INTRA_SITE = "Intra-Customer Site (EV, station, meter and portal)"
SITE_TO_CENTER = "Customer Site to Utility Control Center"
CENTER_TO_SITE = "Utility Control Center to Customer Site"
INTRA_CENTER = "Intra-Control Center (utility enterprise)"

IEC61850_REPORT = "IEC 61850 MMS report"
IEC61850_READ = "IEC 61850 MMS read"
IEC61850_CONTROL = "IEC 61850 MMS control (SBOw / Oper)"
CIM = "IEC 61968-100 message (SOAP / AMQP / in-process)"

EV_XSD = "EvCharging.xsd"
MR_XSD = "MeterReadings.xsd"
EDC_XSD = "EndDeviceControls.xsd"
EDE_XSD = "EndDeviceEvents.xsd"

CATALOG_TEST = "tests/contract/test_catalog.py::test_example_validates"
IED_TEST = "tests/integration/test_iec61850.py"


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the use case and the message or device service that carries it."""

    step: str
    name: str
    producer: str
    receiver: str
    information: str
    transport: str
    environment: str
    test: str
    verb: str | None = None
    noun: str | None = None
    payload: str | None = None
    namespace: str | None = None
    schema: str | None = None
    iec61850: str | None = None

    @property
    def carries_cim(self) -> bool:
        """True when a CIM message (and so an example file) belongs to this step."""
        return self.noun is not None

    @property
    def example_name(self) -> str:
        """File name of the step's example message, e.g. ``2.2.1_TimeSlotAllotment.xml``."""
        return f"{self.step}_{self.payload}.xml"

    def as_dict(self) -> dict[str, Any]:
        """The row as plain data (for catalog.json)."""
        return asdict(self)


def _cim(verb: str, noun: str, payload: str | None = None, namespace: str = ns.EV_CHARGING,
         schema: str = EV_XSD) -> dict[str, str]:
    return {"verb": verb, "noun": noun, "payload": payload or noun, "namespace": namespace,
            "schema": schema}


def _test(step: str) -> str:
    return f"{CATALOG_TEST}[{step}]"


PLUG_IN = _cim("created", "EndDeviceEvents", namespace=ns.END_DEVICE_EVENTS, schema=EDE_XSD)
CONNECT = _cim("create", "EndDeviceControls", namespace=ns.END_DEVICE_CONTROLS, schema=EDC_XSD)
READINGS = _cim("created", "MeterReadings", namespace=ns.METER_READINGS, schema=MR_XSD)
CHARGING_DONE = _cim("created", "EndDeviceEvents", namespace=ns.END_DEVICE_EVENTS, schema=EDE_XSD)

STEPS: tuple[Step, ...] = (
    Step("1", "EV plugs in to the charging station", STATION, EVOS,
         "Plug-in: outlet connection state A -> B (IEC 61851), relayed by the portal as an "
         "EndDeviceEvent (EndDeviceEventType 58.39.0.42, EV connected)",
         f"{IEC61850_REPORT} -> {CIM}", INTRA_SITE, _test("1"),
         iec61850="DEAO1.ConnSt, DEAO1.PlgStAC [ST] (data set PlugIn)", **PLUG_IN),
    Step("1.1.1", "EV sends its EV Id and requirements to the portal", EV, PORTAL,
         "EV Id, energy wanted, departure time, EV maximum power, state of charge",
         IEC61850_REPORT, INTRA_SITE, IED_TEST,
         iec61850="DEEV1.EVId, DEEV1.EnAmnt, DEEV1.DptTm, DEEV1.Soc [ST/MX] (data set EvIdentity)"),
    Step("1.1.2", "Portal adds customer id and location and requests charging", PORTAL, EVOS,
         "ChargingRequest: EV Id, requirements, portal customer id, usage point with premise "
         "and meter number, station rating", CIM, SITE_TO_CENTER, _test("1.1.2"),
         **_cim("create", "ChargingRequest")),
    Step("1.2", "Operation system decides home or third-party charging", EVOS, SCHEDULER,
         "ChargingType: EV owner's account vs the portal customer's account", CIM,
         INTRA_CENTER, _test("1.2"), **_cim("created", "ChargingType")),
    Step("2.1", "Operation system finds the applicable rate (EV night rate)", EVOS, SCHEDULER,
         "ApplicableRate: tariff with time-of-use intervals, EV night rate, charged account",
         CIM, INTRA_CENTER, _test("2.1"), **_cim("created", "ApplicableRate")),
    Step("2.1.1", "Operation system confirms the charging requirements", EVOS, PORTAL,
         "ChargingConfirmation: reachable energy by departure at min(station, EV) power; "
         "PARTIAL when short", CIM, CENTER_TO_SITE, _test("2.1.1"),
         **_cim("reply", "ChargingRequest", "ChargingConfirmation")),
    Step("2.2", "Scheduler assigns a time slot within the transformer's limit", SCHEDULER, EVOS,
         "TimeSlotAllotment: power per 15-minute slot, transformer, planned energy", CIM,
         INTRA_CENTER, _test("2.2"), **_cim("created", "TimeSlotAllotment")),
    Step("2.2.1", "Start time is sent to the portal", EVOS, PORTAL,
         "TimeSlotAllotment: scheduled start and end, slots", CIM, CENTER_TO_SITE,
         _test("2.2.1"), **_cim("created", "TimeSlotAllotment")),
    Step("2.3", "Portal switches the station on at the start time", SCHEDULER, PORTAL,
         "EndDeviceControl 3.31.0.18 (close load switch) at the scheduled time; the portal "
         "closes the contactor", f"{CIM} -> {IEC61850_CONTROL}", CENTER_TO_SITE, _test("2.3"),
         iec61850="CSWI1.Pos [CO] Oper ctlVal=true", **CONNECT),
    Step("2.3.1", "Meter starts measuring: register read at start", METER, EVOS,
         "MeterReadings: register (Wh) read before the contactor closes; the operation system "
         "keeps it and forwards it to MDM (created MeterReadings, the portal's MessageID)",
         f"{IEC61850_READ} -> {CIM}", SITE_TO_CENTER, _test("2.3.1"),
         iec61850="MMTR1.TotWh.actVal [ST]", **READINGS),
    Step("2.3.2", "EV switches off when full", EV, EVOS,
         "Contactor opened by the EV; relayed as EndDeviceEvent 58.26.0.216 (charging "
         "complete)", f"{IEC61850_REPORT} -> {CIM}", INTRA_SITE, _test("2.3.2"),
         iec61850="XCBR1.Pos.stVal [ST] (data set Contactor)", **CHARGING_DONE),
    Step("2.3.3", "Consumption is read from the meter", METER, EVOS,
         "MeterReadings at every 15-minute boundary while charging and at the end: two "
         "registers and the IntervalBlock (15-minute Wh, stamped with each interval's end) "
         "between them; forwarded to MDM, which validates them and estimates a gap",
         f"{IEC61850_READ} -> {CIM}", SITE_TO_CENTER, _test("2.3.3"),
         iec61850="MMTR1.TotWh.actVal [ST]", **READINGS),
    Step("2.3.4", "Portal reports completion to the operation system", PORTAL, EVOS,
         "ChargingCompletion: registers at start and end, energy, interval, reason", CIM,
         SITE_TO_CENTER, _test("2.3.4"), **_cim("created", "ChargingCompletion")),
    Step("3.1", "Operation system flags a third-party charge", EVOS, SCHEDULER,
         "ChargingType thirdParty: the EV owner is not the portal's customer", CIM,
         INTRA_CENTER, _test("3.1"), **_cim("created", "ChargingType")),
    Step("3.1.1", "Ids of EV owner, EV and host are recorded", EVOS, BILLING,
         "ThirdPartyCharging: EV Id, owner account, host account and usage point", CIM,
         INTRA_CENTER, _test("3.1.1"), **_cim("created", "ThirdPartyCharging")),
    Step("3.1.2", "Operation system finds the third-party rate", EVOS, SCHEDULER,
         "ApplicableRate: quick-charge rate, charged to the EV owner's account", CIM,
         INTRA_CENTER, _test("3.1.2"), **_cim("created", "ApplicableRate")),
    Step("3.1.3", "Operation system confirms the requirements", EVOS, PORTAL,
         "ChargingConfirmation: reachable energy by departure; PARTIAL when short", CIM,
         CENTER_TO_SITE, _test("3.1.3"), **_cim("reply", "ChargingRequest", "ChargingConfirmation")),
    Step("3.2", "Scheduler assigns the earliest slot (quick charge)", SCHEDULER, EVOS,
         "TimeSlotAllotment: charge as soon as possible within the transformer's limit", CIM,
         INTRA_CENTER, _test("3.2"), **_cim("created", "TimeSlotAllotment")),
    Step("3.2.1", "Start time is sent to the host's portal", EVOS, PORTAL,
         "TimeSlotAllotment: scheduled start and end", CIM, CENTER_TO_SITE, _test("3.2.1"),
         **_cim("created", "TimeSlotAllotment")),
    Step("3.3", "Host's portal switches the station on", SCHEDULER, PORTAL,
         "EndDeviceControl 3.31.0.18 (close load switch) now", f"{CIM} -> {IEC61850_CONTROL}",
         CENTER_TO_SITE, _test("3.3"), iec61850="CSWI1.Pos [CO] Oper ctlVal=true", **CONNECT),
    Step("3.3.1", "Host's meter starts measuring", METER, EVOS,
         "MeterReadings: register at start, forwarded to MDM", f"{IEC61850_READ} -> {CIM}", SITE_TO_CENTER,
         _test("3.3.1"), iec61850="MMTR1.TotWh.actVal [ST]", **READINGS),
    Step("3.3.2", "EV switches off when full", EV, EVOS,
         "Contactor opened by the EV; EndDeviceEvent charging complete",
         f"{IEC61850_REPORT} -> {CIM}", INTRA_SITE, _test("3.3.2"),
         iec61850="XCBR1.Pos.stVal [ST] (data set Contactor)", **CHARGING_DONE),
    Step("3.3.3", "Consumption is read from the host's meter", METER, EVOS,
         "MeterReadings every 15 minutes and at the end: registers and 15-minute intervals, "
         "forwarded to MDM", f"{IEC61850_READ} -> {CIM}", SITE_TO_CENTER,
         _test("3.3.3"), iec61850="MMTR1.TotWh.actVal [ST]", **READINGS),
    Step("3.3.4", "Host's portal reports completion", PORTAL, EVOS,
         "ChargingCompletion: registers, energy, interval", CIM, SITE_TO_CENTER, _test("3.3.4"),
         **_cim("created", "ChargingCompletion")),
    Step("3.3.5", "Usage is assigned to the EV owner's account", PORTAL, EVOS,
         "UsageAssignment: energy leaves the host's account for the owner's", CIM,
         SITE_TO_CENTER, _test("3.3.5"), **_cim("created", "UsageAssignment")),
    Step("4.1", "Consumption and rate go to billing", EVOS, BILLING,
         "ChargingConsumption: metered energy, interval, the rate told (PricingStructure, "
         "Tariff), charged (owner) account, usage point; billing reads the session's 15-minute "
         "intervals from MDM (get MeterReadings) and prices each at the rate in force", CIM,
         INTRA_CENTER, _test("4.1"), **_cim("create", "ChargingConsumption")),
    Step("4.1.1", "Bill information goes to the EV owner's portal", BILLING, PORTAL,
         "BillingInformation: charges per tariff interval, total, currency", CIM,
         CENTER_TO_SITE, _test("4.1.1"), **_cim("created", "BillingInformation")),
    Step("4.1.2", "Scheduler receives an acknowledgment", EVOS, SCHEDULER,
         "ChargingAcknowledgment: session billed", CIM, INTRA_CENTER, _test("4.1.2"),
         **_cim("created", "ChargingAcknowledgment")),
)

STEP_IDS: tuple[str, ...] = tuple(s.step for s in STEPS)


def step(step_id: str) -> Step:
    """The catalog row of one step."""
    for row in STEPS:
        if row.step == step_id:
            return row
    raise KeyError(step_id)


def as_markdown() -> str:
    """The catalog as a Markdown table (catalog.md)."""
    head = ("| step | name | producer -> receiver | transport | verb noun (payload) | "
            "IEC 61850 | schema | environment | test |")
    lines = [head, "|" + "---|" * 9]
    for row in STEPS:
        message = f"{row.verb} {row.noun} ({row.payload})" if row.carries_cim else ""
        lines.append(
            f"| {row.step} | {row.name} | {row.producer} -> {row.receiver} | {row.transport} | "
            f"{message} | {row.iec61850 or ''} | {row.schema or ''} | {row.environment} | "
            f"`{row.test}` |"
        )
    return "\n".join(lines) + "\n"


def payloads_by_noun() -> dict[str, frozenset[str]]:
    """Every noun evgrid speaks and the payload elements (Clark names) it may carry."""
    table: dict[str, set[str]] = {
        "GetMeterReadings": {ns.qname(ns.GET_METER_READINGS, "GetMeterReadings")},
    }
    for row in STEPS:
        if row.noun and row.payload and row.namespace:
            table.setdefault(row.noun, set()).add(ns.qname(row.namespace, row.payload))
    return {noun: frozenset(elements) for noun, elements in table.items()}
