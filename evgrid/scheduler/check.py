"""Verify a plan against its problem, and price it.

:func:`violations` recomputes everything from the power vectors instead of trusting
the plan's own figures, so it can judge plans from any source: the heuristic, the
reference LP, a plan read back from the database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evgrid.scheduler.model import Plan, Problem, SessionPlan

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
    horizon = problem.horizon
    prices = [float(price) for price in problem.prices_per_kwh]
    plans = {p.session_id: p for p in plan.sessions}
    energy_cost = 0.0
    unmet_kwh = 0.0
    for session in problem.sessions:
        power = plans[session.session_id].power_kw
        first, fractions = horizon.window(session.arrival_utc, session.departure_utc)
        delivered_kwh = 0.0
        for offset, fraction in enumerate(fractions):
            kwh = power[first + offset] * fraction * horizon.slot_hours
            delivered_kwh += kwh
            energy_cost += prices[first + offset] * kwh
        unmet_kwh += max(0.0, session.energy_wh / 1000 - delivered_kwh)
    return PlanCost(energy_cost, unmet_kwh, unmet_kwh * float(problem.penalty_per_kwh))


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
    plans = {p.session_id: p for p in plan.sessions}
    wanted = {s.session_id for s in problem.sessions}
    found.extend(f"session {sid}: in the plan, not in the problem" for sid in sorted(plans.keys() - wanted))
    ev_load = {t.transformer_id: [0.0] * horizon.slot_count for t in problem.transformers}
    for session in problem.sessions:
        sid = session.session_id
        session_plan = plans.get(sid)
        if session_plan is None:
            found.append(f"session {sid}: missing from the plan")
            continue
        power = session_plan.power_kw
        if len(power) != horizon.slot_count:
            found.append(f"session {sid}: {len(power)} power values for {horizon.slot_count} slots")
            continue
        first, fractions = horizon.window(session.arrival_utc, session.departure_utc)
        delivered_wh = 0.0
        load = ev_load[session.transformer_id]
        for slot, value in enumerate(power):
            if not math.isfinite(value) or value < -POWER_TOLERANCE_KW:
                found.append(f"session {sid}: slot {slot}: power {value} kW is not a non-negative number")
                continue
            if value > session.max_power_kw + POWER_TOLERANCE_KW:
                found.append(f"session {sid}: slot {slot}: {value:.6f} kW > its {session.max_power_kw} kW")
            if not first <= slot < first + len(fractions):
                if value > POWER_TOLERANCE_KW:
                    found.append(f"session {sid}: slot {slot}: {value:.6f} kW outside its window")
                continue
            load[slot] += value
            delivered_wh += value * fractions[slot - first] * horizon.slot_hours * 1000
        found.extend(_energy_problems(session.energy_wh, delivered_wh, session_plan))
    found.extend(_limit_problems(problem, plan, ev_load))
    return found


def _energy_problems(wanted_wh: int, delivered_wh: float, declared: SessionPlan) -> list[str]:
    sid = declared.session_id
    found = []
    if delivered_wh > wanted_wh + ENERGY_TOLERANCE_WH:
        found.append(f"session {sid}: delivers {delivered_wh:.1f} Wh, more than the {wanted_wh} Wh asked")
    if abs(declared.delivered_wh - delivered_wh) > ENERGY_TOLERANCE_WH:
        found.append(
            f"session {sid}: declares {declared.delivered_wh} Wh delivered,"
            f" its power gives {delivered_wh:.1f} Wh"
        )
    if declared.unmet_wh != wanted_wh - declared.delivered_wh:
        found.append(f"session {sid}: declares {declared.unmet_wh} Wh unmet of {wanted_wh} Wh asked")
    return found


def _limit_problems(problem: Problem, plan: Plan, ev_load: dict[str, list[float]]) -> list[str]:
    found = []
    declared = {t.transformer_id: t for t in plan.transformers}
    slots = problem.horizon.slot_count
    feeder_base: dict[str, list[float]] = {}
    feeder_ev: dict[str, list[float]] = {}
    for transformer in problem.transformers:
        tid = transformer.transformer_id
        ev = ev_load[tid]
        base = transformer.base_load_kw
        for slot in range(slots):
            if ev[slot] > max(0.0, transformer.capacity_kw - base[slot]) + POWER_TOLERANCE_KW:
                found.append(
                    f"transformer {tid}: slot {slot}: base {base[slot]:.3f} + EV {ev[slot]:.3f} kW"
                    f" exceeds {transformer.capacity_kw} kW"
                )
        given = declared.get(tid)
        if (
            given is None
            or len(given.ev_load_kw) != slots
            or len(given.load_kw) != slots
            or any(abs(given.ev_load_kw[t] - ev[t]) > POWER_TOLERANCE_KW for t in range(slots))
            or any(abs(given.load_kw[t] - base[t] - ev[t]) > POWER_TOLERANCE_KW for t in range(slots))
        ):
            found.append(f"transformer {tid}: the plan's load is not what its sessions draw")
        if transformer.feeder_id is not None:
            total_base = feeder_base.setdefault(transformer.feeder_id, [0.0] * slots)
            total_ev = feeder_ev.setdefault(transformer.feeder_id, [0.0] * slots)
            for slot in range(slots):
                total_base[slot] += base[slot]
                total_ev[slot] += ev[slot]
    for feeder in problem.feeders:
        if feeder.capacity_kw is None or feeder.feeder_id not in feeder_base:
            continue
        base_sum, ev_sum = feeder_base[feeder.feeder_id], feeder_ev[feeder.feeder_id]
        for slot in range(slots):
            if ev_sum[slot] > max(0.0, feeder.capacity_kw - base_sum[slot]) + POWER_TOLERANCE_KW:
                found.append(
                    f"feeder {feeder.feeder_id}: slot {slot}: base {base_sum[slot]:.3f}"
                    f" + EV {ev_sum[slot]:.3f} kW exceeds {feeder.capacity_kw} kW"
                )
    return found
