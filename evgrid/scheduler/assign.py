"""Slot assignment (step 2.2): a fast near-optimal heuristic, pure, no I/O.

Policy, in order:

1. Third-party sessions (use-case 3.x) have priority and charge as soon as possible,
   never deferred to cheap hours: in order of arrival (then earliest departure), each
   takes the slots of its window from the first one, at full power or whatever room
   is left, until full. Then the exchange pass (:mod:`~evgrid.scheduler.repair`),
   priced by lateness (:func:`~evgrid.scheduler.model.lateness_per_kwh`), lets a short
   stay that arrival order starved take slots from a longer one that can charge later.
2. Home sessions in order of least laxity (time in the window minus time needed at
   full power; ties by earliest departure): the session with the fewest alternatives
   chooses first. Each fills the slots of its window cheapest first, and only slots no
   dearer than the penalty for unmet energy. Among equally priced slots it prefers a
   full slot to a partial one, then the one where its transformer carries the least
   load so far: that water-fills the valley and staggers start times (diversity).
3. The exchange pass then moves energy between home sessions of one transformer
   whenever that strictly lowers the cost, so it never undoes that diversity; where
   EVs fill a feeder, between sessions of its transformers too. On large nights the
   pass across full feeders stops once a round saves almost nothing (``_TAIL_SHARE``).

Every slot is filled within the room its transformer and feeder have left, so no
limit is ever exceeded; energy that does not fit is reported as unmet. Everything is
vectorised with numpy (:mod:`~evgrid.scheduler.greedy`): sessions of different
transformers are placed at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from evgrid.scheduler.check import plan_cost
from evgrid.scheduler.greedy import Work, choose, fill_in_order
from evgrid.scheduler.model import POWER_EPS_KW, Problem, SessionRequest, lateness_per_kwh
from evgrid.scheduler.plan import Plan, build_plan, plan_from_arrays
from evgrid.scheduler.repair import repair
from evgrid.scheduler.tables import Floats, Grid, Ints, SessionTable

# Cap on rounds of the exchange pass. On realistic nights it settles within a few
# dozen; the cap only bounds the time on adversarial inputs.
DEFAULT_ROUNDS = 500

# A feeder with less room than this (kW) left by EVs is full: exchanges across its
# transformers may pay.
_FULL_KW = 1e-4

# On nights with at least _TAIL_ROWS sessions on full feeders, the exchange pass across
# them stops after a round that saved less than _TAIL_SHARE of their cost: on the
# congested benchmark nights the rounds after it save about 0.1 % between them and
# cost as much time as the rounds before. Smaller nights run the pass to the end (it
# is cheap there, and on adversarial small nights the tail is worth up to 1 %).
_TAIL_SHARE = 3e-4
_TAIL_ROWS = 2_000

_Order = Callable[[SessionTable, Grid, Ints], Floats]


def _laxity_hours(table: SessionTable, grid: Grid, rows: Ints) -> Floats:
    """Hours in the window beyond those needed at full power (negative: cannot finish)."""
    window = table.frac.sum(axis=1)[rows] * grid.slot_hours
    max_kw = table.max_kw[rows]
    # A session that can take no power at all: its turn does not matter.
    needed = np.divide(table.energy_kwh[rows], max_kw, out=np.full(len(rows), -np.inf), where=max_kw > 0)
    return window - needed


def _departure(table: SessionTable, grid: Grid, rows: Ints) -> Floats:
    return table.end[rows]


# The greedy orders reoptimise() tries: the exchange pass ends in a different local
# optimum from each, and the cheaper one is kept.
_REOPTIMISE_ORDERS: tuple[_Order, ...] = (_laxity_hours, _departure)


def assign_slots(problem: Problem, *, rounds: int = DEFAULT_ROUNDS) -> Plan:
    """Plan the whole night: third-party first, then home sessions, then exchanges.

    Args:
        problem: Sessions, grid limits and prices of the night.
        rounds: Cap on the exchange pass's rounds; 0 keeps the greedy's plan (faster,
            up to a few % dearer).

    Returns:
        A plan within every transformer and feeder limit.
    """
    return _plan(problem, rounds, _laxity_hours)


def reoptimise(problem: Problem) -> Plan:
    """Re-plan the whole night from scratch, trying harder than :func:`assign_slots`.

    Runs the whole assignment from two greedy orders (least laxity, earliest
    departure) and keeps the cheaper plan, so it is never dearer than
    :func:`assign_slots` and takes about twice as long.

    To re-plan during the night, pass a problem whose horizon starts now and whose
    sessions ask for the energy they still need; slots already past are not this
    function's to change.

    Args:
        problem: Sessions, grid limits and prices of the (rest of the) night.

    Returns:
        A plan within every transformer and feeder limit.
    """
    plans = [_plan(problem, DEFAULT_ROUNDS, order) for order in _REOPTIMISE_ORDERS]
    return min(plans, key=lambda plan: plan_cost(problem, plan).total)  # first of equals


def place_session(plan: Plan, problem: Problem, new_session: SessionRequest) -> Plan:
    """Place one new session against the current plan, moving nobody else (online).

    The new session gets what the rules of :func:`assign_slots` would give it in the
    room the current plan leaves: third-party as soon as possible, home in the
    cheapest, least loaded slots. It reads only the load of its own transformer and
    feeder: O(slots x the sessions there), whatever the size of the night.

    Args:
        plan: The current plan of ``problem``; kept as it is.
        problem: The problem ``plan`` solves, without ``new_session``.
        new_session: The request to add.

    Returns:
        The plan of ``problem.with_session(new_session)``: the existing sessions'
        power unchanged, the new session's added.

    Raises:
        ValueError: ``new_session`` is already planned, or its transformer unknown.
    """
    plan, grid, k = _indexed(plan, problem, new_session)
    ev = plan.ev_load_of(np.array([k]))
    avail = np.maximum(0.0, grid.room_kw[k] - ev)
    feeder = int(grid.feeder_of[k])
    if feeder >= 0:
        feeder_ev = plan.ev_load_of(grid.feeder_members[feeder])
        avail = np.minimum(avail, np.maximum(0.0, grid.feeder_room_kw[feeder] - feeder_ev))
    table = SessionTable.of(problem.horizon, (new_session,), grid)
    asap = new_session.third_party
    power = choose(
        avail[None, :], table.frac, table.max_kw, table.energy_kwh,
        price_rank=None if asap else grid.price_rank,
        allowed=np.ones(len(grid.prices), bool) if asap else grid.prices <= grid.penalty,
        load=(grid.base_kw[k] + ev)[None, :], slot_hours=grid.slot_hours,
    )[0]  # fmt: skip
    delivered_wh = int(min(table.energy_wh[0], np.rint((power * table.frac[0]).sum() * grid.slot_hours * 1000)))
    return plan.with_row(new_session.session_id, power, delivered_wh, new_session.energy_wh, k)


def adopt_session(plan: Plan, problem: Problem, session: SessionRequest, power_kw: Sequence[float]) -> Plan:
    """Add a session placed elsewhere (another worker's planner), with the power it was given.

    Nothing is chosen: the power is taken as given (cleaned like :func:`build_plan`
    does), in O(slots) like :func:`place_session`. The caller keeps the limits: the
    placement it adopts was made against the same plan.

    Raises:
        ValueError: ``session`` is already planned, or its transformer unknown.
    """
    plan, grid, k = _indexed(plan, problem, session)
    table = SessionTable.of(problem.horizon, (session,), grid)
    power = np.zeros(problem.horizon.slot_count)
    given = np.asarray(power_kw, dtype=float)[: len(power)]
    power[: len(given)] = given
    power[~(power > POWER_EPS_KW) | (table.frac[0] <= 0.0)] = 0.0
    np.minimum(power, table.max_kw[0], out=power)
    delivered_wh = int(min(table.energy_wh[0], np.rint((power * table.frac[0]).sum() * grid.slot_hours * 1000)))
    return plan.with_row(session.session_id, power, delivered_wh, session.energy_wh, k)


def _indexed(plan: Plan, problem: Problem, session: SessionRequest) -> tuple[Plan, Grid, int]:
    """``plan`` on ``problem``'s arrays, and the grid row of ``session``'s transformer."""
    if session.session_id in plan:
        raise ValueError(f"session {session.session_id} is already planned")
    grid = plan.grid
    if grid is None or not grid.serves(problem):
        # A plan made for other arrays (read back, or built from dataclasses): index it
        # for this problem once; O(sessions), and every later placement is cheap again.
        plan = build_plan(problem, {p.session_id: p.power_kw for p in plan.sessions})
        grid = plan.grid
        assert grid is not None
    k = grid.index.get(session.transformer_id)
    if k is None:
        raise ValueError(f"session {session.session_id}: unknown transformer")
    return plan, grid, k


def _plan(problem: Problem, rounds: int, order: _Order) -> Plan:
    """Third-party sessions, then home sessions in ``order``: greedy, then exchanges."""
    grid = Grid.of(problem)
    table = SessionTable.of(problem.horizon, problem.sessions, grid)
    work = Work(grid, table)
    ids = np.array(table.ids)
    third = np.flatnonzero(table.third_party)
    third = third[np.lexsort((ids[third], table.end[third], table.begin[third]))]
    fill_in_order(work, third, asap=True)
    if rounds:
        lateness = np.array(lateness_per_kwh(problem.horizon.slot_count))
        _exchanges(work, third, lateness, 1.0, rounds)
    home = np.flatnonzero(~table.third_party)
    home = home[np.lexsort((ids[home], table.end[home], order(table, grid, home)))]
    fill_in_order(work, home, asap=False)
    if rounds:
        _exchanges(work, home, grid.prices, grid.penalty, rounds)
    return plan_from_arrays(problem, grid, table, work.power)


def _exchanges(work: Work, rows: Ints, prices: Floats, penalty: float, rounds: int) -> None:
    """The exchange pass per transformer, then per feeder where EVs fill a feeder.

    Across full feeders the pass has a long tail of rounds that each save little (one
    exchange per transformer and round, the feeder's room shared among them): on a
    large night it stops after a round that saved less than ``_TAIL_SHARE`` of the
    cost of the sessions there.
    """
    repair(work, rows, prices, penalty, max_rounds=rounds)
    grid = work.grid
    full = np.flatnonzero(((work.feeder_room <= _FULL_KW) & (grid.feeder_room_kw > _FULL_KW)).any(axis=1))
    on_full = rows[np.isin(grid.feeder_of[work.table.transformer[rows]], full)]
    if len(on_full):
        min_gain = 0.0
        if len(on_full) >= _TAIL_ROWS:
            kwh = (work.power[on_full] * work.table.frac[on_full]) @ prices * grid.slot_hours
            min_gain = _TAIL_SHARE * float(kwh.sum() + penalty * np.maximum(work.remaining[on_full], 0.0).sum())
        repair(work, on_full, prices, penalty, max_rounds=rounds, by_feeder=True, min_gain=min_gain)
