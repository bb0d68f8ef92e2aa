"""Step 4.1 priced from meter data management's 15-minute intervals, over SOAP on loopback.

The reference Customer Billing System and the reference MDM each run behind evgrid's SOAP
server; readings reach MDM as a portal's would (``created MeterReadings``: registers and
intervals, one span unread, which MDM estimates), the consumption reaches billing as the
operation system sends it, and billing asks MDM with one ``get MeterReadings``.

The session (UTC, the tariff's zone): 22:07 to 23:52, day rate (0.28) until 23:00, EV
night (0.09) after; paused 22:30-23:00; the portal could not read at 23:15, so the span
23:00-23:30 is a gap MDM estimates (3,000 Wh over its two intervals, 1,500 Wh each).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evgrid.adapters.soap.client import ServiceClient
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
from evgrid.adapters.soap.server import endpoint_for, inbound_endpoint_for, make_app, serve_in_thread
from evgrid.apps.services.billing import BillingSystem
from evgrid.apps.services.mdm import MeterDataManagement
from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.cim.generated import ev_charging as ev
from evgrid.cim.generated import meter_readings as mr
from evgrid.errors import UpstreamFault
from evgrid.mappings import codes
from evgrid.mappings.ev_charging import bill_from_cim, xml_time
from evgrid.operations.rates import ChargeLine
from tests.conftest import free_port
from tests.integration.test_soap_client import start_sim, stop_sim

USER, PASSWORD = "evos", "evos-secret"
BILLING_USER, BILLING_PASSWORD = "billing", "billing-secret"
USAGE_POINT, METER = "UP-0042", "M-0042"
T = datetime(2026, 11, 26, tzinfo=UTC)
START, END = T.replace(hour=22, minute=7), T.replace(hour=23, minute=52)
codec = Codec()


def at(hour: int, minute: int = 0) -> datetime:
    """An instant of the night (24:00 is midnight after it)."""
    return T + timedelta(hours=hour, minutes=minute)


# Register reads at the start, every 15-minute boundary read and the end; none at 23:15.
REGISTERS = [(START, 1_000_000), (at(22, 15), 1_000_800), (at(22, 30), 1_002_600), (at(22, 45), 1_002_600),
             (at(23), 1_002_600), (at(23, 30), 1_005_600), (at(23, 45), 1_007_500), (END, 1_008_200)]
# The intervals of every span read; the span 23:00-23:30 has none: MDM estimates 23:15 and 23:30.
INTERVALS = [(at(22, 15), 800), (at(22, 30), 1_800), (at(22, 45), 0), (at(23), 0), (at(23, 45), 1_900),
             (at(24), 700)]
METERED_WH = 8_200
EXPECTED = [
    # 2.6 kWh x 0.28 = 0.728; four intervals, two of them paused (0 Wh)
    ChargeLine("day", 2_600, Decimal("0.28"), Decimal("0.73"), 4, 0),
    # 5.6 kWh x 0.09 = 0.504; the two of the gap estimated
    ChargeLine("EV night", 5_600, Decimal("0.09"), Decimal("0.50"), 4, 2),
]


def credentials(user: str, password: str) -> Credentials:
    found = Credentials()
    found.add(Principal(user, PrincipalKind.UTILITY), password)
    return found


def created_readings() -> bytes:
    """``created MeterReadings`` of the session, as the operation system forwards a portal's."""
    reading = mr.MeterReading(
        meter=mr.Meter(m_rid=METER), usage_point=mr.UsagePoint(m_rid=USAGE_POINT),
        readings=[mr.Reading(time_stamp=xml_time(moment), value=str(wh),
                             reading_type=mr.Reading.ReadingType(ref=codes.REGISTER_WH)) for moment, wh in REGISTERS],
        interval_blocks=[mr.IntervalBlock(
            interval_readings=[mr.IntervalReading(time_stamp=xml_time(end), value=str(wh)) for end, wh in INTERVALS],
            reading_type=mr.IntervalBlock.ReadingType(ref=codes.INTERVAL_15MIN_WH))])
    return codec.dump(env.event(env.Verb.CREATED, "MeterReadings", mr.MeterReadings(meter_reading=[reading]),
                                source="evgrid-evos"))


