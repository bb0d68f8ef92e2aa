"""Extension-profile nouns <-> domain: inbound from the catalog examples, outbound
validated by the codec against our schemas."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.cim.generated import ev_charging as ev
from evgrid.errors import MappingError
from evgrid.mappings import catalog, examples, writers
from evgrid.mappings import ev_charging as mapping
from evgrid.operations import events, handlers
from evgrid.operations.model import ChargingKind, ChargingRequest, Rate
from evgrid.operations.ports import Allotment
from evgrid.operations.rates import windows
from evgrid.operations.session import Session, SessionState
from tests.unit.operations.fakes import TARIFF

codec = Codec()


def _bound(step: str, cls: type):  # noqa: ANN202
    inbound = codec.decode(codec.dump(examples.example_message(catalog.step(step))))
    return codec.bind(inbound.payload, cls)


def _round_trip(noun: str, payload: object) -> None:
    codec.decode(codec.dump(env.event(env.Verb.CREATED, noun, payload, source="test")))


SESSION = Session(
    session_id="S-1", request_mrid="R-1", ev_id="EV-0042", station_id="EVSE-1", premise_number="P-1",
    meter_number="MTR-1", transformer_id="TX-1", owner_account_id="ACC-O", host_account_id="ACC-H",
    kind=ChargingKind.THIRD_PARTY, state=SessionState.BILLING, requested_wh=20_000,
    max_power_kw=Decimal("7.2"), plugged_in_utc=datetime(2026, 11, 26, 18, tzinfo=UTC),
    departure_utc=datetime(2026, 11, 27, 7, tzinfo=UTC), reachable_wh=20_000, tariff_id="T-EV",
    started_utc=datetime(2026, 11, 26, 18, 5, tzinfo=UTC), consumed_wh=18_500,
    completed_utc=datetime(2026, 11, 26, 21, tzinfo=UTC),
)


def test_uc_1_1_2_charging_request_to_domain() -> None:
    request = mapping.charging_request_from_cim(_bound("1.1.2", ev.ChargingRequest))
    assert (request.ev_id, request.station_id, request.customer_id) == ("EV-0042", "EVSE-000123", "C-000123")
    assert request.usage_point_id == "UP-000123" and request.premise_number == "P-000123"
    assert request.requested_wh == 24_000 and request.max_power_kw == Decimal("7.400")
    assert request.departure_utc.tzinfo is UTC and request.plugged_in_utc < request.departure_utc


def test_uc_2_3_4_completion_to_domain() -> None:
    completion = mapping.completion_from_cim(_bound("2.3.4", ev.ChargingCompletion))
    assert completion.end_register_wh - completion.start_register_wh == 24_000
    assert completion.reason == "evFull" and completion.started_utc < completion.completed_utc


def test_completion_with_inconsistent_energy_is_refused() -> None:
    completion = _bound("2.3.4", ev.ChargingCompletion)
    completion.consumed_energy += 1
    with pytest.raises(MappingError):
        mapping.completion_from_cim(completion)


def test_uc_3_3_5_usage_assignment_to_domain() -> None:
    assignment = mapping.usage_assignment_from_cim(_bound("3.3.5", ev.UsageAssignment))
    assert (assignment.from_account_id, assignment.to_account_id) == ("ACC-000123", "ACC-000555")
    assert assignment.energy_wh == 10_015


def test_uc_4_1_1_bill_to_domain_and_back() -> None:
    bill = mapping.bill_from_cim(_bound("4.1.1", ev.BillingInformation))
    assert bill.amount == sum(line.amount for line in bill.lines)
    _round_trip("BillingInformation", mapping.bill_to_cim(bill))


def test_bill_whose_lines_do_not_add_up_is_refused() -> None:
    bill = _bound("4.1.1", ev.BillingInformation)
    bill.total_amount += Decimal("0.01")
    with pytest.raises(MappingError):
        mapping.bill_from_cim(bill)


def test_outbound_nouns_validate() -> None:
    slots = tuple((SESSION.plugged_in_utc + timedelta(minutes=15 * i), Decimal("7.2")) for i in range(3))
    allot = Allotment("S-1", "TX-1", slots + ((slots[-1][0] + timedelta(minutes=15), Decimal(0)),), 15, 5_400)
    tsa = mapping.allotment_to_cim(SESSION, allot)
    assert len(tsa.slot) == 3 and tsa.planned_energy == 5_400
    _round_trip("TimeSlotAllotment", tsa)
    _round_trip("ThirdPartyCharging", mapping.third_party_to_cim(
        events.ThirdPartyRecorded(SESSION, "C-O", "C-H", "UP-1")))
    priced = tuple(windows(TARIFF, SESSION.kind, SESSION.started_utc, SESSION.completed_utc))
    consumption = mapping.consumption_to_cim(events.ConsumptionForBilling(SESSION, TARIFF, priced))
    assert consumption.charged_account.m_rid == "ACC-O" and consumption.host_account.m_rid == "ACC-H"
    _round_trip("ChargingConsumption", consumption)
    _round_trip("ChargingAcknowledgment", mapping.acknowledgment_to_cim(
        events.SessionAcknowledged("S-1", "B-1", "ACC-O")))
    confirmation = handlers.Confirmation(replace(SESSION, reachable_wh=12_000), Decimal("7.2"), allot)
    reply = env.reply_ok("ChargingRequest", mapping.confirmation_to_cim(confirmation), source="t",
                         correlation_id="m")
    codec.decode(codec.dump(reply))


# ---------------------------------------------------------- 2.1 / 3.1.2 and 4.1: the rate
EV_NS = "{urn:evgrid:cim:EvCharging:1}"


def test_uc_2_1_applicable_rate_names_tariff_and_rate_with_its_prices() -> None:
    session = replace(SESSION, kind=ChargingKind.HOME, host_account_id="ACC-O", rate=Rate.PLAIN)
    priced = tuple(windows(TARIFF, ChargingKind.HOME, session.plugged_in_utc, session.departure_utc, Rate.PLAIN))
    confirmation = handlers.Confirmation(session, Decimal("7.2"), Allotment("S-1", "TX-1", (), 15, 0), TARIFF, priced,
                                         "C-O")
    rate = mapping.applicable_rate_to_cim(confirmation)
    assert (rate.pricing_structure.m_rid, rate.pricing_structure.code, rate.pricing_structure.name) == (
        "T-EV:plain", "plain", TARIFF.name)
    assert (rate.charged_account.m_rid, rate.charged_account.customer.m_rid) == ("ACC-O", "C-O")
    assert rate.tariff.m_rid == "T-EV" and rate.kind is ev.ChargingKind.HOME
    assert [(i.label, i.price) for i in rate.tariff.time_tariff_interval] == [
        ("day", Decimal("0.28")), ("EV night (plain rate)", Decimal("0.28"))]
    _round_trip("ApplicableRate", rate)


def test_an_unrated_confirmation_has_no_applicable_rate() -> None:
    confirmation = handlers.Confirmation(SESSION, Decimal("7.2"), Allotment("S-1", "TX-1", (), 15, 0))
    with pytest.raises(MappingError, match="no applicable rate"):
        mapping.applicable_rate_to_cim(confirmation)


def test_uc_4_1_consumption_names_the_rate_and_the_metered_usage_point() -> None:
    session = replace(SESSION, rate=Rate.QUICK_CHARGE)
    priced = tuple(windows(TARIFF, session.kind, datetime(2026, 11, 26, 18, tzinfo=UTC),
                           datetime(2026, 11, 26, 21, tzinfo=UTC), Rate.QUICK_CHARGE))
    consumption = mapping.consumption_to_cim(events.ConsumptionForBilling(
        session, TARIFF, priced, rate=Rate.QUICK_CHARGE, usage_point_id="UP-1"))
    assert (consumption.pricing_structure.m_rid, consumption.pricing_structure.code) == (
        "T-EV:quickCharge", "quickCharge")
    point = consumption.usage_point
    assert (point.m_rid, point.meter.m_rid, point.service_location.premise_number) == ("UP-1", "MTR-1", "P-1")
    (window,) = consumption.tariff.time_tariff_interval
    assert (window.start_time.to_datetime(), window.end_time.to_datetime(), window.price) == (
        datetime(2026, 11, 26, 18, tzinfo=UTC), datetime(2026, 11, 26, 21, tzinfo=UTC), Decimal("0.31"))
    _round_trip("ChargingConsumption", consumption)


@pytest.mark.parametrize(("ev_id", "customer", "code", "prices"), [
    ("EV-A", "C-A", "evNight", [Decimal("0.28"), Decimal("0.09")]),
    ("EV-B", "C-B", "quickCharge", [Decimal("0.31")]),
], ids=["home", "third_party"])
def test_uc_2_1_1_the_request_reply_carries_the_applicable_rate_and_the_portal_still_reads_it(
        ev_id: str, customer: str, code: str, prices: list[Decimal]) -> None:
    from types import SimpleNamespace

    from evgrid.apps.portal.host import PortalHost
    from evgrid.cim.codec import Header
    from evgrid.messaging import routes
    from tests.unit.operations.fakes import FakeUnitOfWork

    uow = FakeUnitOfWork()
    command = ChargingRequest(
        request_mrid="R-1", ev_id=ev_id, station_id="EVSE-A", customer_id="C-A", usage_point_id="UP-A",
        premise_number="P-A", requested_wh=3_000, departure_utc=uow.now + timedelta(hours=13),
        max_power_kw=Decimal("11"), plugged_in_utc=uow.now)
    with uow:
        outcome = routes._request_charging(command, Header(env.Verb.CREATE, "ChargingRequest", "m-1"), uow)
    reply = writers.reply(outcome.result, "ChargingRequest", outcome.payload, source="evgrid",  # type: ignore[arg-type]
                          correlation_id="m-1", errors=outcome.errors)
    inbound = codec.decode(reply)  # schema-valid with the ApplicableRate
    (element,) = inbound.payload.getparent().iter(f"{EV_NS}ApplicableRate")
    rate = codec.bind(element, ev.ApplicableRate)
    assert rate.pricing_structure.m_rid == f"T-EV:{code}" and rate.pricing_structure.code == code
    assert (rate.charged_account.m_rid, rate.charged_account.customer.m_rid) == (f"ACC-{ev_id[-1]}", customer)
    assert [i.price for i in rate.tariff.time_tariff_interval] == prices

    # The portal's reading of the reply takes what it knows and leaves the ApplicableRate alone.
    seen: list[object] = []
    site = SimpleNamespace(confirmed=seen.append, allotted=seen.append)
    PortalHost.request_answered(SimpleNamespace(portals={"P-A": site}, codec=codec), "portal:P-A", reply)  # type: ignore[arg-type]
    confirmed, allotted = seen
    assert (confirmed.session_id, confirmed.third_party) == ("S-R-1", ev_id == "EV-B")  # type: ignore[attr-defined]
    assert allotted.session_id == "S-R-1"  # type: ignore[attr-defined]
