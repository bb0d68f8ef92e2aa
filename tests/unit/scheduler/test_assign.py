"""Slot assignment (step 2.2): table-driven rules, online placement, random nights vs the LP."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evgrid.scheduler.assign import assign_slots, place_session, reoptimise
from evgrid.scheduler.check import plan_cost, violations
from evgrid.scheduler.model import Feeder, Horizon, Problem, SessionRequest, Transformer
from evgrid.scheduler.plan import Plan
from evgrid.scheduler.reference import reference_plan
from evgrid.scheduler.synthetic import random_problem, western_night

START = datetime(2026, 1, 15, 18, tzinfo=UTC)
SLOTS = 16
CHEAP, DEAR = 0.10, 0.30


def at(slot: float) -> datetime:
    """The instant ``slot`` slots (of 15 minutes) after the start of the night."""
    return START + timedelta(minutes=15 * slot)


def ev(
    sid: str,
    arrive: float = 0,
    leave: float = SLOTS,
    wh: int = 7_000,
    kw: float = 7.0,
    transformer: str = "T1",
    third_party: bool = False,
) -> SessionRequest:
    return SessionRequest(sid, at(arrive), at(leave), wh, kw, transformer, third_party)


def night(
    sessions: Sequence[SessionRequest],
    *,
    capacity_kw: float = 100.0,
    base_kw: float = 0.0,
    prices: Sequence[float] | None = None,
    penalty: float = 1.0,
    transformers: Sequence[Transformer] | None = None,
    feeders: Sequence[Feeder] = (),
) -> Problem:
    grid = transformers or (Transformer("T1", capacity_kw, (base_kw,) * SLOTS),)
    return Problem(
        Horizon(START, SLOTS),
        tuple(sessions),
        tuple(grid),
        tuple(prices or (CHEAP,) * SLOTS),
        penalty,
        tuple(feeders),
    )


def priced(cheap: range, cheap_price: float = CHEAP) -> tuple[float, ...]:
    return tuple(cheap_price if slot in cheap else DEAR for slot in range(SLOTS))


def powered(plan: Plan, sid: str) -> list[int]:
    return [slot for slot, power in enumerate(plan.session(sid).power_kw) if power > 0]


def ev_load(plan: Plan, transformer_id: str = "T1") -> tuple[float, ...]:
    return next(t.ev_load_kw for t in plan.transformers if t.transformer_id == transformer_id)


@dataclass(frozen=True)
class Case:
    name: str
    problem: Problem
    expect: Callable[[Plan], None]


def _single_session(plan: Plan) -> None:
    assert powered(plan, "A") == [8, 9, 10, 11]
    assert plan.session("A").power_kw[8] == pytest.approx(7.0)
    assert (plan.session("A").delivered_wh, plan.session("A").unmet_wh) == (7_000, 0)


def _tight_transformer(plan: Plan) -> None:
    # 10 kW in the two cheap slots carry 5 of the 7 kWh; the rest goes to dear slots.
    assert ev_load(plan)[4] == pytest.approx(10.0) and ev_load(plan)[5] == pytest.approx(10.0)
    assert max(ev_load(plan)) <= 10.0 + 1e-9
    assert all(p.unmet_wh == 0 for p in plan.sessions)
    assert plan.session("A").delivered_wh + plan.session("B").delivered_wh == 7_000


def _third_party_at_arrival(plan: Plan) -> None:
    assert plan.session("Q").start_slot == 2
    assert plan.session("Q").power_kw[2:6] == pytest.approx((11.0,) * 4)
    assert plan.start_utc("Q") == at(2)


def _third_party_partial_first_slot(plan: Plan) -> None:
    # Arrives halfway through slot 2: 22 kW there deliver 2.75 kWh, not 5.5.
    assert powered(plan, "Q") == [2, 3]
    assert plan.session("Q").power_kw[2:4] == pytest.approx((22.0, 15.0))
    assert plan.session("Q").delivered_wh == 6_500


def _feeder_binding(plan: Plan) -> None:
    both = [a + b for a, b in zip(ev_load(plan, "T1"), ev_load(plan, "T2"), strict=True)]
    assert max(both) <= 15.0 + 1e-9
    assert all(both[slot] == pytest.approx(15.0) for slot in range(4, 8))  # the cheap slots are full


def _departure_too_early(plan: Plan) -> None:
    assert (plan.session("A").delivered_wh, plan.session("A").unmet_wh) == (7_000, 3_000)
    assert powered(plan, "A") == [0, 1, 2, 3]


def _valley(plan: Plan) -> None:
    assert powered(plan, "A") == [10, 11, 12, 13]


def _flat_prices_spread(plan: Plan) -> None:
    starts = [plan.session(sid).start_slot for sid in "ABCD"]
    assert len(set(starts)) == 4  # nobody starts at the same instant
    assert max(ev_load(plan)) == pytest.approx(7.0)  # and the load never stacks


def _valley_of_base_load(plan: Plan) -> None:
    # Flat prices: the session goes where the transformer is least loaded.
    assert powered(plan, "A") == [12, 13, 14, 15]


def _dearer_than_penalty(plan: Plan) -> None:
    assert plan.session("A").delivered_wh == 0 and plan.session("A").unmet_wh == 7_000
    assert plan.session("Q").delivered_wh == 7_000  # third-party charges whatever the price


def _overloaded_transformer(plan: Plan) -> None:
    assert max(ev_load(plan)[:8]) == 0.0  # base load above the rating: no EV at all
    assert powered(plan, "A") == [8, 9, 10, 11]


def _third_party_before_home(plan: Plan) -> None:
    # Both want slot 4 onwards; only 11 kW fit: the third party takes it first.
    assert plan.session("Q").power_kw[4] == pytest.approx(11.0)
    assert plan.session("A").power_kw[4] == 0.0


def _short_third_party_not_starved(plan: Plan) -> None:
    # Arrival order alone would let the long stay take all; the short one must get its energy.
    assert plan.session("S").unmet_wh == 0 and plan.session("L").unmet_wh == 0


TWO_ON_A_FEEDER = (
    Transformer("T1", 20.0, (0.0,) * SLOTS, "F1"),
    Transformer("T2", 20.0, (0.0,) * SLOTS, "F1"),
)
BASE_VALLEY = (Transformer("T1", 100.0, tuple(50.0 if slot < 12 else 20.0 for slot in range(SLOTS))),)

CASES = [
    Case("single session in the cheap hour", night([ev("A")], prices=priced(range(8, 12))), _single_session),
    Case(
        "two sessions on a tight transformer",
        night([ev("A", wh=3_500), ev("B", wh=3_500)], capacity_kw=10.0, prices=priced(range(4, 6))),
        _tight_transformer,
    ),
    Case(
        "third party starts at arrival",
        night([ev("Q", arrive=2, wh=11_000, kw=11.0, third_party=True)], prices=priced(range(10, 16))),
        _third_party_at_arrival,
    ),
    Case(
        "third party with a partial first slot",
        night([ev("Q", arrive=2.5, wh=6_500, kw=22.0, third_party=True)], prices=priced(range(10, 16))),
        _third_party_partial_first_slot,
    ),
    Case(
        "feeder limit binding",
        night(
            [ev("A", wh=11_000, kw=11.0), ev("B", wh=11_000, kw=11.0, transformer="T2")],
            prices=priced(range(4, 8)),
            transformers=TWO_ON_A_FEEDER,
            feeders=[Feeder("F1", 15.0)],
        ),
        _feeder_binding,
    ),
    Case("departure before enough energy", night([ev("A", leave=4, wh=10_000)]), _departure_too_early),
    Case(
        "price valley chosen",
        night(
            [ev("A")],
            prices=tuple([0.3, 0.25, 0.2, 0.15, 0.12, 0.1, 0.09, 0.08, 0.07, 0.06] + [0.05] * 4 + [0.2] * 2),
        ),
        _valley,
    ),
    Case(
        "diversity when prices are flat",
        night([ev(sid, wh=3_500) for sid in "ABCD"], capacity_kw=100.0),
        _flat_prices_spread,
    ),
    Case(
        "flat prices follow the base-load valley",
        night([ev("A")], transformers=BASE_VALLEY),
        _valley_of_base_load,
    ),
    Case(
        "slots dearer than the penalty stay empty",
        night([ev("A"), ev("Q", transformer="T1", third_party=True)], prices=(0.5,) * SLOTS, penalty=0.3),
        _dearer_than_penalty,
    ),
    Case(
        "base load above the rating",
        night(
            [ev("A")],
            transformers=[
                Transformer("T1", 30.0, tuple(40.0 if slot < 8 else 10.0 for slot in range(SLOTS)))
            ],
        ),
        _overloaded_transformer,
    ),
    Case(
        "third party has priority over home",
        night(
            [ev("A", arrive=4, wh=11_000, kw=11.0), ev("Q", arrive=4, wh=11_000, kw=11.0, third_party=True)],
            capacity_kw=11.0,
        ),
        _third_party_before_home,
    ),
    Case(
        "a long third-party stay does not starve a short one",
        night(
            [
                ev("L", arrive=0, leave=16, wh=22_000, kw=11.0, third_party=True),
                ev("S", arrive=1, leave=5, wh=11_000, kw=11.0, third_party=True),
            ],
            capacity_kw=11.0,
        ),
        _short_third_party_not_starved,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_uc_2_2_assign_slots(case: Case) -> None:
    plan = assign_slots(case.problem)
    assert violations(case.problem, plan) == []
    case.expect(plan)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_uc_2_2_reference_agrees_on_cost(case: Case) -> None:
    optimum = plan_cost(case.problem, reference_plan(case.problem)).total
    for plan in (assign_slots(case.problem), reoptimise(case.problem)):
        assert plan_cost(case.problem, plan).total <= optimum + 1e-9


def test_greedy_alone_is_valid_too() -> None:
    problem = random_problem(7, sessions=60, transformers=6, slots=48)
    assert violations(problem, assign_slots(problem, rounds=0)) == []


def test_assignment_is_deterministic() -> None:
    problem = random_problem(3, sessions=60, transformers=6, slots=48)
    assert assign_slots(problem) == assign_slots(problem)


# --- online placement ---------------------------------------------------------------


def test_uc_2_2_place_session_keeps_existing_sessions_and_limits() -> None:
    problem = night([ev("A", wh=14_000), ev("B", wh=14_000)], capacity_kw=15.0, prices=priced(range(4, 10)))
    plan = assign_slots(problem)
    new = ev("C", arrive=1, leave=12, wh=10_000)
    placed = place_session(plan, problem, new)
    extended = problem.with_session(new)
    assert violations(extended, placed) == []
    for before in plan.sessions:
        assert placed.session(before.session_id) == before
    assert max(ev_load(placed)) <= 15.0 + 1e-9
    assert placed.session("C").delivered_wh > 0


def test_uc_3_2_place_third_party_starts_at_arrival() -> None:
    problem = night([ev("A", wh=14_000)], prices=priced(range(8, 16)))
    plan = place_session(
        assign_slots(problem), problem, ev("Q", arrive=3, kw=11.0, wh=5_500, third_party=True)
    )
    assert powered(plan, "Q") == [3, 4]


def test_place_session_spreads_when_prices_are_flat() -> None:
    problem = night([])
    plan = assign_slots(problem)
    for sid in "ABCD":
        request = ev(sid, wh=3_500)
        plan, problem = place_session(plan, problem, request), problem.with_session(request)
    assert len({plan.session(sid).start_slot for sid in "ABCD"}) == 4
    assert violations(problem, plan) == []


def test_place_session_with_no_room_reports_unmet() -> None:
    problem = night([ev("A", wh=28_000)], capacity_kw=7.0)
    plan = place_session(assign_slots(problem), problem, ev("B"))
    assert plan.session("B").delivered_wh == 0 and plan.session("B").unmet_wh == 7_000


def test_place_session_refuses_a_planned_id() -> None:
    problem = night([ev("A")])
    with pytest.raises(ValueError, match="already"):
        place_session(assign_slots(problem), problem, ev("A"))


# --- random nights against the reference LP -----------------------------------------

# Measured over seeds 0-39 of _random_night below: assign_slots was at most 4.2 % above
# the LP optimum (seed 19), under 1 % on most. These nights are adversarial on purpose:
# arrivals at any minute (partial first and last slots) and feeders rated at 80 % of
# their transformers, so feeders bind all night. The vectorised exchange pass uses
# chains of one or two sessions, and B never takes over another session's partial
# slot; on slot-aligned nights (the instance file format) it is within 0.6 %, and on
# the realistic western night within 0.01 % (below and benchmarks/bench_scheduler.py).
OPTIMALITY_BOUND = 1.05
ALIGNED_OPTIMALITY_BOUND = 1.01
WESTERN_OPTIMALITY_BOUND = 1.005


def _random_night(seed: int) -> Problem:
    rng = random.Random(seed)
    return random_problem(
        seed,
        sessions=rng.randrange(20, 61),
        transformers=rng.randrange(2, 7),
        slots=rng.choice((32, 48)),
        feeder_size=rng.choice((2, 3, 5)),
        third_party_share=rng.choice((0.0, 0.1, 0.3)),
        price_noise=rng.choice((0.0, 0.03)),
    )


@pytest.mark.parametrize("seed", range(20))
def test_random_nights_are_valid_and_near_optimal(seed: int) -> None:
    problem = _random_night(seed)
    optimum = reference_plan(problem)
    assert violations(problem, optimum) == []
    best = plan_cost(problem, optimum).total
    for plan in (assign_slots(problem), reoptimise(problem)):
        assert violations(problem, plan) == []
        assert plan_cost(problem, plan).total <= best * OPTIMALITY_BOUND + 1e-6


def _aligned(problem: Problem) -> Problem:
    """The same night with every arrival and departure rounded to a slot boundary."""
    start = problem.horizon.start_utc

    def snap(moment: datetime) -> datetime:
        return start + timedelta(minutes=15 * round((moment - start).total_seconds() / 900))

    sessions = tuple(
        replace(s, arrival_utc=snap(s.arrival_utc), departure_utc=max(snap(s.arrival_utc), snap(s.departure_utc)))
        for s in problem.sessions
    )
    return replace(problem, sessions=sessions)


@pytest.mark.parametrize("seed", range(10))
def test_slot_aligned_random_nights_are_near_optimal(seed: int) -> None:
    problem = _aligned(_random_night(seed))
    best = plan_cost(problem, reference_plan(problem)).total
    plan = assign_slots(problem)
    assert violations(problem, plan) == []
    assert plan_cost(problem, plan).total <= best * ALIGNED_OPTIMALITY_BOUND + 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_western_night_is_within_half_a_percent(seed: int) -> None:
    problem = western_night(400, seed)
    best = plan_cost(problem, reference_plan(problem)).total
    plan = assign_slots(problem)
    assert violations(problem, plan) == []
    assert plan_cost(problem, plan).total <= best * WESTERN_OPTIMALITY_BOUND


@pytest.mark.parametrize("seed", range(5))
def test_random_nights_online_placement_stays_within_limits(seed: int) -> None:
    full = _random_night(100 + seed)
    problem = replace(full, sessions=())
    plan = assign_slots(problem)
    for request in full.sessions:
        plan, problem = place_session(plan, problem, request), problem.with_session(request)
    assert violations(problem, plan) == []


# --- congested nights: feeders rated well below their transformers -------------------

# Measured over seeds 0-19 of _congested_random_night: at most 3.6 % above the optimum
# (seed 16), 1.9 % on average; arrivals at any minute again, and one feeder of 30-50
# transformers rated at 50-70 % of their sum, so the feeder binds all night and up to
# half the energy cannot be delivered. On the congested western night (slot-aligned) the
# exchange pass is within 0.1 %.
CONGESTED_OPTIMALITY_BOUND = 1.05


def _congested_random_night(seed: int) -> Problem:
    rng = random.Random(seed)
    size = rng.randrange(30, 51)
    return random_problem(
        seed,
        sessions=rng.randrange(120, 241),
        transformers=size,
        slots=rng.choice((32, 48)),
        feeder_size=size,
        third_party_share=rng.choice((0.0, 0.1, 0.3)),
        price_noise=rng.choice((0.0, 0.03)),
        feeder_rating=rng.uniform(0.5, 0.7),
        penalty_per_kwh=Decimal("1.50"),
    )


@pytest.mark.parametrize("seed", range(10))
def test_congested_random_nights_are_valid_and_near_optimal(seed: int) -> None:
    problem = _congested_random_night(seed)
    best = plan_cost(problem, reference_plan(problem)).total
    for plan in (assign_slots(problem), reoptimise(problem)):
        assert violations(problem, plan) == []
        assert plan_cost(problem, plan).total <= best * CONGESTED_OPTIMALITY_BOUND + 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_congested_western_night_is_within_half_a_percent(seed: int) -> None:
    problem = western_night(600, seed, congested=True)
    optimum = reference_plan(problem)
    assert plan_cost(problem, optimum).unmet_kwh > 0  # the feeders do bind
    plan = assign_slots(problem)
    assert violations(problem, plan) == []
    assert plan_cost(problem, plan).total <= plan_cost(problem, optimum).total * WESTERN_OPTIMALITY_BOUND


def test_large_congested_night_stops_the_tail_within_half_a_percent() -> None:
    # Over 2,000 sessions on full feeders: the exchange pass across them stops early.
    problem = western_night(2_500, 1, congested=True)
    best = plan_cost(problem, reference_plan(problem)).total
    plan = assign_slots(problem)
    assert violations(problem, plan) == []
    assert plan_cost(problem, plan).total <= best * WESTERN_OPTIMALITY_BOUND


def test_congested_online_placement_stays_within_limits() -> None:
    full = western_night(300, 5, congested=True)
    problem = replace(full, sessions=())
    plan = assign_slots(problem)
    for request in full.sessions:
        plan, problem = place_session(plan, problem, request), problem.with_session(request)
    assert violations(problem, plan) == []
