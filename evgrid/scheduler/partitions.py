"""The grid planned in partitions over a rolling horizon: any hour of the day, one feeder at a time.

Partitions: a transformer belongs to at most one feeder; a feeder with its transformers,
or a transformer without a feeder, is a partition. No limit crosses a partition, so each
is planned on its own (a :class:`~evgrid.scheduler.planner.WindowPlanner`), placing a
session reads only its partition, and two requests on different partitions never wait
for each other (in a scale-out worker the plan lock and log are per partition too:
:mod:`evgrid.adapters.store.plan_log`). A partition is opened the first time it is used.

Time: a rolling horizon (:class:`RollingHorizon`). Windows start every ``roll`` from an
anchor and last ``roll + ahead``, so the window open at any moment covers at least
``ahead`` (24 hours by default) from it: a request at 13:00 is placed as well as one at
22:00. A partition's planner moves to the next window the first time it is used after
the roll point: the problem read afresh (limits, base load and prices of the new slots)
and the sessions already planned restored from the store with their slots still to come,
so nothing planned is dropped. A departure beyond the window is planned up to its end.

The registry is live: every unit of work tells the planner the registry's version
(:meth:`PartitionedPlanner.registry_at`); a partition used after the version moved reads
its problem afresh (new and changed transformers, feeders, prices), keeping every session
planned and its slots.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from evgrid.errors import UnknownReference
from evgrid.operations.ports import Allotment, LoadChange
from evgrid.operations.session import Session
from evgrid.scheduler.model import SLOT_MINUTES, Horizon, Problem, SessionRequest, is_aware_utc
from evgrid.scheduler.planner import WindowPlanner

log = logging.getLogger(__name__)

Planned = Sequence[tuple[SessionRequest, Sequence[float]]]
"""Sessions already given slots, with their power per slot of the window."""


def partition_key(transformer_id: str, feeder_id: str | None) -> str:
    """The partition a transformer plans in: its feeder's, else its own."""
    return f"feeder:{feeder_id}" if feeder_id is not None else f"transformer:{transformer_id}"


@dataclass(frozen=True, slots=True)
class RollingHorizon:
    """Windows of ``roll + ahead`` starting every ``roll`` from ``anchor_utc`` (see the module docstring)."""

    anchor_utc: datetime
    roll: timedelta = timedelta(hours=6)
    ahead: timedelta = timedelta(hours=24)
    slot_minutes: int = SLOT_MINUTES

    def __post_init__(self) -> None:
        """Reject a naive anchor and windows that are not whole slots."""
        if not is_aware_utc(self.anchor_utc):
            raise ValueError(f"horizon anchor {self.anchor_utc!r} is not aware UTC")
        slot = timedelta(minutes=self.slot_minutes)
        for name, length in (("roll", self.roll), ("ahead", self.ahead)):
            if length <= timedelta(0) or length % slot:
                raise ValueError(f"{name} {length} is not a whole number of {self.slot_minutes}-minute slots")

    @property
    def slot_count(self) -> int:
        """Slots in a window."""
        return (self.roll + self.ahead) // timedelta(minutes=self.slot_minutes)

    def start_at(self, moment: datetime) -> datetime:
        """The start of the window open at ``moment`` (the latest start not after it)."""
        return self.anchor_utc + math.floor((moment - self.anchor_utc) / self.roll) * self.roll

    def window_from(self, start_utc: datetime) -> Horizon:
        """The window starting at ``start_utc``."""
        return Horizon(start_utc, self.slot_count, self.slot_minutes)

    def window_at(self, moment: datetime) -> Horizon:
        """The window open at ``moment``."""
        return self.window_from(self.start_at(moment))


class GridSource(Protocol):
    """What the planner reads from the registry and the store, one partition at a time."""

    def partition_of(self, transformer_id: str) -> str | None:
        """The transformer's partition key (:func:`partition_key`); None when the registry has no such transformer."""
        ...

    def problem(self, partition: str, horizon: Horizon) -> Problem:
        """The partition's empty problem over ``horizon``: its transformers, its feeder, the prices."""
        ...

    def planned(self, partition: str, horizon: Horizon) -> Planned:
        """The partition's sessions already given slots, with their power per slot of ``horizon``."""
        ...

    def changed(self) -> None:
        """The registry moved: forget what was read of it."""
        ...


# How far a transformer's measured base load is carried ahead (persistence) when read live.
LOAD_SLOTS_AHEAD = 4


