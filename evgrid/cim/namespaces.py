"""XML namespaces of the messages evgrid speaks, defined once."""

from __future__ import annotations

MESSAGE = "http://iec.ch/TC57/2011/schema/message"
EV_CHARGING = "urn:evgrid:cim:EvCharging:1"
METER_READINGS = "http://iec.ch/TC57/2011/MeterReadings#"
GET_METER_READINGS = "http://iec.ch/TC57/2011/GetMeterReadings#"
END_DEVICE_CONTROLS = "http://iec.ch/TC57/2011/EndDeviceControls#"
END_DEVICE_EVENTS = "http://iec.ch/TC57/2011/EndDeviceEvents#"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

# IEC 61968-9 also defines one wrapper namespace per noun, e.g.
# http://iec.ch/TC57/2011/MeterReadingsMessage with CreatedMeterReadings as its root.
NOUN_MESSAGE_PREFIX = "http://iec.ch/TC57/2011/"
NOUN_MESSAGE_SUFFIX = "Message"

# Prefixes used when we write XML; readers never depend on them.
PREFIXES: dict[str, str] = {
    "msg": MESSAGE,
    "ev": EV_CHARGING,
    "mr": METER_READINGS,
    "gmr": GET_METER_READINGS,
    "edc": END_DEVICE_CONTROLS,
    "ede": END_DEVICE_EVENTS,
}


def qname(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local``, as lxml spells element tags."""
    return f"{{{namespace}}}{local}"
