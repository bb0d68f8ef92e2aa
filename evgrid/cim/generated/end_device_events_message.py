# Generated from evgrid/schemas/*.xsd by xsdata (`make generate`): do not edit.
# ruff: noqa
from __future__ import annotations

from dataclasses import dataclass, field

from .end_device_events import EndDeviceEvents
from .message import (
    HeaderType,
    OperationSet,
    ReplyType,
    RequestType,
)

__NAMESPACE__ = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class EndDeviceEventsFaultMessageType:
    reply: ReplyType = field(
        metadata={
            "name": "Reply",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        }
    )


@dataclass(slots=True, kw_only=True)
class EndDeviceEventsPayloadType:
    end_device_events: EndDeviceEvents = field(
        metadata={
            "name": "EndDeviceEvents",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEvents#",
        }
    )
    operation_set: None | OperationSet = field(
        default=None,
        metadata={
            "name": "OperationSet",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        },
    )
    compressed: None | str = field(
        default=None,
        metadata={
            "name": "Compressed",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        },
    )
    format: None | str = field(
        default=None,
        metadata={
            "name": "Format",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        },
    )


@dataclass(slots=True, kw_only=True)
class EndDeviceEventsEventMessageType:
    header: HeaderType = field(
        metadata={
            "name": "Header",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        }
    )
    reply: None | ReplyType = field(
        default=None,
        metadata={
            "name": "Reply",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        },
    )
    payload: None | EndDeviceEventsPayloadType = field(
        default=None,
        metadata={
            "name": "Payload",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        },
    )


@dataclass(slots=True, kw_only=True)
class EndDeviceEventsFaultMessage(EndDeviceEventsFaultMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class EndDeviceEventsRequestMessageType:
    header: HeaderType = field(
        metadata={
            "name": "Header",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        }
    )
    request: None | RequestType = field(
        default=None,
        metadata={
            "name": "Request",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        },
    )
    payload: None | EndDeviceEventsPayloadType = field(
        default=None,
        metadata={
            "name": "Payload",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        },
    )


@dataclass(slots=True, kw_only=True)
class EndDeviceEventsResponseMessageType:
    header: HeaderType = field(
        metadata={
            "name": "Header",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        }
    )
    reply: ReplyType = field(
        metadata={
            "name": "Reply",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        }
    )
    payload: None | EndDeviceEventsPayloadType = field(
        default=None,
        metadata={
            "name": "Payload",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        },
    )


@dataclass(slots=True, kw_only=True)
class CancelEndDeviceEvents(EndDeviceEventsRequestMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class CanceledEndDeviceEvents(EndDeviceEventsEventMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class ChangeEndDeviceEvents(EndDeviceEventsRequestMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class ChangedEndDeviceEvents(EndDeviceEventsEventMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class CloseEndDeviceEvents(EndDeviceEventsRequestMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class ClosedEndDeviceEvents(EndDeviceEventsEventMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class CreateEndDeviceEvents(EndDeviceEventsRequestMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class CreatedEndDeviceEvents(EndDeviceEventsEventMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class DeleteEndDeviceEvents(EndDeviceEventsRequestMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class DeletedEndDeviceEvents(EndDeviceEventsEventMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"


@dataclass(slots=True, kw_only=True)
class EndDeviceEventsResponseMessage(EndDeviceEventsResponseMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceEventsMessage"
