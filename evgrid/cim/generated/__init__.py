# Generated from evgrid/schemas/*.xsd by xsdata (`make generate`): do not edit.
# ruff: noqa
from .end_device_controls import (
    ControlledAppliance,
    ElectronicAddress,
    EndDeviceAction,
    EndDeviceControl,
    EndDeviceControlAttribute,
    EndDeviceControls,
    EndDeviceControlType,
    EndDeviceInfo,
    EndDeviceTiming,
    PanDemandResponse,
    PanDisplay,
    PanPricing,
    PanPricingDetail,
    RandomisationKind,
    TransmissionModeKind,
)
from .end_device_controls import (
    Customer as EndDeviceControlsCustomer,
)
from .end_device_controls import (
    DateTimeInterval as EndDeviceControlsDateTimeInterval,
)
from .end_device_controls import (
    EndDevice as EndDeviceControlsEndDevice,
)
from .end_device_controls import (
    EndDeviceGroup as EndDeviceControlsEndDeviceGroup,
)
from .end_device_controls import (
    Name as EndDeviceControlsName,
)
from .end_device_controls import (
    NameType as EndDeviceControlsNameType,
)
from .end_device_controls import (
    NameTypeAuthority as EndDeviceControlsNameTypeAuthority,
)
from .end_device_controls import (
    ServiceLocation as EndDeviceControlsServiceLocation,
)
from .end_device_controls import (
    UsagePoint as ControlsUsagePoint,
)
from .end_device_controls import (
    UsagePointGroup as EndDeviceControlsUsagePointGroup,
)
from .end_device_controls_message import (
    CanceledEndDeviceControls,
    CancelEndDeviceControls,
    ChangedEndDeviceControls,
    ChangeEndDeviceControls,
    ClosedEndDeviceControls,
    CloseEndDeviceControls,
    CreatedEndDeviceControls,
    CreateEndDeviceControls,
    DeletedEndDeviceControls,
    DeleteEndDeviceControls,
    EndDeviceControlsEventMessageType,
    EndDeviceControlsFaultMessage,
    EndDeviceControlsFaultMessageType,
    EndDeviceControlsPayloadType,
    EndDeviceControlsRequestMessageType,
    EndDeviceControlsResponseMessage,
    EndDeviceControlsResponseMessageType,
)
from .end_device_events import (
    Asset as EndDeviceEventsAsset,
)
from .end_device_events import (
    EndDeviceEvent as EndDeviceEventsEndDeviceEvent,
)
from .end_device_events import (
    EndDeviceEventDetail as EndDeviceEventsEndDeviceEventDetail,
)
from .end_device_events import (
    EndDeviceEvents,
)
from .end_device_events import (
    EndDeviceEventType as EndDeviceEventsEndDeviceEventType,
)
from .end_device_events import (
    Name as EndDeviceEventsName,
)
from .end_device_events import (
    NameType as EndDeviceEventsNameType,
)
from .end_device_events import (
    NameTypeAuthority as EndDeviceEventsNameTypeAuthority,
)
from .end_device_events import (
    Status as EndDeviceEventsStatus,
)
from .end_device_events import (
    UsagePoint as EventsUsagePoint,
)
from .end_device_events_message import (
    CanceledEndDeviceEvents,
    CancelEndDeviceEvents,
    ChangedEndDeviceEvents,
    ChangeEndDeviceEvents,
    ClosedEndDeviceEvents,
    CloseEndDeviceEvents,
    CreatedEndDeviceEvents,
    CreateEndDeviceEvents,
    DeletedEndDeviceEvents,
    DeleteEndDeviceEvents,
    EndDeviceEventsEventMessageType,
    EndDeviceEventsFaultMessage,
    EndDeviceEventsFaultMessageType,
    EndDeviceEventsPayloadType,
    EndDeviceEventsRequestMessageType,
    EndDeviceEventsResponseMessage,
    EndDeviceEventsResponseMessageType,
)
from .ev_charging import (
    AcknowledgmentStatus,
    ApplicableRate,
    BillingInformation,
    Charge,
    ChargingAcknowledgment,
    ChargingCompletion,
    ChargingConfirmation,
    ChargingConsumption,
    ChargingKind,
    ChargingRequest,
    ChargingStation,
    ChargingType,
    CompletionReason,
    CustomerAccount,
    ElectricVehicle,
    IdentifiedObject,
    PowerTransformer,
    PricingStructure,
    Reference,
    Slot,
    Tariff,
    ThirdPartyCharging,
    TimeSlotAllotment,
    TimeTariffInterval,
    UsageAssignment,
)
from .ev_charging import (
    Customer as EvChargingCustomer,
)
from .ev_charging import (
    DateTimeInterval as EvChargingDateTimeInterval,
)
from .ev_charging import (
    Meter as EvChargingMeter,
)
from .ev_charging import (
    ServiceLocation as EvChargingServiceLocation,
)
from .ev_charging import (
    UsagePoint as EvChargingUsagePoint,
)
from .get_meter_readings import (
    CoincidentReading,
    DataSource,
    TimeSchedule,
    TransformerTank,
)
from .get_meter_readings import (
    DateTimeInterval as GetMeterReadingsDateTimeInterval,
)
from .get_meter_readings import (
    EndDevice as GetMeterReadingsEndDevice,
)
from .get_meter_readings import (
    EndDeviceEvent as GetMeterReadingsEndDeviceEvent,
)
from .get_meter_readings import (
    EndDeviceEventType as GetMeterReadingsEndDeviceEventType,
)
from .get_meter_readings import (
    EndDeviceGroup as GetMeterReadingsEndDeviceGroup,
)
from .get_meter_readings import (
    GetMeterReadings as GetMeterReadings,
)
from .get_meter_readings import (
    Meter as GetMeterReadingsMeter,
)
from .get_meter_readings import (
    MeterReadings as GetMeterReadings,
)
from .get_meter_readings import (
    Name as GetMeterReadingsName,
)
from .get_meter_readings import (
    NameType as GetMeterReadingsNameType,
)
from .get_meter_readings import (
    NameTypeAuthority as GetMeterReadingsNameTypeAuthority,
)
from .get_meter_readings import (
    Reading as GetReading,
)
from .get_meter_readings import (
    ReadingQuality as GetReadingQuality,
)
from .get_meter_readings import (
    ReadingReasonKind as GetReadingReasonKind,
)
from .get_meter_readings import (
    ReadingType as GetReadingType,
)
from .get_meter_readings import (
    UsagePoint as GetMeterReadingsUsagePoint,
)
from .get_meter_readings import (
    UsagePointGroup as GetMeterReadingsUsagePointGroup,
)
from .get_meter_readings_message import (
    GetMeterReadings as MessageGetMeterReadings,
)
from .get_meter_readings_message import (
    GetMeterReadingsRequestMessageType,
    GetMeterReadingsRequestType,
)
from .get_meter_readings_message import (
    MeterReadingsFaultMessage as GetMeterReadingsFaultMessage,
)
from .get_meter_readings_message import (
    MeterReadingsFaultMessageType as GetMeterReadingsFaultMessageType,
)
from .get_meter_readings_message import (
    MeterReadingsPayloadType as GetMeterReadingsPayloadType,
)
from .get_meter_readings_message import (
    MeterReadingsResponseMessage as GetMeterReadingsResponseMessage,
)
from .get_meter_readings_message import (
    MeterReadingsResponseMessageType as GetMeterReadingsResponseMessageType,
)
from .message import (
    ErrorType,
    EventMessage,
    EventMessageType,
    FaultMessage,
    FaultMessageType,
    HeaderType,
    IdkindType,
    Idtype,
    LevelType,
    LocationType,
    Message,
    MessageProperty,
    MessageType,
    ObjectType,
    OperationSet,
    OperationType,
    OptionType,
    PayloadType,
    ReplayDetectionType,
    ReplyType,
    RequestMessage,
    RequestMessageType,
    RequestType,
    ResponseMessage,
    ResponseMessageType,
    ResultType,
    UserType,
    VerbType,
)
from .message import (
    Name as MessageName,
)
from .message import (
    NameType as MessageNameType,
)
from .message import (
    NameTypeAuthority as MessageNameTypeAuthority,
)
from .meter_readings import (
    Asset as MeterReadingsAsset,
)
from .meter_readings import (
    DateTimeInterval as DateTimeInterval,
)
from .meter_readings import (
    EndDeviceEvent as EndDeviceEvent,
)
from .meter_readings import (
    EndDeviceEventDetail as MeterReadingsEndDeviceEventDetail,
)
from .meter_readings import (
    EndDeviceEventType as EndDeviceEventType,
)
from .meter_readings import (
    IntervalBlock,
    IntervalReading,
    LoadProfile,
    MeterReading,
    PendingCalculation,
    RationalNumber,
    ReadingInterharmonic,
    ReadingQualityType,
    RegisterGroup,
)
from .meter_readings import (
    Meter as Meter,
)
from .meter_readings import (
    MeterReadings as MeterReadings,
)
from .meter_readings import (
    Name as Name,
)
from .meter_readings import (
    NameType as NameType,
)
from .meter_readings import (
    NameTypeAuthority as NameTypeAuthority,
)
from .meter_readings import (
    Reading as Reading,
)
from .meter_readings import (
    ReadingQuality as ReadingQuality,
)
from .meter_readings import (
    ReadingReasonKind as ReadingReasonKind,
)
from .meter_readings import (
    ReadingType as ReadingType,
)
from .meter_readings import (
    Status as MeterReadingsStatus,
)
from .meter_readings import (
    UsagePoint as UsagePoint,
)
from .meter_readings_message import (
    CanceledMeterReadings,
    CancelMeterReadings,
    ChangedMeterReadings,
    ChangeMeterReadings,
    ClosedMeterReadings,
    CloseMeterReadings,
    CreatedMeterReadings,
    CreateMeterReadings,
    DeletedMeterReadings,
    DeleteMeterReadings,
    MeterReadingsEventMessageType,
    MeterReadingsRequestMessageType,
)
from .meter_readings_message import (
    MeterReadingsFaultMessage as MeterReadingsFaultMessage,
)
from .meter_readings_message import (
    MeterReadingsFaultMessageType as MeterReadingsFaultMessageType,
)
from .meter_readings_message import (
    MeterReadingsPayloadType as MeterReadingsPayloadType,
)
from .meter_readings_message import (
    MeterReadingsResponseMessage as MeterReadingsResponseMessage,
)
from .meter_readings_message import (
    MeterReadingsResponseMessageType as MeterReadingsResponseMessageType,
)

