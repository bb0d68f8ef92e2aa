"""The greedy fill, vectorised across transformers.

Private to the scheduler. :class:`Work` is the mutable state of one assignment:
power per session and slot, energy still wanted, and the room left on every
transformer and limited feeder. :func:`fill_in_order` places sessions in a given
priority order; as transformers only meet through feeders, it places the first
session of every transformer at once, then the second of every transformer, and so
on: the same plan as one at a time wherever no feeder binds, in a few dozen numpy
operations per round instead of a Python loop per session and slot.
"""

from __future__ import annotations

import numpy as np

from evgrid.scheduler.tables import Bools, Floats, Grid, Ints, SessionTable

# Smaller remainders are float noise of the energy bookkeeping.
ENERGY_EPS_KWH = 1e-9
# Less power than this in a slot is not worth placing (and would only churn the plan).
MOVE_EPS_KW = 1e-6
# A round whose sessions oversubscribe a feeder is scaled down to fit and retried for
# what is left this many times; what still does not fit stays unmet (and valid).
_FEEDER_RETRIES = 4
# Home sessions wanting this many times a feeder's room in its cheapest slots fill it.
_BOUND_TO_FILL = 1.2


class Work:
    """Mutable state of one assignment (private: arrays indexed by row).

    Attributes:
        grid: The problem's grid.
        table: Its sessions.
        power: ``n x T`` power placed so far.
        remaining: ``n`` kWh still wanted.
        room: ``K x T`` what each transformer can still take.
        feeder_room: ``F x T`` what each limited feeder can still take.
    """

    __slots__ = ("_feeder_or_none", "_feeder_room_or_inf", "feeder_room", "grid", "power", "remaining", "room", "table")

    def __init__(self, grid: Grid, table: SessionTable) -> None:
        """An empty night: nobody placed, every limit's full room available."""
        self.grid, self.table = grid, table
        self.power = np.zeros(table.frac.shape)
        self.remaining = table.energy_kwh.copy()
        self.room = grid.room_kw.copy()
        # The feeders' room with one more row of unlimited room, for the transformers on
        # no limited feeder: one gather serves every transformer. feeder_room is a view
        # of it and only ever updated in place.
        slots = grid.room_kw.shape[1]
        self._feeder_room_or_inf = np.vstack([grid.feeder_room_kw, np.full((1, slots), np.inf)])
        self.feeder_room = self._feeder_room_or_inf[:-1]
        self._feeder_or_none = np.where(grid.feeder_of >= 0, grid.feeder_of, len(grid.feeder_ids))

    def available(self, ks: Ints) -> Floats:
        """What transformers ``ks`` and their feeders can still both take, per slot."""
        return np.minimum(self.room[ks], self._feeder_room_or_inf[self._feeder_or_none[ks]])

    def load(self, ks: Ints) -> Floats:
        """Base plus EV load of transformers ``ks`` (the diversity tie-break levels it)."""
        grid = self.grid
        return grid.base_kw[ks] + (grid.room_kw[ks] - self.room[ks])

    def add_many(self, rows: Ints, delta: Floats) -> None:
        """Like :meth:`add`, for rows that may share transformers."""
        ks = self.table.transformer[rows]
        self.power[rows] += delta
        self.remaining[rows] -= (delta * self.table.frac[rows]).sum(axis=1) * self.grid.slot_hours
        ev = np.zeros_like(self.room)
        np.add.at(ev, ks, delta)
        self.room = np.maximum(0.0, self.room - ev)
        on = self.grid.feeder_of >= 0
        np.subtract.at(self.feeder_room, self.grid.feeder_of[on], ev[on])
        np.maximum(self.feeder_room, 0.0, out=self.feeder_room)

    def add(self, rows: Ints, delta: Floats) -> None:
        """Add ``delta`` kW to ``rows`` (on distinct transformers) and book the room."""
        ks = self.table.transformer[rows]
        self.power[rows] += delta
        self.remaining[rows] -= (delta * self.table.frac[rows]).sum(axis=1) * self.grid.slot_hours
        self.room[ks] = np.maximum(0.0, self.room[ks] - delta)
        feeders = self.grid.feeder_of[ks]
        on = feeders >= 0
        if on.any():
            np.subtract.at(self.feeder_room, feeders[on], delta[on])
            np.maximum(self.feeder_room, 0.0, out=self.feeder_room)


