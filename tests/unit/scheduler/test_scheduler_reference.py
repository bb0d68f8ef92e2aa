"""The reference LP (scipy/HiGHS): known optima on small nights."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evgrid.scheduler.check import plan_cost, violations
from evgrid.scheduler.model import Feeder, Horizon, Problem, SessionRequest, Transformer
from evgrid.scheduler.reference import reference_plan

START = datetime(2026, 1, 15, 18, tzinfo=UTC)
SLOTS = 8


def at(slot: float) -> datetime:
    return START + timedelta(minutes=15 * slot)


def test_home_energy_goes_to_the_cheapest_slots() -> None:
    prices = tuple(Decimal(p) for p in ("0.3", "0.3", "0.2", "0.05", "0.05", "0.1", "0.3", "0.3"))
    problem = Problem(
        Horizon(START, SLOTS),
        (SessionRequest("A", at(0), at(8), 3_500, 7.0, "T1"),),
        (Transformer("T1", 50.0, (0.0,) * SLOTS),),
        prices,
        Decimal(1),
    )
    plan = reference_plan(problem)
    assert plan.session("A").power_kw == pytest.approx((0, 0, 0, 7.0, 7.0, 0, 0, 0), abs=1e-6)
    assert plan_cost(problem, plan).total == pytest.approx(0.05 * 3.5)


def test_limits_and_unmet_energy() -> None:
    problem = Problem(
        Horizon(START, SLOTS),
        (
            SessionRequest("A", at(0), at(4), 10_000, 11.0, "T1"),
            SessionRequest("B", at(0), at(4), 10_000, 11.0, "T2"),
        ),
        (Transformer("T1", 30.0, (20.0,) * SLOTS, "F1"), Transformer("T2", 30.0, (20.0,) * SLOTS, "F1")),
        (0.1,) * SLOTS,
        1.0,
        (Feeder("F1", 52.0),),
    )
    plan = reference_plan(problem)
    assert violations(problem, plan) == []
    # 10 kW each, 12 kW for both together (the feeder), four slots: 12 kWh of 20.
    assert plan_cost(problem, plan).unmet_kwh == pytest.approx(8.0, abs=1e-6)


def test_third_party_charges_as_soon_as_possible_despite_prices() -> None:
    prices = (0.5, 0.5, 0.5, 0.01, 0.01, 0.01, 0.01, 0.01)
    problem = Problem(
        Horizon(START, SLOTS),
        (SessionRequest("Q", at(1), at(8), 2_750, 11.0, "T1", third_party=True),),
        (Transformer("T1", 50.0, (0.0,) * SLOTS),),
        prices,
        1.0,
    )
    plan = reference_plan(problem)
    assert plan.session("Q").power_kw == pytest.approx((0, 11.0, 0, 0, 0, 0, 0, 0), abs=1e-6)