def consumption(session_id: str, *, consumed_wh: int = METERED_WH, usage_point: bool = True) -> bytes:
    """Step 4.1 as the operation system sends it: windows covering the session's intervals."""
    windows = [ev.TimeTariffInterval(sequence_number=1, start_time=xml_time(at(22)), end_time=xml_time(at(23)),
                                     price=Decimal("0.28"), label="day"),
               ev.TimeTariffInterval(sequence_number=2, start_time=xml_time(at(23)), end_time=xml_time(at(24)),
                                     price=Decimal("0.09"), label="EV night")]
    payload = ev.ChargingConsumption(
        charging_session=ev.Reference(m_rid=session_id), kind=ev.ChargingKind.HOME,
        electric_vehicle=ev.Reference(m_rid="EV-0042"), charged_account=ev.CustomerAccount(m_rid="ACC-0042"),
        interval=ev.DateTimeInterval(start=xml_time(START), end=xml_time(END)), consumed_energy=consumed_wh,
        tariff=ev.Tariff(m_rid="T-EV", name="Residential with EV night rate", currency="EUR",
                         time_tariff_interval=windows),
        usage_point=ev.UsagePoint(m_rid=USAGE_POINT, meter=ev.Meter(m_rid=METER)) if usage_point else None)
    return codec.dump(env.request(env.Verb.CREATE, "ChargingConsumption", payload, source="evgrid-evos",
                                  message_id=f"ChargingConsumption:{session_id}"))


def bill_lines(reply: bytes) -> list[ChargeLine]:
    payload = codec.decode(reply).payload
    assert payload is not None
    return list(bill_from_cim(codec.bind(payload, ev.BillingInformation)).lines)


def journaled(billing: BillingSystem, message_id: str) -> bool:
    return bool(billing.store.query("SELECT count(*) FROM inbound WHERE message_id = ?", message_id)[0][0])


class Mdm:
    """The reference MDM served on ``port`` (fixed, so that it can stop and start again)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.service = MeterDataManagement()
        self._stack = ExitStack()

    def __enter__(self) -> Mdm:
        callers = credentials(BILLING_USER, BILLING_PASSWORD)  # billing reads, the operation system writes
        callers.add(Principal(USER, PrincipalKind.UTILITY), PASSWORD)
        app = make_app([endpoint_for("MeterDataManagement", self.service.handle)], callers, source="evgrid-mdm")
        self._stack.enter_context(serve_in_thread(app, port=self.port))
        self._stack.callback(self.service.close)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def store_readings(self) -> None:
        with ServiceClient("MeterDataManagement", f"http://127.0.0.1:{self.port}",
                           credentials=(USER, PASSWORD), timeout_s=5.0) as client:
            client.send(created_readings())


@pytest.fixture
def mdm_port() -> int:
    return free_port()


@pytest.fixture
def billing(mdm_port: int) -> Iterator[tuple[BillingSystem, ServiceClient]]:
    """Billing with its MDM client (MDM not necessarily up), served; and the operation system's client of it."""
    mdm = ServiceClient("MeterDataManagement", f"http://127.0.0.1:{mdm_port}",
                        credentials=(BILLING_USER, BILLING_PASSWORD), timeout_s=5.0)
    system = BillingSystem(mdm=mdm)
    app = make_app([inbound_endpoint_for("CustomerBilling", system.handle_inbound)], credentials(USER, PASSWORD),
                   source="evgrid-billing")
    with serve_in_thread(app) as url, ServiceClient("CustomerBilling", url, credentials=(USER, PASSWORD),
                                                    timeout_s=10.0) as evos:
        yield system, evos
    system.close()
    mdm.close()


def test_uc_4_1_billing_prices_mdms_intervals_one_line_per_rate(billing: tuple[BillingSystem, ServiceClient],
                                                                 mdm_port: int) -> None:
    system, evos = billing
    with Mdm(mdm_port) as mdm:
        mdm.store_readings()
        lines = bill_lines(evos.send(consumption("S-0001")))
    assert lines == EXPECTED
    assert sum(line.energy_wh for line in lines) == METERED_WH
    assert sum((line.amount for line in lines), Decimal(0)) == Decimal("1.23")  # by time it would be 1.53
    assert system.bill_count() == 1


def test_uc_4_1_intervals_that_do_not_add_up_to_the_metered_energy_bill_nothing(
        billing: tuple[BillingSystem, ServiceClient], mdm_port: int) -> None:
    system, evos = billing
    message = consumption("S-0002", consumed_wh=METERED_WH + 100)
    with Mdm(mdm_port) as mdm:
        mdm.store_readings()
        with pytest.raises(UpstreamFault) as failed:
            evos.send(message)
        assert failed.value.code == "6.6"  # permanent: the operation system's outbox gives up on it
        assert "8200 Wh" in failed.value.reason and "8300 Wh" in failed.value.reason
        assert system.bill_count() == 0
        assert journaled(system, "ChargingConsumption:S-0002")  # a replay gets the same answer
        with pytest.raises(UpstreamFault) as again:
            evos.send(message)
        assert again.value.code == "6.6" and system.bill_count() == 0


