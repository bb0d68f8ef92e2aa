# Generated from evgrid/schemas/*.xsd by xsdata (`make generate`): do not edit.
# ruff: noqa
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from xsdata.models.datatype import XmlDateTime

__NAMESPACE__ = "urn:evgrid:cim:EvCharging:1"


class AcknowledgmentStatus(Enum):
    BILLED = "billed"
    REJECTED = "rejected"


class ChargingKind(Enum):
    """
    Use-case step 1.2: home (the EV owner's own site) or thirdParty (another customer's site:
    quick charge, billed to the EV owner).
    """

    HOME = "home"
    THIRD_PARTY = "thirdParty"


class CompletionReason(Enum):
    EV_FULL = "evFull"
    DEPARTURE = "departure"
    UNPLUGGED = "unplugged"
    STOPPED = "stopped"


@dataclass(slots=True, kw_only=True)
class DateTimeInterval:
    end: None | XmlDateTime = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )
    start: None | XmlDateTime = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )


@dataclass(slots=True, kw_only=True)
class IdentifiedObject:
    m_rid: str = field(
        metadata={
            "name": "mRID",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "min_length": 1,
            "max_length": 64,
            "pattern": r"\S(.*\S)?",
        }
    )
    name: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )


@dataclass(slots=True, kw_only=True)
class Reference:
    """
    A reference to an object by its mRID.
    """

    m_rid: str = field(
        metadata={
            "name": "mRID",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "min_length": 1,
            "max_length": 64,
            "pattern": r"\S(.*\S)?",
        }
    )


@dataclass(slots=True, kw_only=True)
class Slot:
    """
    One 15-minute slot of a charging schedule: the power the station is allotted from start to
    end.
    """

    start: XmlDateTime = field(
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        }
    )
    end: XmlDateTime = field(
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        }
    )
    power: Decimal = field(
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "min_inclusive": Decimal("0"),
            "fraction_digits": 3,
        }
    )


@dataclass(slots=True, kw_only=True)
class TimeTariffInterval:
    """
    CIM TimeTariffInterval: a price valid in one time window.
    """

    sequence_number: None | int = field(
        default=None,
        metadata={
            "name": "sequenceNumber",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )
    start_time: XmlDateTime = field(
        metadata={
            "name": "startTime",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        }
    )
    end_time: XmlDateTime = field(
        metadata={
            "name": "endTime",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        }
    )
    price: Decimal = field(
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "fraction_digits": 6,
        }
    )
    label: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )


