"""Verify a plan against its problem, and price it.

:func:`violations` recomputes everything from the power arrays instead of trusting
the plan's own figures, so it can judge plans from any source: the heuristic, the
reference LP, a plan read back from a file. Both functions are vectorised: checking a
night of 100,000 sessions takes a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evgrid.scheduler.model import Problem
from evgrid.scheduler.plan import Plan
from evgrid.scheduler.tables import Floats, Grid, SessionTable

# Limits get a little slack for float sums (LP solutions carry ~1e-9 noise); energies
# are integers rounded from float kWh, hence one Wh.
POWER_TOLERANCE_KW = 1e-6
ENERGY_TOLERANCE_WH = 1


@dataclass(frozen=True, slots=True)
class PlanCost:
    """What a plan costs: energy at the slot prices plus the penalty for unmet energy.

    Floats, not Decimal: this is the figure plans are compared by, not an amount
    anyone is billed (settlement prices metered energy in Decimal).
    """

    energy_cost: float
    unmet_kwh: float
    penalty_cost: float

    @property
    def total(self) -> float:
        """Energy cost plus penalty."""
        return self.energy_cost + self.penalty_cost


def plan_cost(problem: Problem, plan: Plan) -> PlanCost:
    """Price ``plan``: every session's energy at its slot's price, plus the unmet penalty.

    Third-party energy is priced too, although price does not steer it, so that all
    plans of one problem compare on one scale.
    """
    grid, table, power = _aligned(problem, plan)
    kwh = power * table.frac * grid.slot_hours
    unmet = np.maximum(0.0, table.energy_kwh - kwh.sum(axis=1)).sum()
    return PlanCost(float((kwh @ grid.prices).sum()), float(unmet), float(unmet) * grid.penalty)


def max_utilisation(problem: Problem, plan: Plan) -> float:
    """The highest load over rating of any transformer or limited feeder in any slot.

    Above 1 only where a limit is exceeded, or where the base load alone exceeds it.
    """
    grid, table, power = _aligned(problem, plan)
    ev = _ev_load(grid, table, power)
    ratios = [((grid.base_kw + ev) / np.where(grid.capacity_kw > 0, grid.capacity_kw, np.inf)[:, None]).ravel()]
    if len(grid.feeder_ids):
        feeder_ev = np.zeros_like(grid.feeder_base_kw)
        on = grid.feeder_of >= 0
        np.add.at(feeder_ev, grid.feeder_of[on], ev[on])
        capacity = np.where(grid.feeder_capacity_kw > 0, grid.feeder_capacity_kw, np.inf)[:, None]
        ratios.append(((grid.feeder_base_kw + feeder_ev) / capacity).ravel())
    return float(np.concatenate(ratios).max(initial=0.0))


def violations(problem: Problem, plan: Plan) -> list[str]:
    """Every way ``plan`` breaks ``problem``'s rules; empty when the plan is valid.

    Checked: same horizon and sessions; power finite, within ``[0, max_power_kw]`` and
    zero outside the session's window; delivered energy not above the request and
    consistent with ``delivered_wh`` / ``unmet_wh``; every transformer's base plus EV
    load within its capacity (where the base load alone exceeds the capacity, no EV
    load at all), the same for every limited feeder, and the plan's transformer loads
    equal to what its sessions draw.
    """
    horizon = problem.horizon
    if plan.horizon != horizon:
        return [f"plan horizon {plan.horizon} is not the problem's {horizon}"]
    found: list[str] = []
    wanted = {s.session_id for s in problem.sessions}
    found.extend(f"session {sid}: in the plan, not in the problem" for sid in sorted(set(plan.session_ids) - wanted))
    grid, table, power = _aligned(problem, plan, missing=found)
    ids, slot_hours = table.ids, grid.slot_hours
    broken = ~np.isfinite(power) | (power < -POWER_TOLERANCE_KW)
    for row, slot in np.argwhere(broken).tolist():
        found.append(f"session {ids[row]}: slot {slot}: power {power[row, slot]} kW is not a non-negative number")
    clean = np.where(broken, 0.0, power)
    for row, slot in np.argwhere(clean > table.max_kw[:, None] + POWER_TOLERANCE_KW).tolist():
        found.append(f"session {ids[row]}: slot {slot}: {clean[row, slot]:.6f} kW > its {table.max_kw[row]} kW")
    for row, slot in np.argwhere((table.frac <= 0.0) & (clean > POWER_TOLERANCE_KW)).tolist():
        found.append(f"session {ids[row]}: slot {slot}: {clean[row, slot]:.6f} kW outside its window")
    clean[table.frac <= 0.0] = 0.0
    delivered = (clean * table.frac).sum(axis=1) * slot_hours * 1000
    present = np.array([sid in plan for sid in ids], dtype=bool)
    declared_delivered, declared_unmet = _declared(plan, table, present)
    for row in np.flatnonzero(present & (delivered > table.energy_wh + ENERGY_TOLERANCE_WH)).tolist():
        found.append(f"session {ids[row]}: delivers {delivered[row]:.1f} Wh, more than the {table.energy_wh[row]} Wh asked")
    for row in np.flatnonzero(present & (np.abs(declared_delivered - delivered) > ENERGY_TOLERANCE_WH)).tolist():
        found.append(
            f"session {ids[row]}: declares {declared_delivered[row]} Wh delivered, its power gives {delivered[row]:.1f} Wh"
        )
    for row in np.flatnonzero(present & (declared_unmet != table.energy_wh - declared_delivered)).tolist():
        found.append(f"session {ids[row]}: declares {declared_unmet[row]} Wh unmet of {table.energy_wh[row]} Wh asked")
    found.extend(_limit_problems(plan, grid, _ev_load(grid, table, clean)))
    return found


def _aligned(problem: Problem, plan: Plan, missing: list[str] | None = None) -> tuple[Grid, SessionTable, Floats]:
    """The problem's arrays and the plan's power in the problem's session order.

    Sessions missing from the plan get no power (and a line in ``missing``).
    """
    grid = plan.grid if plan.grid is not None and plan.grid.serves(problem) else Grid.of(problem)
    table = SessionTable.of(problem.horizon, problem.sessions, grid)
    if plan.session_ids == table.ids:
        return grid, table, plan.power_kw
    power = np.zeros(table.frac.shape)
    for row, sid in enumerate(table.ids):
        if sid in plan:
            power[row] = plan.power_kw[plan.row(sid)]
        elif missing is not None:
            missing.append(f"session {sid}: missing from the plan")
    return grid, table, power


def _declared(plan: Plan, table: SessionTable, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The plan's own delivered / unmet Wh, in the problem's order (0 where missing)."""
    if plan.session_ids == table.ids:
        return plan.delivered_wh, plan.unmet_wh
    delivered = np.zeros(len(table), np.int64)
    unmet = np.zeros(len(table), np.int64)
    for row in np.flatnonzero(present).tolist():
        at = plan.row(table.ids[row])
        delivered[row], unmet[row] = plan.delivered_wh[at], plan.unmet_wh[at]
    return delivered, unmet