def observe_in(window: WindowPlanner, transformer_id: str, interval_start: datetime, measured_kw: float,
               now: datetime) -> LoadChange:
    """Take a transformer's measured load into ``window`` (staged).

    The meter measures the transformer's whole load: its base load is that less the EV
    power the plan had there in the interval measured. It is carried to the slot ``now``
    is in and the next ``LOAD_SLOTS_AHEAD - 1`` (a persistence forecast), and the
    sessions whose slots from now on are now over a limit are returned.
    """
    horizon = window.problem.horizon
    measured_slot = _slot_of(horizon, interval_start)
    ev_kw = window.ev_load_kw(transformer_id, measured_slot) if measured_slot is not None else 0.0
    base = max(0.0, measured_kw - ev_kw)
    first = _slot_of(horizon, now)
    if first is None:
        return LoadChange({}, ())
    slots = range(first, min(first + LOAD_SLOTS_AHEAD, horizon.slot_count))
    window.observe(transformer_id, dict.fromkeys(slots, base))
    return LoadChange({horizon.slot_start_utc(k): base for k in slots}, tuple(window.overloaded(first)))


def base_in(window: WindowPlanner, transformer_id: str, base_kw: dict[datetime, float]) -> None:
    """Set a transformer's base load at these times in ``window`` (another worker's reading; staged)."""
    horizon = window.problem.horizon
    slots = {slot: kw for moment, kw in base_kw.items() if (slot := _slot_of(horizon, moment)) is not None}
    if slots:
        window.observe(transformer_id, slots)


def reshape_in(window: WindowPlanner, session: Session, from_utc: datetime) -> Allotment:
    """Keep a session's slots in ``window`` before ``from_utc``, place the rest around the others (staged)."""
    window.reshape(session.session_id, _slot_of(window.problem.horizon, from_utc) or 0)
    return window.allotted(session.session_id, session.transformer_id)


