# Generated from evgrid/schemas/*.xsd by xsdata (`make generate`): do not edit.
# ruff: noqa
from __future__ import annotations

from dataclasses import dataclass, field

from xsdata.models.datatype import XmlDateTime

from .get_meter_readings import GetMeterReadings as GetMeterReadingsGetMeterReadings
from .message import (
    HeaderType,
    OperationSet,
    OptionType,
    ReplyType,
)
from .meter_readings import MeterReadings

__NAMESPACE__ = "http://iec.ch/TC57/2011/GetMeterReadingsMessage"


@dataclass(slots=True, kw_only=True)
class GetMeterReadingsRequestType:
    start_time: None | XmlDateTime = field(
        default=None,
        metadata={
            "name": "StartTime",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        },
    )
    end_time: None | XmlDateTime = field(
        default=None,
        metadata={
            "name": "EndTime",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        },
    )
    option: list[OptionType] = field(
        default_factory=list,
        metadata={
            "name": "Option",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        },
    )
    id: list[str] = field(
        default_factory=list,
        metadata={
            "name": "ID",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        },
    )
    get_meter_readings: GetMeterReadingsGetMeterReadings = field(
        metadata={
            "name": "GetMeterReadings",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadings#",
        }
    )
    other_element: list[object] = field(
        default_factory=list,
        metadata={
            "type": "Wildcard",
            "namespace": "##other",
        },
    )


@dataclass(slots=True, kw_only=True)
class MeterReadingsFaultMessageType:
    reply: ReplyType = field(
        metadata={
            "name": "Reply",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        }
    )


@dataclass(slots=True, kw_only=True)
class MeterReadingsPayloadType:
    meter_readings: None | MeterReadings = field(
        default=None,
        metadata={
            "name": "MeterReadings",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/MeterReadings#",
        },
    )
    operation_set: None | OperationSet = field(
        default=None,
        metadata={
            "name": "OperationSet",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        },
    )
    compressed: None | str = field(
        default=None,
        metadata={
            "name": "Compressed",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        },
    )
    format: None | str = field(
        default=None,
        metadata={
            "name": "Format",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        },
    )


@dataclass(slots=True, kw_only=True)
class GetMeterReadingsRequestMessageType:
    header: HeaderType = field(
        metadata={
            "name": "Header",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        }
    )
    request: GetMeterReadingsRequestType = field(
        metadata={
            "name": "Request",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        }
    )
    payload: None | MeterReadingsPayloadType = field(
        default=None,
        metadata={
            "name": "Payload",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        },
    )


@dataclass(slots=True, kw_only=True)
class MeterReadingsFaultMessage(MeterReadingsFaultMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/GetMeterReadingsMessage"


@dataclass(slots=True, kw_only=True)
class MeterReadingsResponseMessageType:
    header: HeaderType = field(
        metadata={
            "name": "Header",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        }
    )
    reply: ReplyType = field(
        metadata={
            "name": "Reply",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        }
    )
    payload: None | MeterReadingsPayloadType = field(
        default=None,
        metadata={
            "name": "Payload",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        },
    )


@dataclass(slots=True, kw_only=True)
class GetMeterReadings(GetMeterReadingsRequestMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/GetMeterReadingsMessage"


@dataclass(slots=True, kw_only=True)
class MeterReadingsResponseMessage(MeterReadingsResponseMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/GetMeterReadingsMessage"
