# Generated from evgrid/schemas/*.xsd by xsdata (`make generate`): do not edit.
# ruff: noqa
from __future__ import annotations

from dataclasses import dataclass, field

from .end_device_controls import EndDeviceControls
from .message import (
    HeaderType,
    OperationSet,
    ReplyType,
    RequestType,
)

__NAMESPACE__ = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class EndDeviceControlsFaultMessageType:
    reply: ReplyType = field(
        metadata={
            "name": "Reply",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        }
    )


@dataclass(slots=True, kw_only=True)
class EndDeviceControlsPayloadType:
    end_device_controls: EndDeviceControls = field(
        metadata={
            "name": "EndDeviceControls",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControls#",
        }
    )
    operation_set: None | OperationSet = field(
        default=None,
        metadata={
            "name": "OperationSet",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        },
    )
    compressed: None | str = field(
        default=None,
        metadata={
            "name": "Compressed",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        },
    )
    format: None | str = field(
        default=None,
        metadata={
            "name": "Format",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        },
    )


@dataclass(slots=True, kw_only=True)
class EndDeviceControlsEventMessageType:
    header: HeaderType = field(
        metadata={
            "name": "Header",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        }
    )
    payload: None | EndDeviceControlsPayloadType = field(
        default=None,
        metadata={
            "name": "Payload",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        },
    )


@dataclass(slots=True, kw_only=True)
class EndDeviceControlsFaultMessage(EndDeviceControlsFaultMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class EndDeviceControlsRequestMessageType:
    header: HeaderType = field(
        metadata={
            "name": "Header",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        }
    )
    request: None | RequestType = field(
        default=None,
        metadata={
            "name": "Request",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        },
    )
    payload: None | EndDeviceControlsPayloadType = field(
        default=None,
        metadata={
            "name": "Payload",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        },
    )


@dataclass(slots=True, kw_only=True)
class EndDeviceControlsResponseMessageType:
    header: HeaderType = field(
        metadata={
            "name": "Header",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        }
    )
    reply: ReplyType = field(
        metadata={
            "name": "Reply",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        }
    )
    payload: None | EndDeviceControlsPayloadType = field(
        default=None,
        metadata={
            "name": "Payload",
            "type": "Element",
            "namespace": "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        },
    )


@dataclass(slots=True, kw_only=True)
class CancelEndDeviceControls(EndDeviceControlsRequestMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class CanceledEndDeviceControls(EndDeviceControlsEventMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class ChangeEndDeviceControls(EndDeviceControlsRequestMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class ChangedEndDeviceControls(EndDeviceControlsEventMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class CloseEndDeviceControls(EndDeviceControlsRequestMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class ClosedEndDeviceControls(EndDeviceControlsEventMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class CreateEndDeviceControls(EndDeviceControlsRequestMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class CreatedEndDeviceControls(EndDeviceControlsEventMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class DeleteEndDeviceControls(EndDeviceControlsRequestMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class DeletedEndDeviceControls(EndDeviceControlsEventMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"


@dataclass(slots=True, kw_only=True)
class EndDeviceControlsResponseMessage(EndDeviceControlsResponseMessageType):
    class Meta:
        namespace = "http://iec.ch/TC57/2011/EndDeviceControlsMessage"