@dataclass(slots=True, kw_only=True)
class Charge:
    """
    CIM Charge: one line of a bill.

    Attributes:
        kind:
        energy:
        unit_price:
        amount:
        time_tariff_interval:
        intervals: How many metered 15-minute intervals this line prices.
        estimated_intervals: How many of them the meter data management system estimated (a
            gap filled from the registers around it).
    """

    kind: str = field(
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        }
    )
    energy: int = field(
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "min_inclusive": 0,
        }
    )
    unit_price: Decimal = field(
        metadata={
            "name": "unitPrice",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "fraction_digits": 6,
        }
    )
    amount: Decimal = field(
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "fraction_digits": 6,
        }
    )
    time_tariff_interval: None | TimeTariffInterval = field(
        default=None,
        metadata={
            "name": "TimeTariffInterval",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )
    intervals: None | int = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )
    estimated_intervals: None | int = field(
        default=None,
        metadata={
            "name": "estimatedIntervals",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )


@dataclass(slots=True, kw_only=True)
class ChargingAcknowledgment:
    """
    Step 4.1.2: billing is done; the scheduler closes the session.
    """

    class Meta:
        namespace = "urn:evgrid:cim:EvCharging:1"

    charging_session: Reference = field(
        metadata={
            "name": "ChargingSession",
            "type": "Element",
        }
    )
    status: AcknowledgmentStatus = field(
        metadata={
            "type": "Element",
        }
    )
    billing_information: Reference = field(
        metadata={
            "name": "BillingInformation",
            "type": "Element",
        }
    )
    customer_account: Reference = field(
        metadata={
            "name": "CustomerAccount",
            "type": "Element",
        }
    )


@dataclass(slots=True, kw_only=True)
class ChargingConfirmation:
    """
    Steps 2.1.1 / 3.1.3: the requirements as the utility can meet them.

    When reachableEnergy is below requestedEnergy the reply is PARTIAL.
    """

    class Meta:
        namespace = "urn:evgrid:cim:EvCharging:1"

    charging_request: Reference = field(
        metadata={
            "name": "ChargingRequest",
            "type": "Element",
        }
    )
    charging_session: Reference = field(
        metadata={
            "name": "ChargingSession",
            "type": "Element",
        }
    )
    kind: ChargingKind = field(
        metadata={
            "type": "Element",
        }
    )
    requested_energy: int = field(
        metadata={
            "name": "requestedEnergy",
            "type": "Element",
            "min_inclusive": 0,
        }
    )
    reachable_energy: int = field(
        metadata={
            "name": "reachableEnergy",
            "type": "Element",
            "min_inclusive": 0,
        }
    )
    effective_power: Decimal = field(
        metadata={
            "name": "effectivePower",
            "type": "Element",
            "min_inclusive": Decimal("0"),
            "fraction_digits": 3,
        }
    )
    departure_time: XmlDateTime = field(
        metadata={
            "name": "departureTime",
            "type": "Element",
        }
    )
    tariff: None | Reference = field(
        default=None,
        metadata={
            "name": "Tariff",
            "type": "Element",
        },
    )


@dataclass(slots=True, kw_only=True)
class ChargingStation(IdentifiedObject):
    """
    CIM EndDevice: the EV supply equipment (IEC 61850-90-8 DESE), mRID is the EVSE id.
    """

    rated_power: None | Decimal = field(
        default=None,
        metadata={
            "name": "ratedPower",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "min_inclusive": Decimal("0"),
            "fraction_digits": 3,
        },
    )


@dataclass(slots=True, kw_only=True)
class Customer(IdentifiedObject):
    """
    CIM Customer: mRID is the utility's customer id.
    """


@dataclass(slots=True, kw_only=True)
class ElectricVehicle(IdentifiedObject):
    """
    CIM EndDevice of EndDeviceType 58 (electric vehicle): mRID is the utility-assigned EV Id
    (IEC 61850-90-8 DEEV.EVId).
    """

    max_power: None | Decimal = field(
        default=None,
        metadata={
            "name": "maxPower",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "min_inclusive": Decimal("0"),
            "fraction_digits": 3,
        },
    )
    state_of_charge: None | Decimal = field(
        default=None,
        metadata={
            "name": "stateOfCharge",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "min_inclusive": Decimal("0"),
            "max_inclusive": Decimal("100"),
        },
    )


@dataclass(slots=True, kw_only=True)
class Meter(IdentifiedObject):
    """
    CIM Meter (an EndDevice): mRID is the meter number.
    """


@dataclass(slots=True, kw_only=True)
class PowerTransformer(IdentifiedObject):
    rated_s: None | Decimal = field(
        default=None,
        metadata={
            "name": "ratedS",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "min_inclusive": Decimal("0"),
            "fraction_digits": 3,
        },
    )


@dataclass(slots=True, kw_only=True)
class PricingStructure(IdentifiedObject):
    code: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )


@dataclass(slots=True, kw_only=True)
class ServiceLocation(IdentifiedObject):
    premise_number: str = field(
        metadata={
            "name": "premiseNumber",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        }
    )


@dataclass(slots=True, kw_only=True)
class Tariff(IdentifiedObject):
    currency: str = field(
        metadata={
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "pattern": r"[A-Z]{3}",
        }
    )
    time_tariff_interval: list[TimeTariffInterval] = field(
        default_factory=list,
        metadata={
            "name": "TimeTariffInterval",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
            "min_occurs": 1,
        },
    )


