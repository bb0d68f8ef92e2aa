# Generated from evgrid/schemas/*.xsd by xsdata (`make generate`): do not edit.
# ruff: noqa
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from xsdata.models.datatype import XmlDateTime

__NAMESPACE__ = "http://iec.ch/TC57/2011/MeterReadings#"


@dataclass(slots=True, kw_only=True)
class DateTimeInterval:
    end: None | XmlDateTime = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    start: None | XmlDateTime = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )


@dataclass(slots=True, kw_only=True)
class EndDeviceEventDetail:
    name: str = field(
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )
    value: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )


@dataclass(slots=True, kw_only=True)
class LoadProfile:
    name: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    reading_type: list[LoadProfile.ReadingType] = field(
        default_factory=list,
        metadata={
            "name": "ReadingType",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )

    @dataclass(slots=True, kw_only=True)
    class ReadingType:
        ref: None | str = field(
            default=None,
            metadata={
                "type": "Attribute",
            },
        )


@dataclass(slots=True, kw_only=True)
class NameTypeAuthority:
    description: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    name: str = field(
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )


@dataclass(slots=True, kw_only=True)
class PendingCalculation:
    multiply_before_add: None | bool = field(
        default=None,
        metadata={
            "name": "multiplyBeforeAdd",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    offset: None | int = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    scalar_denominator: None | int = field(
        default=None,
        metadata={
            "name": "scalarDenominator",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    scalar_float: None | float = field(
        default=None,
        metadata={
            "name": "scalarFloat",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    scalar_numerator: None | int = field(
        default=None,
        metadata={
            "name": "scalarNumerator",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    reading_type: PendingCalculation.ReadingType = field(
        metadata={
            "name": "ReadingType",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )

    @dataclass(slots=True, kw_only=True)
    class ReadingType:
        ref: None | str = field(
            default=None,
            metadata={
                "type": "Attribute",
            },
        )


@dataclass(slots=True, kw_only=True)
class RationalNumber:
    denominator: int = field(
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )
    numerator: int = field(
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )


@dataclass(slots=True, kw_only=True)
class ReadingInterharmonic:
    denominator: int = field(
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )
    numerator: int = field(
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )


@dataclass(slots=True, kw_only=True)
class ReadingQuality:
    comment: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    source: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    time_stamp: None | XmlDateTime = field(
        default=None,
        metadata={
            "name": "timeStamp",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    reading_quality_type: ReadingQuality.ReadingQualityType = field(
        metadata={
            "name": "ReadingQualityType",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )

    @dataclass(slots=True, kw_only=True)
    class ReadingQualityType:
        ref: None | str = field(
            default=None,
            metadata={
                "type": "Attribute",
            },
        )


class ReadingReasonKind(Enum):
    BILLING = "billing"
    DEMAND_RESET = "demandReset"
    INQUIRY = "inquiry"
    INSTALLATION = "installation"
    LOAD_MANAGEMENT = "loadManagement"
    LOAD_RESEARCH = "loadResearch"
    MOVE_IN = "moveIn"
    MOVE_OUT = "moveOut"
    OTHER = "other"
    REMOVAL = "removal"
    SERVICE_CONNECT = "serviceConnect"
    SERVICE_DISCONNECT = "serviceDisconnect"


@dataclass(slots=True, kw_only=True)
class RegisterGroup:
    name: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    reading_type: list[RegisterGroup.ReadingType] = field(
        default_factory=list,
        metadata={
            "name": "ReadingType",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )

    @dataclass(slots=True, kw_only=True)
    class ReadingType:
        ref: None | str = field(
            default=None,
            metadata={
                "type": "Attribute",
            },
        )


@dataclass(slots=True, kw_only=True)
class Status:
    date_time: None | XmlDateTime = field(
        default=None,
        metadata={
            "name": "dateTime",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    reason: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    remark: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    value: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )


@dataclass(slots=True, kw_only=True)
class IntervalReading:
    reported_date_time: None | XmlDateTime = field(
        default=None,
        metadata={
            "name": "reportedDateTime",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    source: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    time_stamp: None | XmlDateTime = field(
        default=None,
        metadata={
            "name": "timeStamp",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    value: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    reading_qualities: list[ReadingQuality] = field(
        default_factory=list,
        metadata={
            "name": "ReadingQualities",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    time_period: None | DateTimeInterval = field(
        default=None,
        metadata={
            "name": "timePeriod",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )


@dataclass(slots=True, kw_only=True)
class NameType:
    description: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    name: str = field(
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )
    name_type_authority: None | NameTypeAuthority = field(
        default=None,
        metadata={
            "name": "NameTypeAuthority",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )


@dataclass(slots=True, kw_only=True)
class Reading:
    reason: None | ReadingReasonKind = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    reported_date_time: None | XmlDateTime = field(
        default=None,
        metadata={
            "name": "reportedDateTime",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    source: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    time_stamp: None | XmlDateTime = field(
        default=None,
        metadata={
            "name": "timeStamp",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    value: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    reading_qualities: list[ReadingQuality] = field(
        default_factory=list,
        metadata={
            "name": "ReadingQualities",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    reading_type: Reading.ReadingType = field(
        metadata={
            "name": "ReadingType",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )
    time_period: None | DateTimeInterval = field(
        default=None,
        metadata={
            "name": "timePeriod",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )

    @dataclass(slots=True, kw_only=True)
    class ReadingType:
        ref: None | str = field(
            default=None,
            metadata={
                "type": "Attribute",
            },
        )


@dataclass(slots=True, kw_only=True)
class IntervalBlock:
    interval_readings: list[IntervalReading] = field(
        default_factory=list,
        metadata={
            "name": "IntervalReadings",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    pending_calculation: None | PendingCalculation = field(
        default=None,
        metadata={
            "name": "PendingCalculation",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    reading_type: IntervalBlock.ReadingType = field(
        metadata={
            "name": "ReadingType",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )

    @dataclass(slots=True, kw_only=True)
    class ReadingType:
        ref: None | str = field(
            default=None,
            metadata={
                "type": "Attribute",
            },
        )


@dataclass(slots=True, kw_only=True)
class Name:
    name: str = field(
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )
    name_type: None | NameType = field(
        default=None,
        metadata={
            "name": "NameType",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )


@dataclass(slots=True, kw_only=True)
class Asset:
    m_rid: None | str = field(
        default=None,
        metadata={
            "name": "mRID",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    names: list[Name] = field(
        default_factory=list,
        metadata={
            "name": "Names",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )


@dataclass(slots=True, kw_only=True)
class EndDeviceEventType:
    m_rid: None | str = field(
        default=None,
        metadata={
            "name": "mRID",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    domain: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    event_or_action: None | str = field(
        default=None,
        metadata={
            "name": "eventOrAction",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    sub_domain: None | str = field(
        default=None,
        metadata={
            "name": "subDomain",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    type_value: None | str = field(
        default=None,
        metadata={
            "name": "type",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    names: list[Name] = field(
        default_factory=list,
        metadata={
            "name": "Names",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
            "min_occurs": 1,
        },
    )


@dataclass(slots=True, kw_only=True)
class Meter:
    m_rid: None | str = field(
        default=None,
        metadata={
            "name": "mRID",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    serial_number: None | str = field(
        default=None,
        metadata={
            "name": "serialNumber",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    names: list[Name] = field(
        default_factory=list,
        metadata={
            "name": "Names",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    status: None | Status = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )


@dataclass(slots=True, kw_only=True)
class ReadingQualityType:
    m_rid: None | str = field(
        default=None,
        metadata={
            "name": "mRID",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    category: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    sub_category: None | str = field(
        default=None,
        metadata={
            "name": "subCategory",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    system_id: None | str = field(
        default=None,
        metadata={
            "name": "systemId",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    names: list[Name] = field(
        default_factory=list,
        metadata={
            "name": "Names",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
            "min_occurs": 1,
        },
    )


@dataclass(slots=True, kw_only=True)
class ReadingType:
    m_rid: None | str = field(
        default=None,
        metadata={
            "name": "mRID",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    accumulation: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    aggregate: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    commodity: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    consumption_tier: None | int = field(
        default=None,
        metadata={
            "name": "consumptionTier",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    cpp: None | int = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    currency: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    flow_direction: None | str = field(
        default=None,
        metadata={
            "name": "flowDirection",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    macro_period: None | str = field(
        default=None,
        metadata={
            "name": "macroPeriod",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    measurement_kind: None | str = field(
        default=None,
        metadata={
            "name": "measurementKind",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    measuring_period: None | str = field(
        default=None,
        metadata={
            "name": "measuringPeriod",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    multiplier: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    phases: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    tou: None | int = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    unit: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    argument: None | RationalNumber = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    interharmonic: None | ReadingInterharmonic = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    names: list[Name] = field(
        default_factory=list,
        metadata={
            "name": "Names",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
            "min_occurs": 1,
        },
    )


@dataclass(slots=True, kw_only=True)
class UsagePoint:
    m_rid: None | str = field(
        default=None,
        metadata={
            "name": "mRID",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    names: list[Name] = field(
        default_factory=list,
        metadata={
            "name": "Names",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )


@dataclass(slots=True, kw_only=True)
class EndDeviceEvent:
    m_rid: None | str = field(
        default=None,
        metadata={
            "name": "mRID",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    created_date_time: XmlDateTime = field(
        metadata={
            "name": "createdDateTime",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )
    issuer_id: None | str = field(
        default=None,
        metadata={
            "name": "issuerID",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    issuer_tracking_id: None | str = field(
        default=None,
        metadata={
            "name": "issuerTrackingID",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    reason: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    severity: None | str = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    user_id: None | str = field(
        default=None,
        metadata={
            "name": "userID",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    assets: None | Asset = field(
        default=None,
        metadata={
            "name": "Assets",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    end_device_event_details: list[EndDeviceEventDetail] = field(
        default_factory=list,
        metadata={
            "name": "EndDeviceEventDetails",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    end_device_event_type: EndDeviceEvent.EndDeviceEventType = field(
        metadata={
            "name": "EndDeviceEventType",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        }
    )
    names: list[Name] = field(
        default_factory=list,
        metadata={
            "name": "Names",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    status: None | Status = field(
        default=None,
        metadata={
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    usage_point: None | UsagePoint = field(
        default=None,
        metadata={
            "name": "UsagePoint",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )

    @dataclass(slots=True, kw_only=True)
    class EndDeviceEventType:
        ref: None | str = field(
            default=None,
            metadata={
                "type": "Attribute",
            },
        )


@dataclass(slots=True, kw_only=True)
class MeterReading:
    is_coincident_trigger: None | bool = field(
        default=None,
        metadata={
            "name": "isCoincidentTrigger",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    end_device_events: list[EndDeviceEvent] = field(
        default_factory=list,
        metadata={
            "name": "EndDeviceEvents",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    interval_blocks: list[IntervalBlock] = field(
        default_factory=list,
        metadata={
            "name": "IntervalBlocks",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    meter: None | Meter = field(
        default=None,
        metadata={
            "name": "Meter",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    readings: list[Reading] = field(
        default_factory=list,
        metadata={
            "name": "Readings",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    usage_point: None | UsagePoint = field(
        default=None,
        metadata={
            "name": "UsagePoint",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    values_interval: None | DateTimeInterval = field(
        default=None,
        metadata={
            "name": "valuesInterval",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )


@dataclass(slots=True, kw_only=True)
class MeterReadings:
    class Meta:
        namespace = "http://iec.ch/TC57/2011/MeterReadings#"

    end_device_event_type: list[EndDeviceEventType] = field(
        default_factory=list,
        metadata={
            "name": "EndDeviceEventType",
            "type": "Element",
        },
    )
    meter_reading: list[MeterReading] = field(
        default_factory=list,
        metadata={
            "name": "MeterReading",
            "type": "Element",
        },
    )
    reading_quality_type: list[ReadingQualityType] = field(
        default_factory=list,
        metadata={
            "name": "ReadingQualityType",
            "type": "Element",
        },
    )
    reading_type: list[ReadingType] = field(
        default_factory=list,
        metadata={
            "name": "ReadingType",
            "type": "Element",
        },
    )
    load_profile: list[LoadProfile] = field(
        default_factory=list,
        metadata={
            "name": "LoadProfile",
            "type": "Element",
        },
    )
    register_group: list[RegisterGroup] = field(
        default_factory=list,
        metadata={
            "name": "RegisterGroup",
            "type": "Element",
        },
    )
