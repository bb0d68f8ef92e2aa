"""The scheduler's answer (step 2.2): power per slot for every session, numpy-backed.

A :class:`Plan` is an immutable snapshot. Its rows live in a shared, append-only
store: placing one more session (online, step 2.2 during the night) appends a row and
returns a new snapshot that sees one row more, in O(slots), while the old snapshot
still sees exactly what it saw. Only appending to a snapshot that is no longer the
newest (a placement that was discarded) copies the store, once. The per-session
dataclasses (:class:`SessionPlan`) and per-transformer loads (:class:`TransformerLoad`)
are made on demand from the arrays.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from evgrid.scheduler.model import POWER_EPS_KW, Horizon, Problem
from evgrid.scheduler.tables import Floats, Grid, Ints, SessionTable


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """The power assigned to one session, per slot of the whole horizon."""

    session_id: str
    power_kw: tuple[float, ...]
    delivered_wh: int
    unmet_wh: int

    @property
    def start_slot(self) -> int | None:
        """First slot with power, i.e. when the portal closes the contactor (step 2.3)."""
        return next((slot for slot, power in enumerate(self.power_kw) if power > 0), None)

    @property
    def end_slot(self) -> int | None:
        """One past the last slot with power; the plan may pause in between."""
        last = next((slot for slot in range(len(self.power_kw) - 1, -1, -1) if self.power_kw[slot] > 0), None)
        return None if last is None else last + 1


@dataclass(frozen=True, slots=True)
class TransformerLoad:
    """Load of one transformer per slot: the EV part and the total with the base load."""

    transformer_id: str
    ev_load_kw: tuple[float, ...]
    load_kw: tuple[float, ...]


class _Rows:
    """Append-only rows shared by the snapshots of one lineage of plans."""

    __slots__ = ("by_transformer", "delivered_wh", "energy_wh", "ids", "index", "lock", "power", "size", "transformer")

    def __init__(
        self, ids: list[str], power: Floats, delivered_wh: np.ndarray, energy_wh: np.ndarray, transformer: Ints
    ) -> None:
        self.ids = ids
        self.power = power
        self.delivered_wh = delivered_wh
        self.energy_wh = energy_wh
        self.transformer = transformer  # row in the plan's Grid, -1 when the plan has none
        self.size = len(ids)
        self.index: dict[str, int] | None = None  # built on first use: assign_slots never needs it
        self.by_transformer: dict[int, list[int]] | None = None
        self.lock = threading.Lock()

    def id_index(self) -> dict[str, int]:
        if self.index is None:
            self.index = {sid: row for row, sid in enumerate(self.ids)}
        return self.index

    def rows_of(self, k: int, count: int) -> list[int]:
        """Rows < ``count`` on transformer ``k`` (rows are appended in order, so a prefix)."""
        if self.by_transformer is None:
            groups: dict[int, list[int]] = {}
            for row, key in enumerate(self.transformer[: self.size].tolist()):
                groups.setdefault(key, []).append(row)
            self.by_transformer = groups
        rows = self.by_transformer.get(k, [])
        return rows[: bisect_left(rows, count)]

    def prefix(self, count: int) -> _Rows:
        """A private copy of the first ``count`` rows (a snapshot branching off)."""
        return _Rows(
            self.ids[:count], self.power[:count].copy(), self.delivered_wh[:count].copy(),
            self.energy_wh[:count].copy(), self.transformer[:count].copy(),
        )  # fmt: skip

    def append(self, session_id: str, power: Floats, delivered_wh: int, energy_wh: int, k: int) -> None:
        if self.size == len(self.power):  # grow by doubling: O(1) amortised per row
            capacity = max(16, 2 * self.size)
            for name in ("power", "delivered_wh", "energy_wh", "transformer"):
                old = getattr(self, name)
                new = np.zeros((capacity, *old.shape[1:]), dtype=old.dtype)
                new[: self.size] = old[: self.size]
                setattr(self, name, new)
        row = self.size
        self.power[row] = power
        self.delivered_wh[row], self.energy_wh[row], self.transformer[row] = delivered_wh, energy_wh, k
        self.ids.append(session_id)
        if self.index is not None:
            self.index[session_id] = row
        if self.by_transformer is not None:
            self.by_transformer.setdefault(k, []).append(row)
        self.size = row + 1


class Plan:
    """Power per slot for every session of one horizon; an immutable snapshot.

    Build one with :func:`build_plan` or the scheduler's functions; ``Plan(horizon,
    sessions, transformers)`` makes one from dataclasses as given, unchecked (for
    plans from elsewhere, which :func:`~evgrid.scheduler.check.violations` judges).

    Attributes:
        horizon: The night planned.
    """

    __slots__ = ("_cache", "_count", "_grid", "_loads", "_rows", "horizon")

    def __init__(
        self, horizon: Horizon, sessions: Sequence[SessionPlan], transformers: Sequence[TransformerLoad] = ()
    ) -> None:
        """A plan from per-session dataclasses, taken as they are.

        Raises:
            ValueError: A power vector is not one value per slot.
        """
        slots = horizon.slot_count
        if any(len(s.power_kw) != slots for s in sessions):
            raise ValueError(f"every session plan needs {slots} power values")
        power = np.array([s.power_kw for s in sessions], dtype=float).reshape(len(sessions), slots)
        delivered = np.array([s.delivered_wh for s in sessions], dtype=np.int64)
        energy = delivered + np.array([s.unmet_wh for s in sessions], dtype=np.int64)
        rows = _Rows([s.session_id for s in sessions], power, delivered, energy, np.full(len(sessions), -1, np.intp))
        self._init(horizon, rows, len(sessions), None, tuple(transformers))

    def _init(
        self, horizon: Horizon, rows: _Rows, count: int, grid: Grid | None, loads: tuple[TransformerLoad, ...] | None
    ) -> None:
        self.horizon = horizon
        self._rows, self._count, self._grid, self._loads = rows, count, grid, loads
        self._cache: tuple[SessionPlan, ...] | None = None

    @classmethod
    def _of(cls, horizon: Horizon, rows: _Rows, count: int, grid: Grid) -> Plan:
        plan = cls.__new__(cls)
        plan._init(horizon, rows, count, grid, None)
        return plan

    # --- the arrays ---------------------------------------------------------------

    @property
    def session_ids(self) -> tuple[str, ...]:
        """Session ids, in row order."""
        return tuple(self._rows.ids[: self._count])

    @property
    def power_kw(self) -> Floats:
        """``sessions x slots`` power, read-only."""
        view = self._rows.power[: self._count]
        view.flags.writeable = False
        return view

    @property
    def delivered_wh(self) -> np.ndarray:
        """Energy each session gets, Wh, in row order (read-only)."""
        view = self._rows.delivered_wh[: self._count]
        view.flags.writeable = False
        return view

    @property
    def unmet_wh(self) -> np.ndarray:
        """Energy asked and not planned, Wh, in row order."""
        return self._rows.energy_wh[: self._count] - self._rows.delivered_wh[: self._count]

    # --- the dataclass view ------------------------------------------------------------

    @property
    def sessions(self) -> tuple[SessionPlan, ...]:
        """Every session's plan (made on first use: O(sessions x slots))."""
        if self._cache is None:
            self._cache = tuple(self._session_at(row) for row in range(self._count))
        return self._cache

    def session(self, session_id: str) -> SessionPlan:
        """The plan of one session.

        Raises:
            KeyError: No such session in the plan.
        """
        return self._session_at(self.row(session_id))

    def row(self, session_id: str) -> int:
        """The row of a session in the arrays.

        Raises:
            KeyError: No such session in the plan.
        """
        row = self._rows.id_index().get(session_id, self._count)
        if row >= self._count:
            raise KeyError(session_id)
        return row

    def __contains__(self, session_id: object) -> bool:
        """Whether the plan has this session."""
        return isinstance(session_id, str) and self._rows.id_index().get(session_id, self._count) < self._count

    def __len__(self) -> int:
        """Number of sessions."""
        return self._count

    def start_utc(self, session_id: str) -> datetime | None:
        """When the session starts charging, or None when it gets no energy."""
        slot = self.session(session_id).start_slot
        return None if slot is None else self.horizon.slot_start_utc(slot)

    @property
    def transformers(self) -> tuple[TransformerLoad, ...]:
        """Load of every transformer of the problem, EV part and total (made on first use)."""
        if self._loads is None:
            grid = self._grid
            assert grid is not None  # plans without a grid are given their loads
            ev = self.ev_load_kw()
            self._loads = tuple(
                TransformerLoad(t.transformer_id, tuple(ev[k].tolist()), tuple((grid.base_kw[k] + ev[k]).tolist()))
                for k, t in enumerate(grid.transformers)
            )
        return self._loads

    def ev_load_kw(self) -> Floats:
        """EV load of every transformer of the plan's grid, ``K x T``."""
        grid, rows = self._grid, self._rows
        assert grid is not None
        ev = np.zeros_like(grid.base_kw)
        np.add.at(ev, rows.transformer[: self._count], rows.power[: self._count])
        return ev

    def _session_at(self, row: int) -> SessionPlan:
        rows = self._rows
        delivered = int(rows.delivered_wh[row])
        return SessionPlan(rows.ids[row], tuple(rows.power[row].tolist()), delivered, int(rows.energy_wh[row]) - delivered)

    # --- growing ---------------------------------------------------------------------

    @property
    def grid(self) -> Grid | None:
        """The arrays of the problem this plan was made for (None when made from dataclasses)."""
        return self._grid

    def ev_load_of(self, ks: Ints) -> Floats:
        """Summed EV load of transformer rows ``ks`` (a feeder), in O(their sessions x slots)."""
        rows = self._rows
        picked = [row for k in ks.tolist() for row in rows.rows_of(k, self._count)]
        return rows.power[picked].sum(axis=0)

    def with_row(self, session_id: str, power: Floats, delivered_wh: int, energy_wh: int, k: int) -> Plan:
        """This plan with one more session (O(slots): the rows are shared, see the module).

        The caller (online placement) has checked that the session is new and its
        power within every limit.
        """
        assert self._grid is not None
        rows = self._rows
        with rows.lock:
            if rows.size != self._count:
                rows = rows.prefix(self._count)
            rows.append(session_id, power, delivered_wh, energy_wh, k)
        return Plan._of(self.horizon, rows, self._count + 1, self._grid)

    def without(self, session_id: str) -> Plan:
        """This plan less one session (O(sessions): it copies the rows).

        Raises:
            KeyError: No such session in the plan.
        """
        assert self._grid is not None
        drop = self.row(session_id)
        keep = np.arange(self._count) != drop
        rows = self._rows
        kept = _Rows(
            [sid for sid, k in zip(rows.ids[: self._count], keep.tolist(), strict=True) if k],
            rows.power[: self._count][keep], rows.delivered_wh[: self._count][keep],
            rows.energy_wh[: self._count][keep], rows.transformer[: self._count][keep],
        )  # fmt: skip
        return Plan._of(self.horizon, kept, self._count - 1, self._grid)

    def __eq__(self, other: object) -> bool:
        """Same horizon, sessions, power, energies and loads."""
        if not isinstance(other, Plan):
            return NotImplemented
        return (
            self.horizon == other.horizon
            and self.session_ids == other.session_ids
            and np.array_equal(self.power_kw, other.power_kw)
            and np.array_equal(self.delivered_wh, other.delivered_wh)
            and np.array_equal(self.unmet_wh, other.unmet_wh)
            and self.transformers == other.transformers
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking arrays: not hashable

    def __repr__(self) -> str:
        """Short: the arrays would drown the rest."""
        return f"Plan({self.horizon!r}, {self._count} sessions)"


def plan_from_arrays(problem: Problem, grid: Grid, table: SessionTable, power: Floats) -> Plan:
    """A plan of ``problem`` from its ``n x T`` power matrix (rows in the problem's order).

    Power below :data:`~evgrid.scheduler.model.POWER_EPS_KW` or outside a session's
    window is dropped and power above its maximum clipped, so solver noise never
    reaches the plan; ``power`` becomes the plan's (it is not copied).
    """
    power[~(power > POWER_EPS_KW) | (table.frac <= 0.0)] = 0.0  # NaN too
    np.minimum(power, table.max_kw[:, None], out=power)
    energy_wh = (power * table.frac).sum(axis=1) * (grid.slot_hours * 1000)
    delivered = np.minimum(table.energy_wh, np.rint(energy_wh).astype(np.int64))
    rows = _Rows(list(table.ids), power, delivered, table.energy_wh.copy(), table.transformer.copy())
    return Plan._of(problem.horizon, rows, len(table), grid)


def build_plan(problem: Problem, powers_kw: Mapping[str, Sequence[float]]) -> Plan:
    """Make a :class:`Plan` from per-session power vectors, with energies and loads.

    Args:
        problem: The problem the powers solve.
        powers_kw: Session id -> power per slot of the whole horizon; sessions
            missing here get no power. Cleaned as :func:`plan_from_arrays` says.

    Returns:
        The plan, sessions in the problem's order.
    """
    grid = Grid.of(problem)
    table = SessionTable.of(problem.horizon, problem.sessions, grid)
    slots = problem.horizon.slot_count
    power = np.zeros((len(table), slots))
    for row, sid in enumerate(table.ids):
        given = powers_kw.get(sid)
        if given is not None and len(given):
            values = np.asarray(given, dtype=float)[:slots]
            power[row, : len(values)] = values
    return plan_from_arrays(problem, grid, table, power)


def empty_plan(problem: Problem) -> Plan:
    """The plan of ``problem`` where nobody gets power."""
    return build_plan(problem, {})
