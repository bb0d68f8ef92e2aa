"""Applicable rates and charges: Decimal money, every Wh accounted for."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from evgrid.operations.metering import Interval
from evgrid.operations.model import ChargingKind, Tariff, TariffInterval
from evgrid.operations.rates import CENT, ChargeLine, price, price_intervals, split_energy, windows
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


# ------------------------------------------------------------------ price_intervals: metered 15-minute intervals
def at(hour: int, minute: int = 0, day: int = 26) -> datetime:
    """An instant of the test night, UTC (the fake tariff's zone)."""
    return T.replace(day=day, hour=hour, minute=minute)


def metered(*readings: tuple[datetime, int] | tuple[datetime, int, bool]) -> list[Interval]:
    """Intervals from (end, Wh[, estimated]) rows."""
    return [Interval(row[0], row[1], bool(row[2]) if len(row) > 2 else False) for row in readings]


def test_uc_4_1_intervals_across_the_rate_boundary_are_priced_each_at_its_own_rate() -> None:
    priced = windows(TARIFF, ChargingKind.HOME, at(22, 30), at(23, 30))  # day until 23:00, then EV night
    lines = price_intervals(metered((at(22, 45), 1_000), (at(23), 1_200), (at(23, 15), 1_500), (at(23, 30), 1_700)),
                            priced)
    assert lines == [
        ChargeLine("day", 2_200, Decimal("0.28"), Decimal("0.62"), 2, 0),       # 2.2 kWh x 0.28 = 0.616
        ChargeLine("EV night", 3_200, Decimal("0.09"), Decimal("0.29"), 2, 0),  # 3.2 kWh x 0.09 = 0.288
    ]


def test_uc_4_1_a_session_that_pauses_is_billed_for_the_energy_of_each_interval_exactly() -> None:
    start, end = at(22), at(0, day=27)
    priced = windows(TARIFF, ChargingKind.HOME, start, end)
    # Charging paused 22:15-22:45 (day) and 23:00-23:15 and after 23:45 (night): those intervals carry 0 Wh.
    intervals = metered((at(22, 15), 2_000), (at(22, 30), 0), (at(22, 45), 0), (at(23), 1_800),
                        (at(23, 15), 0), (at(23, 30), 3_600), (at(23, 45), 3_600), (at(0, day=27), 0))
    lines = price_intervals(intervals, priced)
    assert [(line.label, line.energy_wh, line.amount, line.intervals) for line in lines] == [
        ("day", 3_800, Decimal("1.06"), 4),        # 3.8 kWh x 0.28 = 1.064
        ("EV night", 7_200, Decimal("0.65"), 4)]   # 7.2 kWh x 0.09 = 0.648
    assert sum(line.energy_wh for line in lines) == 11_000
    # Spread by time, the same 11 kWh would have cost 1.54 + 0.50: half of it at the day rate.
    by_time = price(split_energy(11_000, start, end, priced))
    assert sum((line.amount for line in by_time), Decimal(0)) == Decimal("2.04")
    assert sum((line.amount for line in lines), Decimal(0)) == Decimal("1.71")


def test_uc_4_1_each_line_counts_its_intervals_and_the_estimated_ones() -> None:
    priced = windows(TARIFF, ChargingKind.HOME, at(22), at(23, 45))
    intervals = metered((at(22, 15), 900), (at(22, 30), 900, True), (at(22, 45), 900, True), (at(23), 900),
                        (at(23, 15), 1_000, True), (at(23, 30), 1_000), (at(23, 45), 1_000))
    lines = price_intervals(intervals, priced)
    assert [(line.label, line.intervals, line.estimated) for line in lines] == [("day", 4, 2), ("EV night", 3, 1)]


def test_uc_4_1_an_interval_that_starts_before_the_first_window_takes_the_window_of_its_end() -> None:
    # The session starts at 22:07: its first interval (22:00, 22:15] began before the first window.
    priced = windows(TARIFF, ChargingKind.THIRD_PARTY, at(22, 7), at(22, 40))
    (line,) = price_intervals(metered((at(22, 15), 700), (at(22, 30), 1_100), (at(22, 45), 300)), priced)
    assert (line.label, line.energy_wh, line.amount, line.intervals) == ("quick charge", 2_100, Decimal("0.65"), 3)


def test_uc_4_1_money_is_rounded_once_per_line_not_per_interval() -> None:
    priced = windows(TARIFF, ChargingKind.HOME, at(23), at(0, day=27))
    # 55 Wh x 0.09 EUR/kWh = 0.00495 EUR: each interval alone rounds to 0.00, the line of four to 0.02.
    (line,) = price_intervals(metered(*((at(23, 15 * k) if k < 4 else at(0, day=27), 55) for k in range(1, 5))),
                              priced)
    assert line.energy_wh == 220 and line.amount == Decimal("0.02")
    assert line.amount.as_tuple().exponent == CENT.as_tuple().exponent


def test_uc_4_1_an_interval_outside_every_window_is_refused() -> None:
    priced = windows(TARIFF, ChargingKind.HOME, at(22), at(22, 30))
    with pytest.raises(ValueError, match="no price for the interval ending 2026-11-26T23:00:00"):
        price_intervals(metered((at(22, 15), 10), (at(22, 30), 10), (at(23), 10)), priced)
