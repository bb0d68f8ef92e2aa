"""A problem as numpy arrays: what every vectorised step of the scheduler works on.

Private to the scheduler. :class:`Grid` holds the transformers, feeders and prices
(``K`` transformers, ``F`` limited feeders, ``T`` slots); :class:`SessionTable` the
sessions (``n`` rows). Slot windows are a dense ``n x T`` matrix of the share of each
slot inside the session's window, 0 outside: one multiplication turns power into
energy, and a comparison gives the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evgrid.scheduler.model import Feeder, Horizon, Problem, SessionRequest, Transformer

Floats = NDArray[np.float64]
Ints = NDArray[np.intp]
Bools = NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class Grid:
    """Transformers, limited feeders and prices of one problem, as arrays.

    Attributes:
        transformers: The problem's transformers (kept to recognise the same grid).
        feeders: The problem's feeders.
        index: Transformer id -> row.
        base_kw: ``K x T`` base load.
        capacity_kw: ``K`` ratings.
        room_kw: ``K x T`` what EVs may draw on an empty night: rating minus base
            load, never below zero (a base load above the rating leaves no room).
        feeder_of: ``K``: row of the transformer's limited feeder, or -1.
        feeder_ids: Ids of the limited feeders, by row.
        feeder_capacity_kw: ``F`` ratings of the limited feeders.
        feeder_base_kw: ``F x T`` summed base load of each limited feeder.
        feeder_room_kw: ``F x T`` what EVs may draw on it on an empty night.
        feeder_members: Transformer rows of each limited feeder.
        prices: ``T`` tariff per kWh, as float.
        price_rank: ``T`` rank of each price among the distinct prices (ties equal).
        penalty: Cost per unmet kWh, as float.
        slot_hours: Length of a slot in hours.
    """

    transformers: tuple[Transformer, ...]
    feeders: tuple[Feeder, ...]
    index: dict[str, int]
    base_kw: Floats
    capacity_kw: Floats
    room_kw: Floats
    feeder_of: Ints
    feeder_ids: tuple[str, ...]
    feeder_capacity_kw: Floats
    feeder_base_kw: Floats
    feeder_room_kw: Floats
    feeder_members: tuple[Ints, ...]
    prices: Floats
    price_rank: Floats
    penalty: float
    slot_hours: float

    @classmethod
    def of(cls, problem: Problem) -> Grid:
        """The arrays of ``problem``'s grid and prices (its sessions are not looked at)."""
        slots = problem.horizon.slot_count
        transformers = problem.transformers
        base = np.array([t.base_load_kw for t in transformers], dtype=float).reshape(len(transformers), slots)
        capacity = np.array([t.capacity_kw for t in transformers], dtype=float)
        limited = [f for f in problem.feeders if f.capacity_kw is not None]
        position = {f.feeder_id: j for j, f in enumerate(limited)}
        feeder_of = np.array(
            [position.get(t.feeder_id, -1) if t.feeder_id is not None else -1 for t in transformers], dtype=np.intp
        )
        feeder_capacity = np.array([f.capacity_kw for f in limited], dtype=float)
        feeder_base = np.zeros((len(limited), slots))
        np.add.at(feeder_base, feeder_of[feeder_of >= 0], base[feeder_of >= 0])
        prices = np.array([float(price) for price in problem.prices_per_kwh])
        return cls(
            transformers=transformers,
            feeders=problem.feeders,
            index={t.transformer_id: k for k, t in enumerate(transformers)},
            base_kw=base,
            capacity_kw=capacity,
            room_kw=np.maximum(0.0, capacity[:, None] - base),
            feeder_of=feeder_of,
            feeder_ids=tuple(f.feeder_id for f in limited),
            feeder_capacity_kw=feeder_capacity,
            feeder_base_kw=feeder_base,
            feeder_room_kw=np.maximum(0.0, feeder_capacity[:, None] - feeder_base),
            feeder_members=tuple(np.flatnonzero(feeder_of == j) for j in range(len(limited))),
            prices=prices,
            price_rank=np.unique(prices, return_inverse=True)[1].reshape(-1).astype(float),
            penalty=float(problem.penalty_per_kwh),
            slot_hours=problem.horizon.slot_hours,
        )

    def serves(self, problem: Problem) -> bool:
        """Whether these arrays are ``problem``'s (same objects: O(1), no comparison)."""
        return self.transformers is problem.transformers and self.feeders is problem.feeders


@dataclass(frozen=True, slots=True, eq=False)
class SessionTable:
    """Sessions as arrays, row ``i`` for ``sessions[i]``.

    Attributes:
        ids: Session ids.
        frac: ``n x T`` share of each slot inside the session's window (0 outside).
        begin: ``n`` arrival in slots from the horizon start, clipped to it.
        end: ``n`` departure in slots, clipped.
        energy_kwh: ``n`` energy wanted.
        energy_wh: ``n`` the same in integer Wh, as requested.
        max_kw: ``n`` power limit.
        transformer: ``n`` transformer row in the :class:`Grid`.
        third_party: ``n`` whether it charges as soon as possible.
    """

    ids: tuple[str, ...]
    frac: Floats
    begin: Floats
    end: Floats
    energy_kwh: Floats
    energy_wh: NDArray[np.int64]
    max_kw: Floats
    transformer: Ints
    third_party: Bools

    @classmethod
    def of(cls, horizon: Horizon, sessions: Sequence[SessionRequest], grid: Grid) -> SessionTable:
        """The arrays of ``sessions``; their transformers must be in ``grid``."""
        start, slot_seconds = horizon.start_utc, horizon.slot_minutes * 60.0
        arrival = np.array([(s.arrival_utc - start).total_seconds() for s in sessions], dtype=float)
        departure = np.array([(s.departure_utc - start).total_seconds() for s in sessions], dtype=float)
        begin, end, frac = windows(arrival / slot_seconds, departure / slot_seconds, horizon.slot_count)
        energy_wh = np.array([s.energy_wh for s in sessions], dtype=np.int64)
        return cls(
            ids=tuple(s.session_id for s in sessions),
            frac=frac,
            begin=begin,
            end=end,
            energy_kwh=energy_wh / 1000,
            energy_wh=energy_wh,
            max_kw=np.array([s.max_power_kw for s in sessions], dtype=float),
            transformer=np.array([grid.index[s.transformer_id] for s in sessions], dtype=np.intp),
            third_party=np.array([s.third_party for s in sessions], dtype=bool),
        )

    def __len__(self) -> int:
        """Number of sessions."""
        return len(self.ids)


def windows(arrival: Floats, departure: Floats, slot_count: int) -> tuple[Floats, Floats, Floats]:
    """Vectorised :meth:`~evgrid.scheduler.model.Horizon.window`, with the same float steps.

    Args:
        arrival: Arrivals in slots from the horizon start (fractional).
        departure: Departures, likewise.
        slot_count: Slots in the horizon.

    Returns:
        ``(begin, end, frac)``: the window clipped to the horizon and the share of
        every slot inside it (``n x slot_count``, 0 outside and for empty windows).
    """
    begin = np.maximum(arrival, 0.0)
    end = np.minimum(departure, float(slot_count))
    slots = np.arange(slot_count, dtype=float)
    frac = np.minimum(end[:, None], slots + 1.0) - np.maximum(begin[:, None], slots)
    frac[frac < 0.0] = 0.0
    frac[end <= begin] = 0.0
    return begin, end, frac