__all__ = [
    "ControlledAppliance",
    "EndDeviceControlsCustomer",
    "EndDeviceControlsDateTimeInterval",
    "ElectronicAddress",
    "EndDeviceControlsEndDevice",
    "EndDeviceAction",
    "EndDeviceControl",
    "EndDeviceControlAttribute",
    "EndDeviceControlType",
    "EndDeviceControls",
    "EndDeviceControlsEndDeviceGroup",
    "EndDeviceInfo",
    "EndDeviceTiming",
    "EndDeviceControlsName",
    "EndDeviceControlsNameType",
    "EndDeviceControlsNameTypeAuthority",
    "PanDemandResponse",
    "PanDisplay",
    "PanPricing",
    "PanPricingDetail",
    "RandomisationKind",
    "EndDeviceControlsServiceLocation",
    "TransmissionModeKind",
    "ControlsUsagePoint",
    "EndDeviceControlsUsagePointGroup",
    "CancelEndDeviceControls",
    "CanceledEndDeviceControls",
    "ChangeEndDeviceControls",
    "ChangedEndDeviceControls",
    "CloseEndDeviceControls",
    "ClosedEndDeviceControls",
    "CreateEndDeviceControls",
    "CreatedEndDeviceControls",
    "DeleteEndDeviceControls",
    "DeletedEndDeviceControls",
    "EndDeviceControlsEventMessageType",
    "EndDeviceControlsFaultMessage",
    "EndDeviceControlsFaultMessageType",
    "EndDeviceControlsPayloadType",
    "EndDeviceControlsRequestMessageType",
    "EndDeviceControlsResponseMessage",
    "EndDeviceControlsResponseMessageType",
    "EndDeviceEventsAsset",
    "EndDeviceEventsEndDeviceEvent",
    "EndDeviceEventsEndDeviceEventDetail",
    "EndDeviceEventsEndDeviceEventType",
    "EndDeviceEvents",
    "EndDeviceEventsName",
    "EndDeviceEventsNameType",
    "EndDeviceEventsNameTypeAuthority",
    "EndDeviceEventsStatus",
    "EventsUsagePoint",
    "CancelEndDeviceEvents",
    "CanceledEndDeviceEvents",
    "ChangeEndDeviceEvents",
    "ChangedEndDeviceEvents",
    "CloseEndDeviceEvents",
    "ClosedEndDeviceEvents",
    "CreateEndDeviceEvents",
    "CreatedEndDeviceEvents",
    "DeleteEndDeviceEvents",
    "DeletedEndDeviceEvents",
    "EndDeviceEventsEventMessageType",
    "EndDeviceEventsFaultMessage",
    "EndDeviceEventsFaultMessageType",
    "EndDeviceEventsPayloadType",
    "EndDeviceEventsRequestMessageType",
    "EndDeviceEventsResponseMessage",
    "EndDeviceEventsResponseMessageType",
    "AcknowledgmentStatus",
    "ApplicableRate",
    "BillingInformation",
    "Charge",
    "ChargingAcknowledgment",
    "ChargingCompletion",
    "ChargingConfirmation",
    "ChargingConsumption",
    "ChargingKind",
    "ChargingRequest",
    "ChargingStation",
    "ChargingType",
    "CompletionReason",
    "EvChargingCustomer",
    "CustomerAccount",
    "EvChargingDateTimeInterval",
    "ElectricVehicle",
    "IdentifiedObject",
    "EvChargingMeter",
    "PowerTransformer",
    "PricingStructure",
    "Reference",
    "EvChargingServiceLocation",
    "Slot",
    "Tariff",
    "ThirdPartyCharging",
    "TimeSlotAllotment",
    "TimeTariffInterval",
    "UsageAssignment",
    "EvChargingUsagePoint",
    "CoincidentReading",
    "DataSource",
    "GetMeterReadingsDateTimeInterval",
    "GetMeterReadingsEndDevice",
    "GetMeterReadingsEndDeviceEvent",
    "GetMeterReadingsEndDeviceEventType",
    "GetMeterReadingsEndDeviceGroup",
    "GetMeterReadings",
    "GetMeterReadingsMeter",
    "GetMeterReadings",
    "GetMeterReadingsName",
    "GetMeterReadingsNameType",
    "GetMeterReadingsNameTypeAuthority",
    "GetReading",
    "GetReadingQuality",
    "GetReadingReasonKind",
    "GetReadingType",
    "TimeSchedule",
    "TransformerTank",
    "GetMeterReadingsUsagePoint",
    "GetMeterReadingsUsagePointGroup",
    "MessageGetMeterReadings",
    "GetMeterReadingsRequestMessageType",
    "GetMeterReadingsRequestType",
    "GetMeterReadingsFaultMessage",
    "GetMeterReadingsFaultMessageType",
    "GetMeterReadingsPayloadType",
    "GetMeterReadingsResponseMessage",
    "GetMeterReadingsResponseMessageType",
    "ErrorType",
    "EventMessage",
    "EventMessageType",
    "FaultMessage",
    "FaultMessageType",
    "HeaderType",
    "IdkindType",
    "Idtype",
    "LevelType",
    "LocationType",
    "Message",
    "MessageProperty",
    "MessageType",
    "MessageName",
    "MessageNameType",
    "MessageNameTypeAuthority",
    "ObjectType",
    "OperationSet",
    "OperationType",
    "OptionType",
    "PayloadType",
    "ReplayDetectionType",
    "ReplyType",
    "RequestMessage",
    "RequestMessageType",
    "RequestType",
    "ResponseMessage",
    "ResponseMessageType",
    "ResultType",
    "UserType",
    "VerbType",
    "MeterReadingsAsset",
    "DateTimeInterval",
    "EndDeviceEvent",
    "MeterReadingsEndDeviceEventDetail",
    "EndDeviceEventType",
    "IntervalBlock",
    "IntervalReading",
    "LoadProfile",
    "Meter",
    "MeterReading",
    "MeterReadings",
    "Name",
    "NameType",
    "NameTypeAuthority",
    "PendingCalculation",
    "RationalNumber",
    "Reading",
    "ReadingInterharmonic",
    "ReadingQuality",
    "ReadingQualityType",
    "ReadingReasonKind",
    "ReadingType",
    "RegisterGroup",
    "MeterReadingsStatus",
    "UsagePoint",
    "CancelMeterReadings",
    "CanceledMeterReadings",
    "ChangeMeterReadings",
    "ChangedMeterReadings",
    "CloseMeterReadings",
    "ClosedMeterReadings",
    "CreateMeterReadings",
    "CreatedMeterReadings",
    "DeleteMeterReadings",
    "DeletedMeterReadings",
    "MeterReadingsEventMessageType",
    "MeterReadingsFaultMessage",
    "MeterReadingsFaultMessageType",
    "MeterReadingsPayloadType",
    "MeterReadingsRequestMessageType",
    "MeterReadingsResponseMessage",
    "MeterReadingsResponseMessageType",
]