def _ev_load(grid: Grid, table: SessionTable, power: Floats) -> Floats:
    ev = np.zeros_like(grid.base_kw)
    np.add.at(ev, table.transformer, np.where(table.frac > 0.0, power, 0.0))
    return ev


def _limit_problems(plan: Plan, grid: Grid, ev: Floats) -> list[str]:
    found = []
    ids = [t.transformer_id for t in grid.transformers]
    for k, slot in np.argwhere(ev > grid.room_kw + POWER_TOLERANCE_KW).tolist():
        found.append(
            f"transformer {ids[k]}: slot {slot}: base {grid.base_kw[k, slot]:.3f} + EV {ev[k, slot]:.3f} kW"
            f" exceeds {grid.capacity_kw[k]} kW"
        )
    # A plan the scheduler made derives its loads from its own power: only plans given
    # as dataclasses can declare loads that differ.
    declared = {t.transformer_id: t for t in plan.transformers} if plan.grid is None else {}
    slots = grid.base_kw.shape[1]
    for k, tid in enumerate(ids if plan.grid is None else ()):
        given = declared.get(tid)
        if (
            given is None
            or len(given.ev_load_kw) != slots
            or len(given.load_kw) != slots
            or not np.allclose(given.ev_load_kw, ev[k], rtol=0.0, atol=POWER_TOLERANCE_KW)
            or not np.allclose(given.load_kw, grid.base_kw[k] + ev[k], rtol=0.0, atol=POWER_TOLERANCE_KW)
        ):
            found.append(f"transformer {tid}: the plan's load is not what its sessions draw")
    if len(grid.feeder_ids):
        feeder_ev = np.zeros_like(grid.feeder_base_kw)
        on = grid.feeder_of >= 0
        np.add.at(feeder_ev, grid.feeder_of[on], ev[on])
        for j, slot in np.argwhere(feeder_ev > grid.feeder_room_kw + POWER_TOLERANCE_KW).tolist():
            found.append(
                f"feeder {grid.feeder_ids[j]}: slot {slot}: base {grid.feeder_base_kw[j, slot]:.3f}"
                f" + EV {feeder_ev[j, slot]:.3f} kW exceeds {grid.feeder_capacity_kw[j]} kW"
            )
    return found
