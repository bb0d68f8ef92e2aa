"""The reference optimum: the slot assignment as a linear program (scipy, HiGHS).

Only tests, benchmarks and ``evgrid plan --algorithm highs`` import this module;
scipy is a test extra, imported here and nowhere else in evgrid.

The program is solved in two stages, because third-party sessions have priority
(use-case 3.x: quick charge as soon as possible, not deferred to the night rate) and a
single weighted objective would trade their earliness against home costs:

1. third-party sessions alone: minimise unmet kWh, then lateness, with a cost per kWh
   of ``(slot + 1) / (2 * (slot_count + 1))`` (always below the unit cost of unmet
   energy, so delivering wins and earlier wins);
2. home sessions in the room the third-party sessions leave: minimise
   ``sum(price[t] * kWh[s, t]) + penalty * unmet kWh``.

Variables are the power ``p[s, t]`` (kW) in every slot of each session's window, bounded
by ``[0, max_power_kw]``, and the unmet energy ``u[s]`` (kWh) in ``[0, energy]``.
Rows: ``sum_t slot_hours * fraction[s, t] * p[s, t] + u[s] = energy[s]`` per session,
``sum_{s on k} p[s, t] <= capacity_k - base_k[t]`` per transformer and slot, and the same
summed over a feeder's transformers per feeder and slot. The matrices are built with
numpy, so the time measured is HiGHS's, not Python's.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_array

from evgrid.scheduler.model import Problem, lateness_per_kwh
from evgrid.scheduler.plan import Plan, plan_from_arrays
from evgrid.scheduler.tables import Floats, Grid, Ints, SessionTable


def reference_plan(problem: Problem) -> Plan:
    """Solve ``problem`` to optimality (third-party stage, then home stage).

    Args:
        problem: The night to plan.

    Returns:
        The optimal plan (any optimal vertex: the LP has no diversity tie-break).

    Raises:
        RuntimeError: HiGHS did not report an optimal solution.
    """
    grid = Grid.of(problem)
    table = SessionTable.of(problem.horizon, problem.sessions, grid)
    power = np.zeros(table.frac.shape)
    room, feeder_room = grid.room_kw.copy(), grid.feeder_room_kw.copy()
    lateness = np.array(lateness_per_kwh(problem.horizon.slot_count))
    for rows, prices, unmet_cost in (
        (np.flatnonzero(table.third_party), lateness, 1.0),
        (np.flatnonzero(~table.third_party), grid.prices, grid.penalty),
    ):
        stage = _solve_stage(grid, table, rows, prices, unmet_cost, room, feeder_room)
        power[rows] = stage
        # What this stage draws is no longer there for the next one.
        ev = np.zeros_like(room)
        np.add.at(ev, table.transformer[rows], stage)
        room = np.maximum(0.0, room - ev)
        on = grid.feeder_of >= 0
        feeder_ev = np.zeros_like(feeder_room)
        np.add.at(feeder_ev, grid.feeder_of[on], ev[on])
        feeder_room = np.maximum(0.0, feeder_room - feeder_ev)
    return plan_from_arrays(problem, grid, table, power)


def _solve_stage(
    grid: Grid, table: SessionTable, rows: Ints, prices: Floats, unmet_cost: float,
    room: Floats, feeder_room: Floats,
) -> Floats:  # fmt: skip
    """Solve one stage; returns the power of ``rows`` (``len(rows) x T``)."""
    slots = room.shape[1]
    if not len(rows):
        return np.zeros((0, slots))
    hours = grid.slot_hours
    frac = table.frac[rows]
    session, slot = np.nonzero(frac)  # one column per slot inside a window, row-major
    columns = len(session)
    share = frac[session, slot]
    k = table.transformer[rows][session]
    feeder = grid.feeder_of[k]
    on = feeder >= 0
    transformer_rows = room.shape[0] * slots
    n = len(rows)
    cost = np.r_[prices[slot] * hours * share, np.full(n, unmet_cost)]
    upper = np.r_[table.max_kw[rows][session], table.energy_kwh[rows]]
    a_eq = coo_array(
        (np.r_[hours * share, np.ones(n)], (np.r_[session, np.arange(n)], np.r_[np.arange(columns), columns + np.arange(n)])),
        shape=(n, columns + n),
    ).tocsr()
    ub_rows = np.r_[k * slots + slot, transformer_rows + feeder[on] * slots + slot[on]]
    ub_cols = np.r_[np.arange(columns), np.arange(columns)[on]]
    a_ub = coo_array(
        (np.ones(len(ub_rows)), (ub_rows, ub_cols)), shape=(transformer_rows + feeder_room.size, columns + n)
    ).tocsr()
    result = linprog(
        cost,
        A_ub=a_ub,
        b_ub=np.r_[room.ravel(), feeder_room.ravel()],
        A_eq=a_eq,
        b_eq=table.energy_kwh[rows],
        bounds=np.column_stack([np.zeros(columns + n), upper]),
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"HiGHS did not solve the reference LP: {result.message}")
    power = np.zeros((n, slots))
    power[session, slot] = np.asarray(result.x)[:columns]
    return power