@dataclass(slots=True, kw_only=True)
class ChargingCompletion:
    """
    Steps 2.3.4 / 3.3.4: the session ended; energy from the meter's register at start (2.3.1)
    and end (2.3.3).
    """

    class Meta:
        namespace = "urn:evgrid:cim:EvCharging:1"

    charging_session: Reference = field(
        metadata={
            "name": "ChargingSession",
            "type": "Element",
        }
    )
    charging_station: Reference = field(
        metadata={
            "name": "ChargingStation",
            "type": "Element",
        }
    )
    electric_vehicle: Reference = field(
        metadata={
            "name": "ElectricVehicle",
            "type": "Element",
        }
    )
    meter: Meter = field(
        metadata={
            "name": "Meter",
            "type": "Element",
        }
    )
    actual_interval: DateTimeInterval = field(
        metadata={
            "name": "actualInterval",
            "type": "Element",
        }
    )
    start_register: int = field(
        metadata={
            "name": "startRegister",
            "type": "Element",
            "min_inclusive": 0,
        }
    )
    end_register: int = field(
        metadata={
            "name": "endRegister",
            "type": "Element",
            "min_inclusive": 0,
        }
    )
    consumed_energy: int = field(
        metadata={
            "name": "consumedEnergy",
            "type": "Element",
            "min_inclusive": 0,
        }
    )
    reason: CompletionReason = field(
        metadata={
            "type": "Element",
        }
    )


