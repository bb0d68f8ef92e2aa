"""Seeded synthetic nights for tests, benchmarks and the demo.

The shapes are plausible rather than measured: a residential base load peaking at
19:00 and bottoming out at 03:00, a time-of-use price with an evening peak and a
night valley (hourly, so four 15-minute slots share a price and ties are common),
EVs arriving in the evening at arbitrary minutes (partial first slots) and leaving
in the morning. Transformer ratings are drawn so that the night valley is often
full, which is what makes the assignment non-trivial.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from evgrid.scheduler.model import Feeder, Horizon, Problem, SessionRequest, Transformer

# Share of the daily peak per hour of day (0 = midnight), a typical residential curve.
_LOAD_SHAPE = (
    0.45, 0.40, 0.37, 0.35, 0.35, 0.38, 0.48, 0.60, 0.62, 0.58, 0.55, 0.55,
    0.56, 0.55, 0.55, 0.58, 0.66, 0.80, 0.92, 1.00, 0.97, 0.88, 0.72, 0.56,
)  # fmt: skip

# Time-of-use tariff per hour of day, currency per kWh, before hourly noise.
_PRICE_SHAPE = (
    0.10, 0.09, 0.08, 0.08, 0.08, 0.09, 0.14, 0.22, 0.25, 0.20, 0.18, 0.17,
    0.17, 0.17, 0.18, 0.20, 0.24, 0.30, 0.32, 0.32, 0.28, 0.22, 0.16, 0.12,
)  # fmt: skip

_HOME_POWER_KW = (3.7, 7.4, 7.4, 11.0)
_QUICK_POWER_KW = (7.4, 11.0, 22.0)

DEFAULT_START_UTC = datetime(2025, 1, 15, 18, 0, tzinfo=UTC)


def random_problem(
    seed: int,
    *,
    sessions: int = 200,
    transformers: int = 20,
    slots: int = 48,
    feeder_size: int = 5,
    third_party_share: float = 0.1,
    price_noise: float = 0.03,
    start_utc: datetime = DEFAULT_START_UTC,
    feeder_rating: float = 0.8,
    penalty_per_kwh: Decimal = Decimal("0.60"),
) -> Problem:
    """A reproducible random night.

    Args:
        seed: Seed of the private ``random.Random``; same seed, same problem.
        sessions: Number of charging sessions.
        transformers: Number of transformers; sessions pick one at random.
        slots: Horizon length in 15-minute slots from ``start_utc``.
        feeder_size: Transformers per feeder; every third feeder is unlimited and
            about one transformer in ten hangs on no feeder at all.
        third_party_share: Probability that a session is third-party.
        price_noise: Amplitude of the uniform hourly noise added to the tariff; 0
            gives flat tiers (many ties).
        start_utc: Start of the horizon.
        feeder_rating: A limited feeder's rating as a share of the sum of its
            transformers' ratings (below 1: the feeder binds before they do).
        penalty_per_kwh: Cost of a kWh not delivered.

    Returns:
        The problem, prices as Decimal.
    """
    rng = random.Random(seed)
    horizon = Horizon(start_utc, slots)
    hours = [horizon.slot_start_utc(slot).hour for slot in range(slots)]
    per_transformer = max(1.0, sessions / transformers)

    feeders: list[Feeder] = []
    grid: list[Transformer] = []
    capacities = [round(per_transformer * rng.uniform(4.0, 9.0) + 15.0, 1) for _ in range(transformers)]
    for start in range(0, transformers, feeder_size):
        group = capacities[start : start + feeder_size]
        limited = (start // feeder_size) % 3 != 2
        feeder_id = f"F{start // feeder_size:03d}"
        feeders.append(Feeder(feeder_id, round(feeder_rating * sum(group), 1) if limited else None))
        for offset, capacity in enumerate(group):
            peak_share = rng.uniform(0.6, 0.95)
            base = tuple(
                round(capacity * peak_share * _LOAD_SHAPE[hour] * rng.uniform(0.97, 1.03), 2)
                for hour in hours
            )
            on_feeder = rng.random() >= 0.1
            transformer_id = f"T{start + offset:04d}"
            grid.append(Transformer(transformer_id, capacity, base, feeder_id if on_feeder else None))

    hourly_noise = [rng.uniform(-price_noise, price_noise) for _ in range(24)]
    prices = tuple(
        Decimal(str(round(max(0.01, _PRICE_SHAPE[hour] + hourly_noise[hour]), 4))) for hour in hours
    )

    horizon_minutes = slots * horizon.slot_minutes
    requests = []
    for index in range(sessions):
        third_party = rng.random() < third_party_share
        offset = rng.randrange(max(1, int(horizon_minutes * 0.35)))
        # Departures stay inside the horizon: the night is planned up to the last one.
        latest = horizon_minutes - offset
        shortest, longest = (60, 300) if third_party else (240, 840)
        shortest = min(shortest, latest // 2)
        stay = rng.randrange(shortest, max(shortest + 1, min(longest, latest)))
        power_kw = rng.choice(_QUICK_POWER_KW if third_party else _HOME_POWER_KW)
        # Step 2.1.1 confirms only what the station can deliver by departure, so a
        # request's shortfall comes from the grid limits, not from the request.
        feasible_wh = int(power_kw * stay / 60 * 1000 * 0.9)
        requests.append(
            SessionRequest(
                session_id=f"S{index:05d}",
                arrival_utc=start_utc + timedelta(minutes=offset),
                departure_utc=start_utc + timedelta(minutes=offset + stay),
                energy_wh=min(rng.randrange(5_000, 50_000), feasible_wh),
                max_power_kw=power_kw,
                transformer_id=rng.choice(grid).transformer_id,
                third_party=third_party,
            )
        )
    return Problem(horizon, tuple(requests), tuple(grid), prices, penalty_per_kwh, tuple(feeders))


# --- the realistic night of the use case's western utility ------------------------

# Local standard time of the western utility (UTC-8, no daylight saving in January).
WESTERN_UTC_OFFSET_HOURS = -8
# The night runs from 17:00 to 08:00 local: 60 slots of 15 minutes.
WESTERN_START_UTC = datetime(2026, 1, 15, 1, 0, tzinfo=UTC)  # 2026-01-14 17:00 local
WESTERN_SLOTS = 60
# Time-of-use tariff by local hour (currency per kWh): evening peak, shoulder, the cheap
# EV night window 00:00-06:00, morning.
_WESTERN_PRICES = {17: 0.42, 18: 0.42, 19: 0.42, 20: 0.42, 21: 0.28, 22: 0.28, 23: 0.28,
                   0: 0.11, 1: 0.11, 2: 0.11, 3: 0.11, 4: 0.11, 5: 0.11, 6: 0.20, 7: 0.20}  # fmt: skip
# Non-EV load of one home by local hour (kW, at the hour; interpolated between hours).
_HOME_LOAD_KW = {17: 1.9, 18: 2.3, 19: 2.4, 20: 2.2, 21: 1.9, 22: 1.5, 23: 1.1, 0: 0.85,
                 1: 0.75, 2: 0.7, 3: 0.68, 4: 0.7, 5: 0.85, 6: 1.2, 7: 1.6, 8: 1.7}  # fmt: skip
_HOME_CHARGER_KW = 7.2
_EV_ONBOARD_KW = (6.6, 7.2, 7.2, 11.0)  # the session gets the lower of station and EV
_POWER_FACTOR = 0.95
_EV_SHARE = 0.4  # of the homes under a transformer, the share plugging in tonight
_HOMES_PER_FEEDER = 1500
# A congested night: feeders of 30-50 transformers rated at 50-70 % of their sum, and
# unmet energy costs more than any tariff hour's.
_CONGESTED_TRANSFORMERS = (30, 50)
_CONGESTED_RATING = (0.5, 0.7)
_CONGESTED_PENALTY = 1.50


def western_night(sessions: int, seed: int, *, third_party_share: float = 0.1, congested: bool = False) -> Problem:
    """A reproducible realistic night of the use case's western utility.

    7.2 kW home chargers; 25, 37.5 or 50 kVA transformers (power factor 0.95) serving
    8-12 homes with a residential base-load curve; about 40 % of the homes plug in;
    home EVs arrive 17-21 h and leave 6-8 h local, wanting 10-60 kWh; third-party
    visitors (about 10 %) arrive 17-21 h and stay 1-4 h; energy is capped at what the
    session's power can deliver in its window (step 2.1.1 confirms no more); feeders
    of about 1,500 homes rated 1.2-1.5 times their evening base-load peak. Sessions
    start and end on slot boundaries, as the instance file format has them.

    ``congested`` makes the feeders bind instead: 30-50 transformers per feeder, the
    feeder rated at 50-70 % of the sum of its transformers' ratings (below the evening
    base load), so every feeder is full through the night and a sizeable share of the
    wanted energy cannot be delivered; unmet energy then costs 1.50 per kWh.

    Args:
        sessions: Number of charging sessions.
        seed: Seed of the private ``random.Random``; same seed, same night.
        third_party_share: Probability that a session is a third-party visitor.
        congested: Small feeders rated well below their transformers (see above).

    Returns:
        The problem: 60 slots from 17:00 local, penalty 0.60 per unmet kWh (1.50
        when congested).
    """
    rng = random.Random(seed)
    horizon = Horizon(WESTERN_START_UTC, WESTERN_SLOTS)
    hours = [(slot / 4 + 17) % 24 for slot in range(WESTERN_SLOTS)]
    home_curve = [_interpolate(_HOME_LOAD_KW, hour) for hour in hours]
    prices = tuple(_WESTERN_PRICES[int(hour)] for hour in hours)
    grid: list[Transformer] = []
    base_by_feeder: list[list[float]] = []
    rating_by_feeder: list[float] = []  # summed transformer ratings
    homes_on_feeder, feeder_homes = _HOMES_PER_FEEDER, _HOMES_PER_FEEDER
    requests: list[SessionRequest] = []
    while len(requests) < sessions:
        if homes_on_feeder >= feeder_homes:
            base_by_feeder.append([0.0] * WESTERN_SLOTS)
            rating_by_feeder.append(0.0)
            homes_on_feeder = 0
            # Counted in transformers when congested (one "home" per transformer).
            feeder_homes = rng.randint(*_CONGESTED_TRANSFORMERS) if congested else _HOMES_PER_FEEDER
        homes = rng.randint(8, 12)
        kva = rng.choice((25.0, 37.5) if homes <= 9 else (37.5, 50.0) if homes <= 11 else (50.0,))
        diversity = rng.uniform(0.8, 1.05)
        base = tuple(round(homes * kw * diversity * rng.uniform(0.97, 1.03), 2) for kw in home_curve)
        feeder_id = f"F{len(base_by_feeder) - 1:03d}"
        transformer_id = f"T{len(grid):05d}"
        grid.append(Transformer(transformer_id, round(kva * _POWER_FACTOR, 3), base, feeder_id))
        base_by_feeder[-1] = [a + b for a, b in zip(base_by_feeder[-1], base, strict=True)]
        rating_by_feeder[-1] += grid[-1].capacity_kw
        homes_on_feeder += 1 if congested else homes
        for _ in range(sum(rng.random() < _EV_SHARE for _ in range(homes))):
            if len(requests) < sessions:
                requests.append(_western_session(rng, f"S{len(requests):06d}", transformer_id, third_party_share))
    if congested:
        ratings = [rating * rng.uniform(*_CONGESTED_RATING) for rating in rating_by_feeder]
    else:
        ratings = [max(base) * rng.uniform(1.2, 1.5) for base in base_by_feeder]
    feeders = tuple(Feeder(f"F{index:03d}", round(rating, 1)) for index, rating in enumerate(ratings))
    return Problem(horizon, tuple(requests), tuple(grid), prices, _CONGESTED_PENALTY if congested else 0.60, feeders)


def _western_session(rng: random.Random, session_id: str, transformer_id: str, third_party_share: float) -> SessionRequest:
    third_party = rng.random() < third_party_share
    arrival = min(15, int(rng.triangular(0, 16, 6)))  # 17:00-21:00, most around 18:30
    departure = arrival + rng.randint(4, 16) if third_party else rng.randint(52, 60)  # 06:00-08:00
    max_kw = min(_HOME_CHARGER_KW, rng.choice(_EV_ONBOARD_KW))
    wanted_kwh = rng.uniform(10.0, 60.0)
    reachable_kwh = max_kw * (departure - arrival) / 4
    return SessionRequest(
        session_id=session_id,
        arrival_utc=WESTERN_START_UTC + timedelta(minutes=15 * arrival),
        departure_utc=WESTERN_START_UTC + timedelta(minutes=15 * departure),
        energy_wh=int(min(wanted_kwh, reachable_kwh) * 1000),
        max_power_kw=max_kw,
        transformer_id=transformer_id,
        third_party=third_party,
    )


def _interpolate(by_hour: dict[int, float], hour: float) -> float:
    low = int(hour)
    share = hour - low
    return by_hour[low % 24] * (1 - share) + by_hour[(low + 1) % 24] * share
