"""Applicable rates (steps 2.1 / 3.1.2) and the charge for a session's energy.

Home (2.1): the customer's time-of-use tariff, whose EV night intervals carry the cheap
EV night rate; the scheduler plans home charging into those hours.

Third party (3.1.2): a quick charge at another customer's premise is not deferred to
the night, so it is charged at the tariff's third-party (quick-charge) rate for all its
energy, whatever the hour, to the EV owner's account; the host's account is not charged
for it (3.3.5).

The tariff is always the EV owner's account's (the default tariff when the account names
none), at home and at another customer's premise alike. Which of its prices apply is
the session's :class:`~evgrid.operations.model.Rate`: ``evNight`` (home, the EV enrolled
in the EV rate), ``plain`` (home, not enrolled: the ev_night intervals at the tariff's
plain price) or ``quickCharge`` (third party).

Money is Decimal and rounded once, per charge line, to the currency's cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from evgrid.operations.metering import INTERVAL, Interval
from evgrid.operations.model import ChargingKind, Rate, Tariff, TariffInterval

CENT = Decimal("0.01")
QUICK_CHARGE = "quick charge"


@dataclass(frozen=True, slots=True)
class PricedWindow:
    """A price valid from ``start_utc`` to ``end_utc`` (a CIM TimeTariffInterval)."""

    sequence: int
    label: str
    start_utc: datetime
    end_utc: datetime
    price_per_kwh: Decimal
    ev_night: bool


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One line of a bill (CIM Charge): energy in one priced window."""

    label: str
    energy_wh: int
    price_per_kwh: Decimal
    amount: Decimal
    intervals: int = 0  # the metered 15-minute intervals it prices (0: priced from registers alone)
    estimated: int = 0  # how many of them meter data management estimated


def default_rate(kind: ChargingKind) -> Rate:
    """The rate of a session of ``kind`` whose EV is enrolled in the EV rate."""
    return Rate.QUICK_CHARGE if kind is ChargingKind.THIRD_PARTY else Rate.EV_NIGHT


def windows(tariff: Tariff, kind: ChargingKind, start_utc: datetime, end_utc: datetime,
            rate: Rate | None = None) -> list[PricedWindow]:
    """The priced windows covering [start_utc, end_utc) for a session of this kind at ``rate``.

    ``rate`` None: :func:`default_rate` of ``kind``. ``quickCharge`` is one window at the
    third-party price; ``plain`` prices the ev_night intervals at the tariff's
    :attr:`~evgrid.operations.model.Tariff.plain_price` (and marks them not ev_night).
    """
    rate = rate or default_rate(kind)
    if rate is Rate.QUICK_CHARGE:
        return [PricedWindow(1, QUICK_CHARGE, start_utc, end_utc, tariff.third_party_price_per_kwh, False)]
    plain = rate is Rate.PLAIN
    zone = ZoneInfo(tariff.timezone)
    result: list[PricedWindow] = []
    cursor = start_utc
    while cursor < end_utc:
        local = cursor.astimezone(zone)
        interval = _interval_at(tariff, local.time())
        boundary = _next_boundary(interval, local, zone)
        end = min(boundary, end_utc)
        if result and result[-1].sequence == interval.sequence and result[-1].end_utc == cursor:
            last = result.pop()
            result.append(PricedWindow(last.sequence, last.label, last.start_utc, end,
                                       last.price_per_kwh, last.ev_night))
        elif plain and interval.ev_night:
            result.append(PricedWindow(interval.sequence, f"{interval.label} (plain rate)", cursor, end,
                                       tariff.plain_price, False))
        else:
            result.append(PricedWindow(interval.sequence, interval.label, cursor, end,
                                       interval.price_per_kwh, interval.ev_night))
        cursor = end
    return result


def _interval_at(tariff: Tariff, moment: object) -> TariffInterval:
    for interval in tariff.intervals:
        if interval.contains(moment):  # type: ignore[arg-type]
            return interval
    raise ValueError(f"tariff {tariff.tariff_id} does not cover {moment}")


def _next_boundary(interval: TariffInterval, local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which ``interval`` ends after ``local``."""
    end = local.replace(hour=interval.end_local.hour, minute=interval.end_local.minute, second=0,
                        microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    # Wall-clock arithmetic in the tariff's zone, then back to UTC (DST-safe enough for
    # quarter-hour slots: an ambiguous hour resolves to its first occurrence).
    return end.replace(tzinfo=zone).astimezone(UTC)


def line_amount(energy_wh: int, price_per_kwh: Decimal) -> Decimal:
    """A charge line's amount: its energy at its price, rounded once, to the cent (half to even)."""
    return (Decimal(energy_wh) / 1000 * price_per_kwh).quantize(CENT, ROUND_HALF_EVEN)


def price(energy_by_window: list[tuple[PricedWindow, int]]) -> list[ChargeLine]:
    """Charge lines for energy (Wh) per priced window; windows of one label are merged."""
    merged: dict[tuple[str, Decimal], int] = {}
    for window, energy_wh in energy_by_window:
        if energy_wh:
            key = (window.label, window.price_per_kwh)
            merged[key] = merged.get(key, 0) + energy_wh
    return [
        ChargeLine(label, wh, unit, line_amount(wh, unit))
        for (label, unit), wh in merged.items()
    ]


def split_energy(total_wh: int, start_utc: datetime, end_utc: datetime,
                 priced: list[PricedWindow]) -> list[tuple[PricedWindow, int]]:
    """Spread ``total_wh`` over the windows in proportion to time, conserving every Wh.

    Used when only the registers at start and end are known; the last window takes the
    rounding remainder so that the parts add up to the metered total exactly.
    """
    span = (end_utc - start_utc).total_seconds()
    if span <= 0 or len(priced) == 1:
        return [(priced[0], total_wh)] if priced else []
    parts: list[tuple[PricedWindow, int]] = []
    given = 0
    for window in priced[:-1]:
        share = int(total_wh * (window.end_utc - window.start_utc).total_seconds() // span)
        parts.append((window, share))
        given += share
    parts.append((priced[-1], total_wh - given))
    return parts


def price_intervals(intervals: list[Interval], priced: list[PricedWindow]) -> list[ChargeLine]:
    """Charge lines from metered 15-minute intervals, each priced at the window in force in it.

    An interval is priced by the window that holds its start (tariff windows change on
    quarter hours, so no interval straddles two). Intervals of one label and price make
    one line, which counts them and the estimated ones among them.

    Raises:
        ValueError: an interval lies outside every window.
    """
    merged: dict[tuple[str, Decimal], list[int]] = {}
    for interval in intervals:
        start = interval.end_utc - INTERVAL
        window = next((w for w in priced if w.start_utc <= start < w.end_utc), None)
        if window is None:  # an interval that began before the session's first window
            window = next((w for w in priced if w.start_utc < interval.end_utc <= w.end_utc), None)
        if window is None:
            raise ValueError(f"no price for the interval ending {interval.end_utc.isoformat()}")
        line = merged.setdefault((window.label, window.price_per_kwh), [0, 0, 0])
        line[0] += interval.wh
        line[1] += 1
        line[2] += int(interval.estimated)
    return [ChargeLine(label, wh, unit, line_amount(wh, unit), count, guessed)
            for (label, unit), (wh, count, guessed) in merged.items()]