@dataclass(slots=True, kw_only=True)
class CustomerAccount(IdentifiedObject):
    """
    CIM CustomerAccount: the account a charge is billed to.
    """

    customer: None | Customer = field(
        default=None,
        metadata={
            "name": "Customer",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )


@dataclass(slots=True, kw_only=True)
class TimeSlotAllotment:
    """
    Steps 2.2 / 2.2.1 / 3.2 / 3.2.1: the time slot(s) the scheduler assigned under the
    transformer's limit, and the start time for the portal.
    """

    class Meta:
        namespace = "urn:evgrid:cim:EvCharging:1"

    charging_session: Reference = field(
        metadata={
            "name": "ChargingSession",
            "type": "Element",
        }
    )
    charging_station: Reference = field(
        metadata={
            "name": "ChargingStation",
            "type": "Element",
        }
    )
    power_transformer: PowerTransformer = field(
        metadata={
            "name": "PowerTransformer",
            "type": "Element",
        }
    )
    kind: ChargingKind = field(
        metadata={
            "type": "Element",
        }
    )
    scheduled_interval: DateTimeInterval = field(
        metadata={
            "name": "scheduledInterval",
            "type": "Element",
        }
    )
    planned_energy: int = field(
        metadata={
            "name": "plannedEnergy",
            "type": "Element",
            "min_inclusive": 0,
        }
    )
    slot: list[Slot] = field(
        default_factory=list,
        metadata={
            "name": "Slot",
            "type": "Element",
            "min_occurs": 1,
        },
    )


@dataclass(slots=True, kw_only=True)
class UsagePoint(IdentifiedObject):
    """
    CIM UsagePoint: the site where the charging station is connected, with its premise number
    and meter number.
    """

    service_location: None | ServiceLocation = field(
        default=None,
        metadata={
            "name": "ServiceLocation",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )
    meter: None | Meter = field(
        default=None,
        metadata={
            "name": "Meter",
            "type": "Element",
            "namespace": "urn:evgrid:cim:EvCharging:1",
        },
    )


@dataclass(slots=True, kw_only=True)
class ApplicableRate:
    """
    Steps 2.1 / 3.1.2: the rate that applies to a session and the account it is charged to.
    """

    class Meta:
        namespace = "urn:evgrid:cim:EvCharging:1"

    charging_session: Reference = field(
        metadata={
            "name": "ChargingSession",
            "type": "Element",
        }
    )
    kind: ChargingKind = field(
        metadata={
            "type": "Element",
        }
    )
    charged_account: CustomerAccount = field(
        metadata={
            "name": "ChargedAccount",
            "type": "Element",
        }
    )
    pricing_structure: PricingStructure = field(
        metadata={
            "name": "PricingStructure",
            "type": "Element",
        }
    )
    tariff: Tariff = field(
        metadata={
            "name": "Tariff",
            "type": "Element",
        }
    )


@dataclass(slots=True, kw_only=True)
class BillingInformation:
    """
    Step 4.1.1: the bill information for the EV owner's portal.
    """

    class Meta:
        namespace = "urn:evgrid:cim:EvCharging:1"

    m_rid: str = field(
        metadata={
            "name": "mRID",
            "type": "Element",
            "min_length": 1,
            "max_length": 64,
            "pattern": r"\S(.*\S)?",
        }
    )
    charging_session: Reference = field(
        metadata={
            "name": "ChargingSession",
            "type": "Element",
        }
    )
    customer_account: CustomerAccount = field(
        metadata={
            "name": "CustomerAccount",
            "type": "Element",
        }
    )
    issued_date_time: XmlDateTime = field(
        metadata={
            "name": "issuedDateTime",
            "type": "Element",
        }
    )
    currency: str = field(
        metadata={
            "type": "Element",
            "pattern": r"[A-Z]{3}",
        }
    )
    charge: list[Charge] = field(
        default_factory=list,
        metadata={
            "name": "Charge",
            "type": "Element",
            "min_occurs": 1,
        },
    )
    total_energy: int = field(
        metadata={
            "name": "totalEnergy",
            "type": "Element",
            "min_inclusive": 0,
        }
    )
    total_amount: Decimal = field(
        metadata={
            "name": "totalAmount",
            "type": "Element",
            "fraction_digits": 6,
        }
    )


@dataclass(slots=True, kw_only=True)
class ChargingConsumption:
    """
    Step 4.1: consumption and rate of a session, to the Customer Billing System.

    Attributes:
        charging_session:
        kind:
        electric_vehicle:
        charged_account:
        host_account:
        interval:
        consumed_energy:
        tariff:
        pricing_structure: The rate the customer was told at 2.1 / 3.1.2 (its code: evNight,
            plain or quickCharge); Tariff then carries that rate's prices.
        usage_point: Where the session was metered: billing prices the meter data management
            system's 15-minute intervals of this usage point and meter.
    """

    class Meta:
        namespace = "urn:evgrid:cim:EvCharging:1"

    charging_session: Reference = field(
        metadata={
            "name": "ChargingSession",
            "type": "Element",
        }
    )
    kind: ChargingKind = field(
        metadata={
            "type": "Element",
        }
    )
    electric_vehicle: Reference = field(
        metadata={
            "name": "ElectricVehicle",
            "type": "Element",
        }
    )
    charged_account: CustomerAccount = field(
        metadata={
            "name": "ChargedAccount",
            "type": "Element",
        }
    )
    host_account: None | CustomerAccount = field(
        default=None,
        metadata={
            "name": "HostAccount",
            "type": "Element",
        },
    )
    interval: DateTimeInterval = field(
        metadata={
            "type": "Element",
        }
    )
    consumed_energy: int = field(
        metadata={
            "name": "consumedEnergy",
            "type": "Element",
            "min_inclusive": 0,
        }
    )
    tariff: Tariff = field(
        metadata={
            "name": "Tariff",
            "type": "Element",
        }
    )
    pricing_structure: None | PricingStructure = field(
        default=None,
        metadata={
            "name": "PricingStructure",
            "type": "Element",
        },
    )
    usage_point: None | UsagePoint = field(
        default=None,
        metadata={
            "name": "UsagePoint",
            "type": "Element",
        },
    )


@dataclass(slots=True, kw_only=True)
class ChargingRequest:
    """
    Steps 1.1.1 / 1.1.2: the EV's identity and requirements, with the portal's customer id and
    location.
    """

    class Meta:
        namespace = "urn:evgrid:cim:EvCharging:1"

    m_rid: str = field(
        metadata={
            "name": "mRID",
            "type": "Element",
            "min_length": 1,
            "max_length": 64,
            "pattern": r"\S(.*\S)?",
        }
    )
    created_date_time: XmlDateTime = field(
        metadata={
            "name": "createdDateTime",
            "type": "Element",
        }
    )
    electric_vehicle: ElectricVehicle = field(
        metadata={
            "name": "ElectricVehicle",
            "type": "Element",
        }
    )
    charging_station: ChargingStation = field(
        metadata={
            "name": "ChargingStation",
            "type": "Element",
        }
    )
    customer: Customer = field(
        metadata={
            "name": "Customer",
            "type": "Element",
        }
    )
    usage_point: UsagePoint = field(
        metadata={
            "name": "UsagePoint",
            "type": "Element",
        }
    )
    requested_energy: int = field(
        metadata={
            "name": "requestedEnergy",
            "type": "Element",
            "min_inclusive": 0,
        }
    )
    departure_time: XmlDateTime = field(
        metadata={
            "name": "departureTime",
            "type": "Element",
        }
    )
    max_power: Decimal = field(
        metadata={
            "name": "maxPower",
            "type": "Element",
            "min_inclusive": Decimal("0"),
            "fraction_digits": 3,
        }
    )


@dataclass(slots=True, kw_only=True)
class ChargingType:
    """
    Steps 1.2 / 3.1: home or third party, decided by comparing the EV owner's customer id with
    the portal's.
    """

    class Meta:
        namespace = "urn:evgrid:cim:EvCharging:1"

    charging_session: Reference = field(
        metadata={
            "name": "ChargingSession",
            "type": "Element",
        }
    )
    kind: ChargingKind = field(
        metadata={
            "type": "Element",
        }
    )
    electric_vehicle: Reference = field(
        metadata={
            "name": "ElectricVehicle",
            "type": "Element",
        }
    )
    owner_account: CustomerAccount = field(
        metadata={
            "name": "OwnerAccount",
            "type": "Element",
        }
    )
    host_account: CustomerAccount = field(
        metadata={
            "name": "HostAccount",
            "type": "Element",
        }
    )


@dataclass(slots=True, kw_only=True)
class ThirdPartyCharging:
    """
    Step 3.1.1: a third-party charge and the ids of the EV, its owner and the host.
    """

    class Meta:
        namespace = "urn:evgrid:cim:EvCharging:1"

    charging_session: Reference = field(
        metadata={
            "name": "ChargingSession",
            "type": "Element",
        }
    )
    electric_vehicle: Reference = field(
        metadata={
            "name": "ElectricVehicle",
            "type": "Element",
        }
    )
    owner_account: CustomerAccount = field(
        metadata={
            "name": "OwnerAccount",
            "type": "Element",
        }
    )
    host_account: CustomerAccount = field(
        metadata={
            "name": "HostAccount",
            "type": "Element",
        }
    )
    host_usage_point: UsagePoint = field(
        metadata={
            "name": "HostUsagePoint",
            "type": "Element",
        }
    )


@dataclass(slots=True, kw_only=True)
class UsageAssignment:
    """
    Step 3.3.5: the session's energy leaves the host's account and is assigned to the EV
    owner's.
    """

    class Meta:
        namespace = "urn:evgrid:cim:EvCharging:1"

    charging_session: Reference = field(
        metadata={
            "name": "ChargingSession",
            "type": "Element",
        }
    )
    electric_vehicle: Reference = field(
        metadata={
            "name": "ElectricVehicle",
            "type": "Element",
        }
    )
    host_usage_point: UsagePoint = field(
        metadata={
            "name": "HostUsagePoint",
            "type": "Element",
        }
    )
    from_account: CustomerAccount = field(
        metadata={
            "name": "FromAccount",
            "type": "Element",
        }
    )
    to_account: CustomerAccount = field(
        metadata={
            "name": "ToAccount",
            "type": "Element",
        }
    )
    interval: DateTimeInterval = field(
        metadata={
            "type": "Element",
        }
    )
    energy: int = field(
        metadata={
            "type": "Element",
            "min_inclusive": 0,
        }
    )
