"""What a portal host receives, read straight off the validated lxml tree into portal values.

The same values as :mod:`evgrid.mappings.portal`'s ``*_from_cim`` functions give from the
generated classes, without binding them: xsdata's generic parser costs about as much as
the rest of handling the message (a ChargingRequest's reply carries four payload
elements, of which the portal reads three). Every message here was validated against the
schemas (by the SOAP server, or by the codec for a reply), so each element the schema
requires is there; what the schema leaves open is checked as the mappings check it, with
the same errors. tests/unit/portal/test_inbound.py compares both over many messages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from lxml import etree
from xsdata.models.datatype import XmlDateTime

from evgrid.cim import namespaces as ns
from evgrid.errors import MappingError
from evgrid.mappings import codes
from evgrid.operations.rates import ChargeLine
from evgrid.portal.model import Allotted, Bill, Confirmed, SwitchOrder

_EV = "{" + ns.EV_CHARGING + "}"
_EDC = "{" + ns.END_DEVICE_CONTROLS + "}"
CONFIRMATION = _EV + "ChargingConfirmation"
CHARGING_TYPE = _EV + "ChargingType"
ALLOTMENT = _EV + "TimeSlotAllotment"
_THIRD_PARTY = "thirdParty"


def _text(element: etree._Element, path: str) -> str:
    """The text of a child the schema requires (an empty element reads as "", as xsdata binds it)."""
    return element.findtext(path) or ""


def utc(text: str | None, path: str) -> datetime:
    """An xs:dateTime with a time zone, as aware UTC (:func:`evgrid.mappings.ev_charging.utc`)."""
    if text is not None:
        text = text.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:  # what Python does not read but the schema allows (a year past 9999 ...)
            try:
                value = XmlDateTime.from_string(text)
                if value.offset is not None:
                    return value.to_datetime().astimezone(UTC)
            except ValueError:
                raise MappingError(f"{path}: {text!r} is not a time Python can hold", path=path) from None
        else:
            if moment.tzinfo is not None:
                return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    raise MappingError(f"{path} needs a date, time and time zone", path=path)


def confirmation(element: etree._Element, charging_type: etree._Element | None) -> Confirmed:
    """:func:`~evgrid.mappings.portal.confirmation_from_cim` of a ChargingConfirmation and its ChargingType."""
    owner = charging_type.find(_EV + "OwnerAccount") if charging_type is not None else None
    return Confirmed(
        request_mrid=_text(element, f"{_EV}ChargingRequest/{_EV}mRID"),
        session_id=_text(element, f"{_EV}ChargingSession/{_EV}mRID"),
        third_party=_text(element, _EV + "kind").strip() == _THIRD_PARTY,
        requested_wh=int(_text(element, _EV + "requestedEnergy")),
        reachable_wh=int(_text(element, _EV + "reachableEnergy")),
        owner_account_id=_text(owner, _EV + "mRID") if owner is not None else None,
        owner_customer_id=owner.findtext(f"{_EV}Customer/{_EV}mRID") if owner is not None else None,
    )


def allotment(element: etree._Element) -> Allotted:
    """:func:`~evgrid.mappings.portal.allotment_from_cim` of a TimeSlotAllotment (2.2.1 / 3.2.1)."""
    slots = tuple((utc(slot.findtext(_EV + "start"), "Slot/start"), utc(slot.findtext(_EV + "end"), "Slot/end"),
                   float(Decimal(_text(slot, _EV + "power").strip())))
                  for slot in element.iterchildren(_EV + "Slot"))
    if not slots:
        raise MappingError("a TimeSlotAllotment without slots", path="TimeSlotAllotment/Slot")
    return Allotted(session_id=_text(element, f"{_EV}ChargingSession/{_EV}mRID"),
                    station_id=_text(element, f"{_EV}ChargingStation/{_EV}mRID"), slots=slots,
                    planned_wh=int(_text(element, _EV + "plannedEnergy")))


def switch_orders(element: etree._Element) -> tuple[SwitchOrder, ...]:
    """:func:`~evgrid.mappings.portal.switch_from_cim` of an EndDeviceControls (2.3 / 3.3)."""
    orders = []
    for control in element.iterchildren(_EDC + "EndDeviceControl"):
        kind = control.find(_EDC + "EndDeviceControlType")
        code = kind.get("ref") if kind is not None else None
        if code not in (codes.CONNECT_LOAD_SWITCH, codes.DISCONNECT_LOAD_SWITCH):
            raise MappingError(f"EndDeviceControlType {code} is not a load switch connect/disconnect",
                               path="EndDeviceControl/EndDeviceControlType")
        devices = control.findall(_EDC + "EndDevices")
        if not devices:
            raise MappingError("an EndDeviceControl names no EndDevice", path="EndDeviceControl/EndDevices")
        control_mrid = control.findtext(_EDC + "mRID")
        session_id = (control_mrid or "").rsplit(":", 1)[0] or None
        for device in devices:
            orders.append(SwitchOrder(station_id=device.findtext(_EDC + "mRID"),  # type: ignore[arg-type]
                                      close=code == codes.CONNECT_LOAD_SWITCH, session_id=session_id,
                                      control_mrid=control_mrid))
    return tuple(orders)


def _count(element: etree._Element, tag: str) -> int:
    text = element.findtext(_EV + tag)
    return int(text) if text else 0


def bill(element: etree._Element) -> Bill:
    """:func:`~evgrid.mappings.portal.bill_for_portal` of a BillingInformation (4.1.1), with its checks."""
    lines = tuple(ChargeLine(_text(c, _EV + "kind"), int(_text(c, _EV + "energy")),
                             Decimal(_text(c, _EV + "unitPrice").strip()), Decimal(_text(c, _EV + "amount").strip()),
                             _count(c, "intervals"), _count(c, "estimatedIntervals"))
                  for c in element.iterchildren(_EV + "Charge"))
    for line in lines:
        if line.intervals < 0 or not 0 <= line.estimated <= line.intervals:
            raise MappingError(f"charge {line.label!r}: {line.estimated} estimated of {line.intervals} intervals",
                               path="BillingInformation/Charge/estimatedIntervals")
    energy, amount = int(_text(element, _EV + "totalEnergy")), Decimal(_text(element, _EV + "totalAmount").strip())
    if sum(line.energy_wh for line in lines) != energy:
        raise MappingError("the charges' energy does not add up to totalEnergy", path="BillingInformation")
    if sum((line.amount for line in lines), Decimal(0)) != amount:
        raise MappingError("the charges' amounts do not add up to totalAmount", path="BillingInformation")
    return Bill(bill_id=_text(element, _EV + "mRID"), session_id=_text(element, f"{_EV}ChargingSession/{_EV}mRID"),
                account_id=_text(element, f"{_EV}CustomerAccount/{_EV}mRID"), energy_wh=energy, amount=amount,
                currency=_text(element, _EV + "currency"),
                issued_utc=utc(element.findtext(_EV + "issuedDateTime"), "BillingInformation/issuedDateTime"))
