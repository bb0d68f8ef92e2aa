"""Steps 2.1 / 3.1.2 and 4.1: each customer's own tariff and rate, against in-memory fakes.

Alice (default tariff T-EV) hosts station EVSE-A; Dave (tariff T-PEAK) hosts EVSE-D.
EV-A and EV-D are enrolled in the EV rate, EV-A2 (Alice's) and EV-D2 (Dave's) are not.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from evgrid.operations import events, handlers
from evgrid.operations.model import (
    Account,
    AccountStatus,
    ChargingKind,
    ChargingRequest,
    ElectricVehicle,
    Premise,
    Rate,
    Station,
    Tariff,
    TariffInterval,
)
from evgrid.operations.rates import QUICK_CHARGE, PricedWindow
from tests.unit.operations.fakes import NOW, PEAK, TARIFF, FakeUnitOfWork

D = Decimal
DEPARTURE = NOW + timedelta(hours=13)  # 07:00 UTC the next morning


@pytest.fixture
def uow() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    data = uow.registry.data
    alice = data["accounts"]["ACC-A"]  # type: ignore[index]
    dave = Account("ACC-D", "C-D", AccountStatus.OPEN, tariff_id="T-PEAK")
    data["accounts"]["ACC-D"] = dave  # type: ignore[index]
    data["stations"]["EVSE-D"] = Station("EVSE-D", Premise("P-D", "UP-D", "MTR-D", dave, "TX-1"), D("11"))  # type: ignore[index]
    data["evs"].update({  # type: ignore[union-attr]
        "EV-A2": ElectricVehicle("EV-A2", alice, 60_000, D("11"), ev_rate=False),
        "EV-D": ElectricVehicle("EV-D", dave, 60_000, D("11")),
        "EV-D2": ElectricVehicle("EV-D2", dave, 60_000, D("11"), ev_rate=False),
    })
    return uow


def request(ev_id: str, station: str = "EVSE-A", **changes: object) -> ChargingRequest:
    portal = {"EVSE-A": ("C-A", "UP-A", "P-A"), "EVSE-D": ("C-D", "UP-D", "P-D")}[station]
    fields: dict[str, object] = dict(
        request_mrid=f"R-{ev_id}", ev_id=ev_id, station_id=station, customer_id=portal[0],
        usage_point_id=portal[1], premise_number=portal[2], requested_wh=20_000,
        departure_utc=DEPARTURE, max_power_kw=D("11"), plugged_in_utc=NOW,
    )
    fields.update(changes)
    return ChargingRequest(**fields)  # type: ignore[arg-type]


def confirm(uow: FakeUnitOfWork, command: ChargingRequest) -> handlers.Confirmation:
    with uow:
        confirmation = handlers.request_charging(command, uow, NOW, "m-1")
        uow.commit()
    return confirmation


def at(hour: int, minute: int = 0, day: int = 26) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def prices(priced: tuple[PricedWindow, ...]) -> list[tuple[str, datetime, datetime, Decimal, bool]]:
    return [(w.label, w.start_utc, w.end_utc, w.price_per_kwh, w.ev_night) for w in priced]


def test_uc_2_1_home_enrolled_gets_the_ev_night_prices_of_the_default_tariff(uow: FakeUnitOfWork) -> None:
    confirmation = confirm(uow, request("EV-A"))
    session = confirmation.session
    assert (session.tariff_id, session.rate) == ("T-EV", Rate.EV_NIGHT)
    assert uow.committed.sessions[session.session_id].rate is Rate.EV_NIGHT  # recorded on the session
    assert confirmation.tariff == TARIFF and confirmation.owner_customer_id == "C-A"
    assert prices(confirmation.windows) == [
        ("day", NOW, at(23), D("0.28"), False),
        ("EV night", at(23), DEPARTURE, D("0.09"), True),
    ]


def test_uc_2_1_home_not_enrolled_pays_the_plain_price_in_the_night(uow: FakeUnitOfWork) -> None:
    confirmation = confirm(uow, request("EV-A2"))
    assert (confirmation.session.tariff_id, confirmation.session.rate) == ("T-EV", Rate.PLAIN)
    # T-EV names no plain price: the highest of its other intervals (day, 0.28)
    assert prices(confirmation.windows) == [
        ("day", NOW, at(23), D("0.28"), False),
        ("EV night (plain rate)", at(23), DEPARTURE, D("0.28"), False),
    ]


def test_uc_2_1_the_account_s_own_tariff_enrolled(uow: FakeUnitOfWork) -> None:
    enrolled = confirm(uow, request("EV-D", "EVSE-D"))
    assert (enrolled.session.tariff_id, enrolled.session.rate) == ("T-PEAK", Rate.EV_NIGHT)
    assert prices(enrolled.windows) == [
        ("peak", NOW, at(21), D("0.35"), False),
        ("evening", at(21), at(0, 30, day=27), D("0.25"), False),
        ("EV night", at(0, 30, day=27), DEPARTURE, D("0.07"), True),
    ]


def test_uc_2_1_the_account_s_own_tariff_not_enrolled(uow: FakeUnitOfWork) -> None:
    plain = confirm(uow, request("EV-D2", "EVSE-D", departure_utc=DEPARTURE + timedelta(days=1)))
    assert plain.session.tariff_id == "T-PEAK"
    assert plain.session.rate is Rate.PLAIN
    # the night at the tariff's plain_price_per_kwh (0.22); the others as they are
    assert [(w.label, w.price_per_kwh) for w in plain.windows] == [
        ("peak", D("0.35")), ("evening", D("0.25")), ("EV night (plain rate)", D("0.22")), ("day", D("0.25")),
        ("peak", D("0.35")), ("evening", D("0.25")), ("EV night (plain rate)", D("0.22"))]


def test_uc_3_1_2_quick_charge_at_the_owner_s_tariff_not_the_host_s(uow: FakeUnitOfWork) -> None:
    # Dave (T-PEAK) charges at Alice's (T-EV): Dave's quick-charge price.
    away = confirm(uow, request("EV-D", "EVSE-A"))
    assert away.session.kind is ChargingKind.THIRD_PARTY
    assert (away.session.tariff_id, away.session.rate) == ("T-PEAK", Rate.QUICK_CHARGE)
    assert away.tariff == PEAK and away.owner_customer_id == "C-D"
    assert prices(away.windows) == [(QUICK_CHARGE, NOW, DEPARTURE, D("0.33"), False)]
    # Bob (default tariff) charges at Dave's (T-PEAK): the default tariff's quick charge.
    visitor = confirm(uow, request("EV-B", "EVSE-D"))
    assert (visitor.session.tariff_id, visitor.session.rate) == ("T-EV", Rate.QUICK_CHARGE)
    assert [w.price_per_kwh for w in visitor.windows] == [D("0.31")]


def test_uc_3_1_2_not_enrolled_makes_no_difference_to_a_quick_charge(uow: FakeUnitOfWork) -> None:
    confirmation = confirm(uow, request("EV-D2", "EVSE-A"))
    assert confirmation.session.rate is Rate.QUICK_CHARGE
    assert [w.price_per_kwh for w in confirmation.windows] == [D("0.33")]


def _run(uow: FakeUnitOfWork, handler, command, message_id: str, now: datetime = NOW):  # noqa: ANN001, ANN201
    with uow:
        outcome = handler(command, uow, now, message_id)
        uow.commit()
    return outcome


def _billed(uow: FakeUnitOfWork) -> events.ConsumptionForBilling:
    (billing,) = [e for e in uow.committed.outbox if isinstance(e, events.ConsumptionForBilling)]
    return billing


def test_uc_4_1_home_consumption_carries_its_rate_over_every_metered_interval(uow: FakeUnitOfWork) -> None:
    session = confirm(uow, request("EV-A")).session
    start, end = at(22, 37), at(23, 22)  # in the 15-minute intervals 22:30-22:45 ... 23:15-23:30
    _run(uow, handlers.record_start, handlers.StartReading(session.session_id, "MTR-A", start, 1_000_000), "m-2",
         start)
    _run(uow, handlers.complete, handlers.Completion(session.session_id, "MTR-A", start, end, 1_000_000, 1_005_000,
                                                     "evFull"), "m-3", end)
    billing = _billed(uow)
    assert (billing.rate, billing.usage_point_id, billing.tariff) == (Rate.EV_NIGHT, "UP-A", TARIFF)
    assert prices(billing.windows) == [
        ("day", at(22, 30), at(23), D("0.28"), False),
        ("EV night", at(23), at(23, 30), D("0.09"), True),
    ]


def test_uc_4_1_a_session_on_quarter_hours_is_covered_exactly(uow: FakeUnitOfWork) -> None:
    session = confirm(uow, request("EV-A2")).session
    start, end = at(23), at(23, 45)
    _run(uow, handlers.record_start, handlers.StartReading(session.session_id, "MTR-A", start, 10), "m-2", start)
    _run(uow, handlers.complete, handlers.Completion(session.session_id, "MTR-A", start, end, 10, 2_010, "evFull"),
         "m-3", end)
    billing = _billed(uow)
    assert billing.rate is Rate.PLAIN
    assert prices(billing.windows) == [("EV night (plain rate)", at(23), at(23, 45), D("0.28"), False)]


def test_uc_4_1_third_party_consumption_at_the_owner_s_quick_charge_metered_at_the_host(
        uow: FakeUnitOfWork) -> None:
    session = confirm(uow, request("EV-D", "EVSE-A")).session
    start, end = at(18, 5), at(19, 50)
    _run(uow, handlers.record_start, handlers.StartReading(session.session_id, "MTR-A", start, 0), "m-2", start)
    _run(uow, handlers.complete, handlers.Completion(session.session_id, "MTR-A", start, end, 0, 9_000, "evFull"),
         "m-3", end)
    _run(uow, handlers.assign_usage, handlers.UsageAssignment(session.session_id, "ACC-A", "ACC-D", 9_000), "m-4",
         end)
    billing = _billed(uow)
    assert (billing.rate, billing.usage_point_id, billing.tariff) == (Rate.QUICK_CHARGE, "UP-A", PEAK)
    assert prices(billing.windows) == [(QUICK_CHARGE, at(18), at(20), D("0.33"), False)]


def test_plain_price_defaults_to_the_highest_other_price() -> None:
    def tariff(*intervals: TariffInterval, plain: str | None = None) -> Tariff:
        return Tariff("T", "t", "EUR", "UTC", intervals, D("0.3"), D(plain) if plain else None)

    day = TariffInterval(1, "day", time(7), time(17), D("0.25"), ev_night=False)
    peak = TariffInterval(2, "peak", time(17), time(23), D("0.35"), ev_night=False)
    night = TariffInterval(3, "night", time(23), time(7), D("0.40"), ev_night=True)
    assert tariff(day, peak, night).plain_price == D("0.35")  # not the night's own price
    assert tariff(day, peak, night, plain="0.2").plain_price == D("0.2")
    whole = TariffInterval(1, "night", time(0), time(0), D("0.1"), ev_night=True)
    assert tariff(whole).plain_price == D("0.1")  # every interval is ev_night
