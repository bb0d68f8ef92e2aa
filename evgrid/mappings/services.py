"""The SOAP services evgrid exposes or calls, and their operations, defined once.

Each service has one hand-written WSDL in ``evgrid/schemas/wsdl/``, in the IEC 61968-100
WSDL pattern: SOAP 1.1, document/literal, the generic envelope (``msg:RequestMessage`` or,
for past-tense verbs, ``msg:EventMessage`` in; ``msg:ResponseMessage`` out;
``msg:FaultMessage`` as fault) with the payload in the envelope's ``xs:any`` Payload slot,
one operation ``<Verb><Noun>`` per (verb, noun) and the soapAction
``http://iec.ch/TC57/2011/<Noun>/<Operation>``. This table is what the WSDLs are checked
against (``tests/contract/test_wsdl.py``); nothing here writes them.

Every operation names the catalog steps (:mod:`evgrid.mappings.catalog`) it carries.
Steps between the operation system and the scheduler have no operation: both run in
one process, the utility core.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evgrid.cim import namespaces as ns
from evgrid.cim.codec import MessageKind
from evgrid.cim.envelope import EVENT_VERBS, Verb
from evgrid.mappings import catalog

WSDL_DIR = Path(__file__).resolve().parent.parent / "schemas" / "wsdl"
SOAP_ACTION_BASE = "http://iec.ch/TC57/2011"
# Placeholder endpoint written into every WSDL; clients always set the real address.
PLACEHOLDER_BASE = "http://127.0.0.1:8000"
# Actors of the catalog that run in one process and talk without SOAP.
IN_PROCESS: frozenset[str] = frozenset({catalog.EVOS, catalog.SCHEDULER})

OUTPUT_KIND = MessageKind.RESPONSE
FAULT_KIND = MessageKind.FAULT

_EV = ns.EV_CHARGING


@dataclass(frozen=True, slots=True)
class Operation:
    """One (verb, noun) of a service and the elements its messages carry.

    ``payload`` is the Clark name of the element the input carries: in the envelope's
    Payload, or for ``get`` in its Request (the selection criteria of the get pattern).
    ``reply_payload`` is the element the ResponseMessage's Payload carries, if any.
    """

    verb: Verb
    noun: str
    payload: str
    summary: str
    reply_payload: str | None = None
    steps: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The WSDL operation name, e.g. ``CreatedMeterReadings``."""
        return self.verb.value.capitalize() + self.noun

    @property
    def soap_action(self) -> str:
        """The soapAction, e.g. ``http://iec.ch/TC57/2011/MeterReadings/CreatedMeterReadings``."""
        return f"{SOAP_ACTION_BASE}/{self.noun}/{self.name}"

    @property
    def input_kind(self) -> MessageKind:
        """The envelope element of the input: EventMessage for past-tense verbs."""
        return MessageKind.EVENT if self.verb in EVENT_VERBS else MessageKind.REQUEST

    @property
    def payload_slot(self) -> str:
        """The envelope child that holds ``payload``: Request for ``get``, else Payload."""
        return "Request" if self.verb is Verb.GET else "Payload"


@dataclass(frozen=True, slots=True)
class Service:
    """One SOAP service: its WSDL, the catalog actor that provides it, its operations."""

    name: str
    wsdl: str
    provider: str
    operations: tuple[Operation, ...]

    @property
    def wsdl_path(self) -> Path:
        """The WSDL file shipped in the package."""
        return WSDL_DIR / self.wsdl

    @property
    def namespace(self) -> str:
        """The WSDL's targetNamespace (evgrid's own, not the IEC's)."""
        return f"urn:evgrid:wsdl:{self.name}:1"

    @property
    def placeholder_address(self) -> str:
        """The soap:address location written into the WSDL."""
        return f"{PLACEHOLDER_BASE}/{self.name}"

    def operation(self, name: str) -> Operation:
        """The operation called ``name``."""
        for op in self.operations:
            if op.name == name:
                return op
        raise KeyError(name)


