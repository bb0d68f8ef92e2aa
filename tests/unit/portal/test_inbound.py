"""The portal host reads what it receives off the tree into the same values as the xsdata mappings.

For each seeded case a message is written, decoded (validated) by the codec, and its
payload read both ways: :mod:`evgrid.apps.portal.inbound` on the element, and
:mod:`evgrid.mappings.portal` on the generated classes xsdata binds it to. Times in other
zones and with fractions of a second, powers and prices with any number of decimals,
third-party owners with and without a customer, several slots, charges and devices.
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from xml.sax.saxutils import escape

import pytest
from xsdata.models.datatype import XmlDateTime

from evgrid.apps.portal import inbound as read
from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.cim.generated import end_device_controls as edc
from evgrid.cim.generated import ev_charging as ev
from evgrid.errors import MappingError
from evgrid.mappings import codes, writers
from evgrid.mappings import portal as mapping
from evgrid.mappings.ev_charging import bill_to_cim
from evgrid.operations.events import BillInformation
from evgrid.operations.rates import ChargeLine

CODEC = Codec()
CASES = range(30)
ZONES = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)))


def mrid(rng: random.Random) -> str:
    return "".join(rng.choice("ABCXYZ0123456789-_:.&<>\"'é") for _ in range(rng.choice((1, 5, 20))))


def moment(rng: random.Random) -> XmlDateTime:
    at = datetime(2026, 1, 15, 21, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 600))
    at = at.replace(microsecond=rng.choice((0, 120000, 123456)))
    return XmlDateTime.from_datetime(at.astimezone(rng.choice(ZONES)))


def payloads(message: bytes) -> list:
    inbound = CODEC.decode(message)
    assert inbound.payload is not None
    return list(inbound.payload.getparent())


def bound(element: object, cls: type) -> object:
    return CODEC.bind(copy.deepcopy(element), cls)


def reply_elements(rng: random.Random) -> tuple[object, object, object]:
    kind = rng.choice(list(ev.ChargingKind))
    session = ev.Reference(m_rid=mrid(rng))
    confirmation = ev.ChargingConfirmation(
        charging_request=ev.Reference(m_rid=mrid(rng)), charging_session=session, kind=kind,
        requested_energy=rng.randrange(0, 10**5), reachable_energy=rng.randrange(0, 10**5),
        effective_power=Decimal("7.400"), departure_time=moment(rng),
        tariff=rng.choice((None, ev.Reference(m_rid=mrid(rng)))))
    owner = ev.CustomerAccount(m_rid=mrid(rng), customer=rng.choice((None, ev.Customer(m_rid=mrid(rng)))))
    charging_type = ev.ChargingType(charging_session=session, kind=kind, electric_vehicle=ev.Reference(m_rid=mrid(rng)),
                                    owner_account=owner, host_account=ev.CustomerAccount(m_rid=mrid(rng)))
    slots = [ev.Slot(start=moment(rng), end=moment(rng), power=rng.choice((Decimal("7.4"), Decimal("0.000"),
                                                                           Decimal("11.005"), Decimal("3"))))
             for _ in range(rng.choice((1, 2, 12)))]
    allotment = ev.TimeSlotAllotment(
        charging_session=session, charging_station=ev.Reference(m_rid=mrid(rng)),
        power_transformer=ev.PowerTransformer(m_rid=mrid(rng)), kind=kind,
        scheduled_interval=ev.DateTimeInterval(start=moment(rng), end=moment(rng)),
        planned_energy=rng.randrange(0, 10**5), slot=slots)
    return confirmation, charging_type, allotment


@pytest.mark.parametrize("seed", CASES)
def test_a_charging_reply_reads_as_the_mappings_read_it(seed: int) -> None:
    rng = random.Random(seed)
    confirmation, charging_type, allotment = reply_elements(rng)
    elements = payloads(CODEC.dump(env.reply(env.Result.OK, "ChargingRequest", confirmation, charging_type, allotment,
                                             source="evos", correlation_id="m-1")))
    by_tag = {element.tag: element for element in elements}
    assert read.confirmation(by_tag[read.CONFIRMATION], by_tag[read.CHARGING_TYPE]) == mapping.confirmation_from_cim(
        bound(by_tag[read.CONFIRMATION], ev.ChargingConfirmation), bound(by_tag[read.CHARGING_TYPE], ev.ChargingType))
    assert read.confirmation(by_tag[read.CONFIRMATION], None) == mapping.confirmation_from_cim(
        bound(by_tag[read.CONFIRMATION], ev.ChargingConfirmation), None)
    assert read.allotment(by_tag[read.ALLOTMENT]) == mapping.allotment_from_cim(
        bound(by_tag[read.ALLOTMENT], ev.TimeSlotAllotment))


@pytest.mark.parametrize("seed", CASES)
def test_a_bill_reads_as_the_mappings_read_it(seed: int) -> None:
    rng = random.Random(seed)
    lines = tuple(ChargeLine(mrid(rng), rng.randrange(0, 10**4), Decimal(rng.choice(("0.310000", "0.28", "1.5", "12"))),
                             Decimal(rng.choice(("1.23", "0.00", "17.5"))), *rng.choice(((0, 0), (4, 1), (16, 0))))
                  for _ in range(rng.choice((1, 2, 3))))
    info = BillInformation(mrid(rng), mrid(rng), mrid(rng), "EUR", lines, sum(line.energy_wh for line in lines),
                           sum((line.amount for line in lines), Decimal(0)), moment(rng).to_datetime())
    (element,) = payloads(CODEC.dump(env.event(env.Verb.CREATED, "BillingInformation", bill_to_cim(info),
                                               source="billing")))
    assert read.bill(element) == mapping.bill_for_portal(bound(element, ev.BillingInformation))


def _controls(rng: random.Random, code: str, devices: int) -> str:
    parts = []
    for _ in range(rng.choice((1, 2))):
        session = rng.choice(("", f"{mrid(rng)}:start", "plain"))
        parts.append("<edc:EndDeviceControl>" + (f"<edc:mRID>{escape(session)}</edc:mRID>" if session else "")
                     + f'<edc:EndDeviceControlType ref="{code}"/>'
                     + "".join(f"<edc:EndDevices><edc:mRID>{escape(mrid(rng))}</edc:mRID></edc:EndDevices>"
                               for _ in range(devices))
                     + "</edc:EndDeviceControl>")
    return "<edc:EndDeviceControls>" + "".join(parts) + "</edc:EndDeviceControls>"


@pytest.mark.parametrize("seed", CASES)
def test_switch_orders_read_as_the_mappings_read_them(seed: int) -> None:
    rng = random.Random(seed)
    code = rng.choice((codes.CONNECT_LOAD_SWITCH, codes.DISCONNECT_LOAD_SWITCH))
    (element,) = payloads(writers.message(env.Verb.CREATE, "EndDeviceControls", _controls(rng, code, rng.choice((1, 3))),
                                          source="evos"))
    assert read.switch_orders(element) == mapping.switch_from_cim(bound(element, edc.EndDeviceControls))


@pytest.mark.parametrize(("code", "devices"), [("3.8.0.1", 1), (codes.CONNECT_LOAD_SWITCH, 0)])
def test_what_the_mappings_refuse_is_refused(code: str, devices: int) -> None:
    message = writers.message(env.Verb.CREATE, "EndDeviceControls", _controls(random.Random(1), code, devices),
                              source="evos")
    (element,) = payloads(message) if devices else (CODEC.parse(message).find(".//{*}EndDeviceControls"),)
    with pytest.raises(MappingError) as ours:
        read.switch_orders(element)
    if devices:
        with pytest.raises(MappingError) as theirs:
            mapping.switch_from_cim(bound(element, edc.EndDeviceControls))
        assert (ours.value.reason, ours.value.path) == (theirs.value.reason, theirs.value.path)


def test_a_time_without_a_zone_or_unreadable_is_refused() -> None:
    assert read.utc(" 2026-01-15T23:00:00+01:00 ", "x") == datetime(2026, 1, 15, 22, tzinfo=UTC)
    for text in ("2026-01-15T22:00:00", "2026-01-15T24:00:00Z", None):
        with pytest.raises(MappingError):
            read.utc(text, "Slot/start")
