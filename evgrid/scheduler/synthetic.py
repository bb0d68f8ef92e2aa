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

    Returns:
        The problem, prices as Decimal, penalty 0.60 per unmet kWh.
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
        feeders.append(Feeder(feeder_id, round(0.8 * sum(group), 1) if limited else None))
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
    return Problem(horizon, tuple(requests), tuple(grid), prices, Decimal("0.60"), tuple(feeders))