def choose(
    avail: Floats, frac: Floats, max_kw: Floats, need_kwh: Floats, *,
    price_rank: Floats | None, allowed: Bools, load: Floats, slot_hours: float,
) -> Floats:  # fmt: skip
    """Each row's power per slot: its slots in order of preference, each as full as allowed.

    Args:
        avail: ``b x T`` room the limits leave each row.
        frac: ``b x T`` share of each slot inside the row's window.
        max_kw: ``b`` power limits.
        need_kwh: ``b`` energy to place.
        price_rank: ``T`` rank of each slot's price; None takes the slots in time
            order (as soon as possible).
        allowed: ``T`` slots the rows may use at all (home: not dearer than unmet).
        load: ``b x T`` transformer load, the tie-break between equally priced slots.
        slot_hours: Length of a slot in hours.

    Returns:
        ``b x T`` power, zero where nothing is placed.
    """
    cap = np.where((frac > 0.0) & allowed, np.minimum(avail, max_kw[:, None]), 0.0)
    cap[cap <= MOVE_EPS_KW] = 0.0
    per_kw = frac * slot_hours
    cap_kwh = cap * per_kw
    if price_rank is None:
        ordered = cap_kwh
    else:
        # At equal price a full slot first (a partial one turns the same room into fewer
        # kWh), then the least loaded: that water-fills the valley and staggers start
        # times (diversity) instead of starting everyone at the same instant.
        spread = load - load.min(axis=1, keepdims=True)
        spread /= spread.max(axis=1, keepdims=True) + 1.0
        key = price_rank * 4.0 + (frac < 1.0) * 2.0 + spread
        order = np.argsort(key, axis=1, kind="stable")
        ordered = np.take_along_axis(cap_kwh, order, axis=1)
    before = np.cumsum(ordered, axis=1) - ordered
    take = np.clip(need_kwh[:, None] - before, 0.0, ordered)
    if price_rank is not None:
        unsorted = np.empty_like(take)
        np.put_along_axis(unsorted, order, take, axis=1)
        take = unsorted
    power = np.where(take >= cap_kwh, cap, take / np.where(per_kw > 0.0, per_kw, 1.0))
    np.minimum(power, cap, out=power)
    power[power <= MOVE_EPS_KW] = 0.0
    return power


def fill_batch(work: Work, rows: Ints, *, asap: bool) -> None:
    """Place ``rows`` (sessions of distinct transformers) at once, feeders shared fairly.

    Where the rows together ask more of a feeder than it has, everyone's power there
    is scaled down to fit and the rows still short try again with what is left.
    """
    grid, table = work.grid, work.table
    price_rank = None if asap else grid.price_rank
    allowed = np.ones(grid.prices.shape, bool) if asap else grid.prices <= grid.penalty
    for _ in range(_FEEDER_RETRIES):
        ks = table.transformer[rows]
        power = choose(
            work.available(ks), table.frac[rows], table.max_kw[rows], work.remaining[rows],
            price_rank=price_rank, allowed=allowed, load=work.load(ks), slot_hours=grid.slot_hours,
        )  # fmt: skip
        feeders = grid.feeder_of[ks]
        on = feeders >= 0
        scaled = np.zeros(len(rows), bool)
        if on.sum() > 1:
            use = np.zeros_like(work.feeder_room)
            np.add.at(use, feeders[on], power[on])
            over = use > work.feeder_room
            if over.any():
                factor = np.where(over, work.feeder_room / np.where(use > 0.0, use, 1.0), 1.0)
                power[on] *= factor[feeders[on]]
                power[power <= MOVE_EPS_KW] = 0.0
                scaled[on] = (over[feeders[on]] & (power[on] > 0.0)).any(axis=1)
        work.add(rows, power)
        rows = rows[scaled & (work.remaining[rows] > ENERGY_EPS_KWH)]
        if not len(rows):
            break


