"""Applicable rates and charges: Decimal money, every Wh accounted for."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from evgrid.operations.model import ChargingKind, Tariff, TariffInterval
from evgrid.operations.rates import CENT, price, split_energy, windows
from tests.unit.operations.fakes import TARIFF

T = datetime(2026, 11, 26, tzinfo=UTC)


def test_uc_2_1_home_windows_follow_the_time_of_use_intervals() -> None:
    priced = windows(TARIFF, ChargingKind.HOME, T.replace(hour=21), T.replace(day=27, hour=8))
    assert [(w.label, w.start_utc.hour, w.end_utc.hour) for w in priced] == [
        ("day", 21, 23), ("EV night", 23, 7), ("day", 7, 8)]
    assert priced[1].price_per_kwh == Decimal("0.09") and priced[1].ev_night


def test_uc_3_1_2_third_party_is_one_quick_charge_window_at_its_rate() -> None:
    (window,) = windows(TARIFF, ChargingKind.THIRD_PARTY, T.replace(hour=21), T.replace(hour=22))
    assert window.label == "quick charge" and window.price_per_kwh == Decimal("0.31")


def test_windows_respect_the_tariffs_time_zone() -> None:
    local = Tariff("T", "n", "EUR", "Europe/Amsterdam", (
        TariffInterval(1, "day", time(7), time(23), Decimal("0.28"), False),
        TariffInterval(2, "EV night", time(23), time(7), Decimal("0.09"), True)), Decimal("0.3"))
    priced = windows(local, ChargingKind.HOME, T.replace(hour=21), T.replace(hour=23))
    # 23:00 in Amsterdam (UTC+1 in November) is 22:00 UTC.
    assert [(w.label, w.start_utc.hour) for w in priced] == [("day", 21), ("EV night", 22)]


@pytest.mark.parametrize("total", [0, 1, 7, 18_500, 1_000_003])
def test_split_energy_conserves_every_wh(total: int) -> None:
    priced = windows(TARIFF, ChargingKind.HOME, T.replace(hour=22), T.replace(day=27, hour=8))
    parts = split_energy(total, T.replace(hour=22), T.replace(day=27, hour=8), priced)
    assert sum(wh for _, wh in parts) == total
    assert all(wh >= 0 for _, wh in parts)


def test_price_rounds_each_line_to_cents_with_decimal() -> None:
    priced = windows(TARIFF, ChargingKind.HOME, T.replace(hour=23), T.replace(day=27, hour=1))
    (line,) = price([(priced[0], 18_555)])
    assert line.amount == Decimal("1.67")  # 18.555 kWh x 0.09 = 1.66995
    assert line.amount.as_tuple().exponent == CENT.as_tuple().exponent