EV_OPERATION_SYSTEM = Service(
    "EVOperationSystem", "EVOperationSystem.wsdl", catalog.EVOS, (
        Operation(Verb.CREATE, "ChargingRequest", ns.qname(_EV, "ChargingRequest"),
                  "A portal requests charging for a plugged-in EV; the reply confirms the "
                  "reachable energy (PARTIAL when short).",
                  reply_payload=ns.qname(_EV, "ChargingConfirmation"),
                  steps=("1.1.2", "2.1.1", "3.1.3")),
        Operation(Verb.CREATED, "EndDeviceEvents", ns.qname(ns.END_DEVICE_EVENTS, "EndDeviceEvents"),
                  "A portal relays a station event: EV plugged in, charging complete.",
                  steps=("1", "2.3.2", "3.3.2")),
        Operation(Verb.CREATED, "MeterReadings", ns.qname(ns.METER_READINGS, "MeterReadings"),
                  "A portal relays the meter's registers at start, every 15 minutes and end of a "
                  "session, with the 15-minute intervals between them.",
                  steps=("2.3.1", "2.3.3", "3.3.1", "3.3.3")),
        Operation(Verb.CREATED, "ChargingCompletion", ns.qname(_EV, "ChargingCompletion"),
                  "A portal reports a completed charging session.", steps=("2.3.4", "3.3.4")),
        Operation(Verb.CREATED, "UsageAssignment", ns.qname(_EV, "UsageAssignment"),
                  "The host's portal assigns a third-party session's energy to the EV owner.",
                  steps=("3.3.5",)),
        Operation(Verb.CREATED, "BillingInformation", ns.qname(_EV, "BillingInformation"),
                  "Billing sends bill information, to be forwarded to the EV owner's portal.",
                  steps=("4.1.1",)),
    ),
)

CUSTOMER_BILLING = Service(
    "CustomerBilling", "CustomerBilling.wsdl", catalog.BILLING, (
        Operation(Verb.CREATE, "ChargingConsumption", ns.qname(_EV, "ChargingConsumption"),
                  "The operation system hands a session's consumption and tariff to billing.",
                  steps=("4.1",)),
        Operation(Verb.CREATED, "ThirdPartyCharging", ns.qname(_EV, "ThirdPartyCharging"),
                  "The operation system records EV, owner and host of a third-party charge.",
                  steps=("3.1.1",)),
    ),
)

# Meter data management is the system of record of the readings: the operation system
# forwards every MeterReadings it accepts (2.3.1 / 2.3.3 / 3.3.1 / 3.3.3), billing reads a
# session's 15-minute intervals back at 4.1 (IEC 61968-9 MeterReadings).
METER_DATA_MANAGEMENT = Service(
    "MeterDataManagement", "MeterDataManagement.wsdl", catalog.MDM, (
        Operation(Verb.CREATED, "MeterReadings", ns.qname(ns.METER_READINGS, "MeterReadings"),
                  "New readings of a meter are validated (gaps estimated) and stored.",
                  steps=("2.3.1", "2.3.3", "3.3.1", "3.3.3")),
        Operation(Verb.CHANGED, "MeterReadings", ns.qname(ns.METER_READINGS, "MeterReadings"),
                  "Corrected readings replace stored ones."),
        Operation(Verb.GET, "MeterReadings", ns.qname(ns.GET_METER_READINGS, "GetMeterReadings"),
                  "Stored readings are read back; Request carries the GetMeterReadings "
                  "selection, the reply's Payload the MeterReadings.",
                  reply_payload=ns.qname(ns.METER_READINGS, "MeterReadings")),
    ),
)

CUSTOMER_PORTAL = Service(
    "CustomerPortal", "CustomerPortal.wsdl", catalog.PORTAL, (
        Operation(Verb.CREATED, "TimeSlotAllotment", ns.qname(_EV, "TimeSlotAllotment"),
                  "The utility tells the portal the scheduled start and end of charging.",
                  steps=("2.2.1", "3.2.1")),
        Operation(Verb.CREATE, "EndDeviceControls", ns.qname(ns.END_DEVICE_CONTROLS, "EndDeviceControls"),
                  "The scheduler has the portal close the station's load switch at the start.",
                  steps=("2.3", "3.3")),
        Operation(Verb.CREATED, "BillingInformation", ns.qname(_EV, "BillingInformation"),
                  "Bill information for the EV owner.", steps=("4.1.1",)),
    ),
)

SERVICES: tuple[Service, ...] = (
    EV_OPERATION_SYSTEM, CUSTOMER_BILLING, METER_DATA_MANAGEMENT, CUSTOMER_PORTAL,
)


def service(name: str) -> Service:
    """The service called ``name``."""
    for row in SERVICES:
        if row.name == name:
            return row
    raise KeyError(name)