def fill_in_order(work: Work, rows: Ints, *, asap: bool) -> None:
    """Place ``rows`` in this priority order.

    One round per rank within a transformer: the first session of every transformer
    at once, then the second, and so on. Where that fills a feeder in some slot, the
    feeder's transformers were not independent after all: its sessions are taken out
    again and placed in one round per rank within the feeder, so that the session with
    the fewest alternatives chooses first across the whole feeder. Home sessions of a
    feeder that is bound to fill (:func:`_bound_to_fill`) are placed that way at once.
    """
    if not len(rows):
        return
    grid = work.grid
    feeders = grid.feeder_of[work.table.transformer[rows]]
    bound = np.zeros(len(rows), bool) if asap else np.isin(feeders, _bound_to_fill(work, rows, feeders))
    before = work.feeder_room.copy()
    first = rows[~bound]
    _fill_rounds(work, first, work.table.transformer[first], asap=asap, before=before)
    saturated = np.flatnonzero(((work.feeder_room <= MOVE_EPS_KW) & (before > MOVE_EPS_KW)).any(axis=1))
    placed_again = first[np.isin(grid.feeder_of[work.table.transformer[first]], saturated)]
    work.add_many(placed_again, -work.power[placed_again])
    again = rows[bound | np.isin(feeders, saturated)]  # in priority order
    if len(again):
        _fill_rounds(work, again, grid.feeder_of[work.table.transformer[again]], asap=asap)


def _bound_to_fill(work: Work, rows: Ints, feeders: Ints) -> Ints:
    """Limited feeders whose ``rows`` want over 1.2 times the room of the cheapest slots.

    Home sessions take the cheapest slots first, so such a feeder fills there (on the
    synthetic nights the ratio is at most 1.1 where feeders do not bind). Placing its
    sessions by rank within the feeder at once saves the rounds by transformer that
    would be taken back. A feeder taken for full wrongly costs only time: where it does
    not bind, both ways give the same plan.
    """
    grid = work.grid
    allowed = grid.prices <= grid.penalty
    on = feeders >= 0
    if not (allowed.any() and on.any()):
        return np.zeros(0, np.intp)
    cheapest = allowed & (grid.prices == grid.prices[allowed].min())
    wanted = np.bincount(feeders[on], weights=work.remaining[rows[on]], minlength=len(grid.feeder_ids))
    room_kwh = work.feeder_room[:, cheapest].sum(axis=1) * grid.slot_hours
    return np.flatnonzero(wanted > _BOUND_TO_FILL * room_kwh)


def _fill_rounds(work: Work, rows: Ints, group: Ints, *, asap: bool, before: Floats | None = None) -> None:
    """Place ``rows`` in order, one round per rank within each ``group`` value.

    With ``before`` (the feeders' room before this fill), rows on a feeder that has
    become full are skipped in later rounds: the caller places that feeder's sessions
    again anyway, and the other feeders do not depend on it.
    """
    by_group = np.argsort(group, kind="stable")  # keeps the priority order within each
    sorted_groups = group[by_group]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    rank = np.empty(len(rows), np.intp)
    rank[by_group] = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    by_round = np.argsort(rank, kind="stable")
    bounds = np.flatnonzero(np.diff(rank[by_round])) + 1
    feeder_of = work.grid.feeder_of
    for batch in np.split(rows[by_round], bounds):
        if before is not None and len(before):
            saturated = np.r_[((work.feeder_room <= MOVE_EPS_KW) & (before > MOVE_EPS_KW)).any(axis=1), False]
            batch = batch[~saturated[feeder_of[work.table.transformer[batch]]]]
            if not len(batch):
                continue
        fill_batch(work, batch, asap=asap)