def _slot_of(horizon: Horizon, moment: datetime) -> int | None:
    slot = int((moment - horizon.start_utc) // timedelta(minutes=horizon.slot_minutes))
    return slot if 0 <= slot < horizon.slot_count else None


class Partition:
    """One partition's planner and where it stands; its ``lock`` is held by the unit of work using it."""

    __slots__ = ("key", "lock", "seen", "version", "window")

    def __init__(self, key: str) -> None:
        self.key = key
        self.window: WindowPlanner | None = None
        self.version = -1  # the registry version its problem was read at
        self.seen = 0  # the plan log position it is at (scale-out workers)
        self.lock = threading.Lock()

    @property
    def start_utc(self) -> datetime | None:
        """The start of the window it plans (None before it is opened)."""
        return self.window.problem.horizon.start_utc if self.window is not None else None


class PartitionedPlanner:
    """The Planner port over every partition (see the module docstring).

    Used directly by one process whose units of work run one at a time; scale-out
    workers reach it through :class:`~evgrid.adapters.store.plan_log.SharedPlan`, which
    holds each partition it uses under that partition's lock.

    Args:
        horizon: when windows begin and how long they last.
        source: the registry and store, read per partition.
        version: the registry version at start.
    """

    def __init__(self, horizon: RollingHorizon, source: GridSource, version: int = 0) -> None:
        self.horizon, self._source = horizon, source
        self._partitions: dict[str, Partition] = {}
        self._located: dict[str, str] = {}
        self._guard = threading.Lock()  # the two dicts
        self._wanted = version
        self._touched: list[Partition] = []  # staged by the unit of work in progress (one process)

    @property
    def registry_version(self) -> int:
        """The newest registry version a unit of work has reported."""
        return self._wanted

    def registry_at(self, version: int) -> None:
        """A unit of work read the registry at ``version``: partitions used from now on read it afresh."""
        if version <= self._wanted:
            return
        with self._guard:
            if version > self._wanted:
                self._wanted = version
                self._located.clear()
                self._source.changed()

    # --- partitions -----------------------------------------------------------------

    def partition_of(self, transformer_id: str) -> str:
        """The partition of ``transformer_id``; UnknownReference when the registry has no such transformer."""
        key = self._located.get(transformer_id)
        if key is None:
            key = self._source.partition_of(transformer_id)
            if key is None:
                raise UnknownReference(f"transformer {transformer_id} is not in the registry's grid",
                                       mrid=transformer_id)
            with self._guard:
                self._located[transformer_id] = key
        return key

    def partition(self, key: str) -> Partition:
        """The partition ``key`` (made on first use, not opened yet)."""
        part = self._partitions.get(key)
        if part is None:
            with self._guard:
                part = self._partitions.setdefault(key, Partition(key))
        return part

    def holding(self, session_id: str) -> Partition | None:
        """The open partition whose plan has ``session_id`` (a scan: for a session its transformer no longer tells)."""
        return next((part for part in list(self._partitions.values())
                     if part.window is not None and session_id in part.window.plan), None)

    def partitions(self) -> list[Partition]:
        """Every partition made so far."""
        return list(self._partitions.values())

    def current(self, part: Partition, moment: datetime,
                planned: Callable[[str, Horizon], Planned] | None = None) -> WindowPlanner:
        """The partition's planner for the window open at ``moment``: opened, moved on, or read afresh as needed.

        The caller holds the partition. ``planned`` reads the sessions to restore
        (default: the source's); a scale-out worker reads them in its own transaction.
        A moment before the partition's window keeps that window (a late request).
        """
        start = self.horizon.start_at(moment)
        if part.window is None or start > part.start_utc:  # type: ignore[operator]
            self.open(part, start, planned)
        else:
            self.refresh(part)
        assert part.window is not None
        return part.window

    def open(self, part: Partition, start_utc: datetime,
             planned: Callable[[str, Horizon], Planned] | None = None) -> None:
        """(Re)open the partition at the window from ``start_utc``, its planned sessions restored from the store."""
        wanted = self._wanted
        horizon = self.horizon.window_from(start_utc)
        window = WindowPlanner(self._source.problem(part.key, horizon))
        window.restore((planned or self._source.planned)(part.key, horizon))
        previous = part.start_utc
        if part.window is not None:
            part.window.discard()
        part.window, part.version = window, wanted
        if previous is not None and previous != start_utc:
            log.info("partition %s: planning the window from %s (%d sessions restored)", part.key,
                     start_utc.isoformat(), len(window.plan))

    def refresh(self, part: Partition) -> None:
        """Read the partition's problem afresh if the registry moved since it was read."""
        wanted = self._wanted
        if part.window is None or part.version >= wanted:
            return
        horizon = part.window.problem.horizon
        part.window.refresh(self._source.problem(part.key, horizon))
        part.version = wanted
        log.info("registry version %d: partition %s planned on the registry as it is now", wanted, part.key)

    # --- the Planner port, for one process -------------------------------------------

    def place(self, session: Session, now: datetime | None = None) -> Allotment:
        """Steps 2.2 / 3.2: place ``session`` in its partition's window open now (staged until :meth:`commit`)."""
        part = self.partition(self.partition_of(session.transformer_id))
        window = self.current(part, now or session.plugged_in_utc)
        self._touched.append(part)
        return window.place(session, now)

    def release(self, session_id: str, transformer_id: str) -> None:
        """A session ended: its slots from now on are free (staged until :meth:`commit`)."""
        part = self.releasing(session_id, transformer_id)
        if part is None or part.window is None:
            return  # never opened here: nothing of it in memory, and the store no longer lists it
        self.refresh(part)
        self._touched.append(part)
        part.window.release(session_id)

    def releasing(self, session_id: str, transformer_id: str) -> Partition | None:
        """The partition a session to release is planned in: its transformer's, or the one holding it."""
        try:
            part = self.partition(self.partition_of(transformer_id))
        except UnknownReference:
            return self.holding(session_id)  # its transformer left the registry since
        if part.window is not None and session_id not in part.window.plan:
            return self.holding(session_id) or part  # moved to another feeder since
        return part

    def observe_load(self, transformer_id: str, interval_start: datetime, measured_kw: float,
                     now: datetime) -> LoadChange:
        """A live reading of a transformer's whole load (see :func:`observe_in`; staged)."""
        part = self.partition(self.partition_of(transformer_id))
        window = self.current(part, now)
        self._touched.append(part)
        return observe_in(window, transformer_id, interval_start, measured_kw, now)

    def reshape(self, session: Session, from_utc: datetime) -> Allotment:
        """Keep a charging session's slots before ``from_utc``, place the rest around the others (staged)."""
        part = self.partition(self.partition_of(session.transformer_id))
        window = self.current(part, from_utc)
        self._touched.append(part)
        return reshape_in(window, session, from_utc)

    def commit(self) -> None:
        """Keep what the unit of work staged (after its database commit)."""
        for part in self._touched:
            if part.window is not None:
                part.window.commit()
        self._touched.clear()

    def discard(self) -> None:
        """Forget what the unit of work staged."""
        for part in self._touched:
            if part.window is not None:
                part.window.discard()
        self._touched.clear()

    # --- views, for reports and health ----------------------------------------------

    def planned(self) -> dict[str, tuple[SessionRequest, tuple[float, ...]]]:
        """Every committed session of every open partition, with its request and power per slot."""
        sessions: dict[str, tuple[SessionRequest, tuple[float, ...]]] = {}
        for part in self.partitions():
            window = part.window
            if window is not None:
                for request in window.problem.sessions:
                    sessions[request.session_id] = (request, window.plan.session(request.session_id).power_kw)
        return sessions

    def windows(self) -> dict[str, datetime]:
        """The start of the window each open partition plans."""
        return {part.key: part.start_utc for part in self.partitions() if part.start_utc is not None}
