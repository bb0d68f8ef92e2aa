"""The reference optimum: the slot assignment as a linear program (scipy, HiGHS).

Only tests and benchmarks import this module; scipy is a test extra, imported here
and nowhere else in evgrid.

The program is solved in two stages, because third-party sessions have priority
(use-case 3.x: quick charge as soon as possible, not deferred to the night rate) and a
single weighted objective would trade their earliness against home costs:

1. third-party sessions alone: minimise unmet kWh, then lateness, with a cost per kWh
   of ``(slot + 1) / (2 * (slot_count + 1))`` (always below the unit cost of unmet
   energy, so delivering wins and earlier wins);
2. home sessions in the headroom the third-party sessions leave: minimise
   ``sum(price[t] * kWh[s, t]) + penalty * unmet kWh``.

Variables are the power ``p[s, t]`` (kW) in every slot of each session's window, bounded
by ``[0, max_power_kw]``, and the unmet energy ``u[s]`` (kWh) in ``[0, energy]``.
Rows: ``sum_t slot_hours * fraction[s, t] * p[s, t] + u[s] = energy[s]`` per session,
``sum_{s on k} p[s, t] <= capacity_k - base_k[t]`` per transformer and slot, and the same
summed over a feeder's transformers per feeder and slot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_array

from evgrid.scheduler.model import (
    Plan,
    Problem,
    SessionRequest,
    build_plan,
    lateness_per_kwh,
)

_Headroom = list[list[float]]


def reference_plan(problem: Problem) -> Plan:
    """Solve ``problem`` to optimality (third-party stage, then home stage).

    Args:
        problem: The night to plan.

    Returns:
        The optimal plan (any optimal vertex: the LP has no diversity tie-break).

    Raises:
        RuntimeError: HiGHS did not report an optimal solution.
    """
    slots = problem.horizon.slot_count
    transformer_index = {t.transformer_id: k for k, t in enumerate(problem.transformers)}
    feeder_capacity = {f.feeder_id: f.capacity_kw for f in problem.feeders if f.capacity_kw is not None}
    feeder_members: dict[str, list[int]] = {feeder_id: [] for feeder_id in feeder_capacity}
    for k, transformer in enumerate(problem.transformers):
        if transformer.feeder_id in feeder_members:
            feeder_members[transformer.feeder_id].append(k)
    feeders = list(feeder_members.values())
    transformer_room = [
        [max(0.0, t.capacity_kw - base) for base in t.base_load_kw] for t in problem.transformers
    ]
    feeder_room = [
        [
            max(0.0, capacity - sum(problem.transformers[k].base_load_kw[slot] for k in members))
            for slot in range(slots)
        ]
        for (capacity, members) in zip(feeder_capacity.values(), feeders, strict=True)
    ]
    prices = [float(price) for price in problem.prices_per_kwh]
    lateness = lateness_per_kwh(slots)

    third = [s for s in problem.sessions if s.third_party]
    home = [s for s in problem.sessions if not s.third_party]
    powers = _solve_stage(
        problem, third, lateness.__getitem__, 1.0,
        transformer_index, feeders, transformer_room, feeder_room,
    )  # fmt: skip
    _subtract(powers, third, transformer_index, feeders, transformer_room, feeder_room)
    powers |= _solve_stage(
        problem, home, prices.__getitem__, float(problem.penalty_per_kwh),
        transformer_index, feeders, transformer_room, feeder_room,
    )  # fmt: skip
    return build_plan(problem, powers)


def _solve_stage(
    problem: Problem,
    sessions: Sequence[SessionRequest],
    cost_per_kwh: Callable[[int], float],
    unmet_cost_per_kwh: float,
    transformer_index: dict[str, int],
    feeders: list[list[int]],
    transformer_room: _Headroom,
    feeder_room: _Headroom,
) -> dict[str, list[float]]:
    """Solve one stage; returns session id -> power per slot of the horizon."""
    if not sessions:
        return {}
    horizon = problem.horizon
    slots, slot_hours = horizon.slot_count, horizon.slot_hours
    feeder_of = {k: j for j, members in enumerate(feeders) for k in members}
    transformer_rows = len(transformer_room) * slots

    cost: list[float] = []
    upper: list[float] = []
    eq_rows: list[int] = []
    eq_cols: list[int] = []
    eq_data: list[float] = []
    ub_rows: list[int] = []
    ub_cols: list[int] = []
    windows: list[tuple[int, int, int]] = []  # (first slot, first column, width)
    for row, session in enumerate(sessions):
        first, fractions = horizon.window(session.arrival_utc, session.departure_utc)
        windows.append((first, len(cost), len(fractions)))
        k = transformer_index[session.transformer_id]
        for offset, fraction in enumerate(fractions):
            slot, column = first + offset, len(cost)
            cost.append(cost_per_kwh(slot) * slot_hours * fraction)
            upper.append(session.max_power_kw)
            eq_rows.append(row)
            eq_cols.append(column)
            eq_data.append(slot_hours * fraction)
            ub_rows.append(k * slots + slot)
            ub_cols.append(column)
            if k in feeder_of:
                ub_rows.append(transformer_rows + feeder_of[k] * slots + slot)
                ub_cols.append(column)
    power_columns = len(cost)
    for row, session in enumerate(sessions):
        eq_rows.append(row)
        eq_cols.append(len(cost))
        eq_data.append(1.0)
        cost.append(unmet_cost_per_kwh)
        upper.append(session.energy_wh / 1000)

    columns = len(cost)
    a_eq = coo_array((eq_data, (eq_rows, eq_cols)), shape=(len(sessions), columns)).tocsr()
    a_ub = coo_array(
        (np.ones(len(ub_rows)), (ub_rows, ub_cols)),
        shape=(transformer_rows + len(feeders) * slots, columns),
    ).tocsr()
    b_ub = np.array([room for rooms in (*transformer_room, *feeder_room) for room in rooms])
    b_eq = np.array([session.energy_wh / 1000 for session in sessions])
    result = linprog(
        np.array(cost),
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=np.column_stack([np.zeros(columns), np.array(upper)]),
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"HiGHS did not solve the reference LP: {result.message}")
    solution = np.asarray(result.x)[:power_columns]

    powers: dict[str, list[float]] = {}
    for session, (first, column, width) in zip(sessions, windows, strict=True):
        power = [0.0] * slots
        power[first : first + width] = solution[column : column + width].tolist()
        powers[session.session_id] = power
    return powers


def _subtract(
    powers: dict[str, list[float]],
    sessions: Sequence[SessionRequest],
    transformer_index: dict[str, int],
    feeders: list[list[int]],
    transformer_room: _Headroom,
    feeder_room: _Headroom,
) -> None:
    """Take the powers of ``sessions`` out of the headroom, in place."""
    feeder_of = {k: j for j, members in enumerate(feeders) for k in members}
    for session in sessions:
        k = transformer_index[session.transformer_id]
        for slot, power in enumerate(powers[session.session_id]):
            if power > 0:
                transformer_room[k][slot] = max(0.0, transformer_room[k][slot] - power)
                if k in feeder_of:
                    room = feeder_room[feeder_of[k]]
                    room[slot] = max(0.0, room[slot] - power)