def test_uc_4_1_mdm_down_is_5_1_not_journaled_then_the_same_message_bills_once(
        billing: tuple[BillingSystem, ServiceClient], mdm_port: int) -> None:
    system, evos = billing
    message = consumption("S-0003")
    with pytest.raises(UpstreamFault) as failed:  # nothing listens on MDM's port
        evos.send(message)
    assert failed.value.code == "5.1"  # category 5: the sender tries again later
    assert "unreachable" in failed.value.reason and "send it again later" in failed.value.reason
    assert system.bill_count() == 0
    assert not journaled(system, "ChargingConsumption:S-0003")

    with Mdm(mdm_port) as mdm:
        mdm.store_readings()
        first = bill_lines(evos.send(message))
        assert first == EXPECTED
        assert bill_lines(evos.send(message)) == first  # the stored reply: billed once
    assert system.bill_count() == 1
    assert journaled(system, "ChargingConsumption:S-0003")


def test_uc_4_1_mdm_stopped_answers_5_1_again(billing: tuple[BillingSystem, ServiceClient], mdm_port: int) -> None:
    system, evos = billing
    with Mdm(mdm_port) as mdm:
        mdm.store_readings()
    with pytest.raises(UpstreamFault) as failed:  # MDM stopped since
        evos.send(consumption("S-0004"))
    assert failed.value.code == "5.1" and system.bill_count() == 0
    assert not journaled(system, "ChargingConsumption:S-0004")


def test_uc_4_1_intervals_not_all_at_mdm_yet_is_5_1(billing: tuple[BillingSystem, ServiceClient],
                                                    mdm_port: int) -> None:
    system, evos = billing
    # MDM is up, but the readings have not reached it yet.
    with Mdm(mdm_port), pytest.raises(UpstreamFault) as failed:
        evos.send(consumption("S-0005"))
    assert failed.value.code == "5.1"
    assert "0 of the 8 15-minute intervals" in failed.value.reason
    assert system.bill_count() == 0 and not journaled(system, "ChargingConsumption:S-0005")


def test_uc_4_1_a_consumption_without_usage_point_is_split_by_time(billing: tuple[BillingSystem, ServiceClient],
                                                                   mdm_port: int) -> None:
    system, evos = billing  # MDM is down: an older sender's consumption never asks it
    lines = bill_lines(evos.send(consumption("S-0006", usage_point=False)))
    # 105 minutes, 53 of them at the day rate: 8,200 Wh x 53/105 = 4,139 Wh.
    assert lines == [ChargeLine("day", 4_139, Decimal("0.28"), Decimal("1.16")),
                     ChargeLine("EV night", 4_061, Decimal("0.09"), Decimal("0.37"))]
    assert system.bill_count() == 1


def test_evgrid_sim_billing_with_mdm_url_prices_the_intervals_of_evgrid_sim_mdm() -> None:
    mdm, mdm_url = start_sim("mdm", "--port", "0", "--credentials", f"{USER}:{PASSWORD}",
                             "--credentials", f"{BILLING_USER}:{BILLING_PASSWORD}")
    try:
        billing, billing_url = start_sim("billing", "--port", "0", "--credentials", f"{USER}:{PASSWORD}",
                                         "--mdm-url", mdm_url.rsplit("/", 1)[0],
                                         "--mdm-credentials", f"{BILLING_USER}:{BILLING_PASSWORD}")
        try:
            with ServiceClient("MeterDataManagement", mdm_url.rsplit("/", 1)[0], credentials=(USER, PASSWORD),
                               timeout_s=5.0) as to_mdm:
                to_mdm.send(created_readings())
            with ServiceClient("CustomerBilling", billing_url.rsplit("/", 1)[0], credentials=(USER, PASSWORD),
                               timeout_s=10.0) as evos:
                assert bill_lines(evos.send(consumption("S-0007"))) == EXPECTED
        finally:
            assert stop_sim(billing) in (0, 143, -15)
    finally:
        assert stop_sim(mdm) in (0, 143, -15)
