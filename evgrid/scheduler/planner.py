"""One partition of the grid planned over one window of the rolling horizon.

Holds the window's problem (a feeder and its transformers, or one transformer without
a feeder) and plan in memory: a new request is placed online against the current plan
(nobody else moves); a completed session releases its remaining slots.
:class:`~evgrid.scheduler.partitions.PartitionedPlanner` keeps one per partition.
Changes are staged per transaction: the unit of work calls :meth:`commit` after its
database commit, or :meth:`discard`, so a request that fails leaves the plan as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import numpy as np

from evgrid.errors import UnknownReference
from evgrid.operations.ports import Allotment
from evgrid.operations.session import Session
from evgrid.scheduler.assign import adopt_session, place_session, reoptimise
from evgrid.scheduler.model import Problem, SessionRequest
from evgrid.scheduler.plan import Plan, build_plan, empty_plan

KW = Decimal("0.001")
# A limit counts as exceeded beyond float noise and the watt the store rounds each session to.
LIMIT_TOLERANCE_KW = 0.01


@dataclass(frozen=True, slots=True)
class _Window:
    problem: Problem
    plan: Plan


class WindowPlanner:
    """Online slot assignment for one partition over one window."""

    def __init__(self, problem: Problem) -> None:
        if problem.sessions:
            raise ValueError("start from an empty window; place sessions one by one")
        self._lock = threading.Lock()
        self._committed = _Window(problem, empty_plan(problem))
        self._staged: _Window | None = None

    @property
    def plan(self) -> Plan:
        """The committed plan."""
        return self._committed.plan

    @property
    def problem(self) -> Problem:
        """The committed problem."""
        return self._committed.problem

    def place(self, session: Session, now: datetime | None = None) -> Allotment:
        """Steps 2.2 / 3.2: place one session against the current plan, from ``now`` on.

        A request that arrives late (a portal that retried, a backlog) gets slots from
        ``now``, never slots already past: those could not be dispatched any more.
        """
        window = self._staged or self._committed
        if not self.knows(session.transformer_id):
            # A premise on a transformer this window was not read with (an import not yet
            # seen): a clear refusal, never an internal error.
            raise UnknownReference(f"transformer {session.transformer_id} of premise {session.premise_number} "
                                   "is not in the plan's grid", mrid=session.transformer_id)
        request = SessionRequest(
            session_id=session.session_id,
            arrival_utc=max(session.plugged_in_utc, window.problem.horizon.start_utc, now or session.plugged_in_utc),
            departure_utc=session.departure_utc,
            energy_wh=session.reachable_wh if session.reachable_wh is not None else session.requested_wh,
            max_power_kw=float(session.max_power_kw),
            transformer_id=session.transformer_id,
            third_party=session.third_party,
        )
        plan = place_session(window.plan, window.problem, request)
        self._staged = _Window(window.problem.with_session(request, checked=True), plan)
        return self.allotment(plan, session.session_id, session.transformer_id)

    def restore(self, planned: Sequence[tuple[SessionRequest, Sequence[float]]]) -> None:
        """Take back the sessions a previous process planned (after a restart), power as they had it.

        Only into an empty window: the restored slots are what the portals were told, so
        they are kept exactly, and every later placement sees them.
        """
        with self._lock:
            if len(self._committed.plan) or self._committed.problem.sessions:
                raise ValueError("restore into an empty window only")
            # One Problem for all (not one per with_session, which checks every id each time).
            problem = replace(self._committed.problem, sessions=tuple(request for request, _ in planned))
            plan = build_plan(problem, {request.session_id: power for request, power in planned})
            self._committed, self._staged = _Window(problem, plan), None

    def knows(self, transformer_id: str) -> bool:
        """Whether the window's grid has this transformer."""
        window = self._staged or self._committed
        return any(t.transformer_id == transformer_id for t in window.problem.transformers)

    def refresh(self, fresh: Problem) -> None:
        """Take the registry's grid and prices afresh (an import), keeping every session and its power.

        ``fresh`` is the window's empty problem read again (same horizon). Sessions keep the
        slots they were given (the portals were told); later placements see the new limits.
        A transformer gone from the registry while sessions of the window are on it stays
        in the plan until they end (with its feeder).
        """
        if fresh.horizon != self._committed.problem.horizon:
            raise ValueError("refresh with the same window's problem only")
        with self._lock:
            self._committed = self._refreshed(self._committed, fresh)
            if self._staged is not None:
                self._staged = self._refreshed(self._staged, fresh)

    @staticmethod
    def _refreshed(window: _Window, fresh: Problem) -> _Window:
        known = {t.transformer_id for t in fresh.transformers}
        used = {s.transformer_id for s in window.problem.sessions}
        kept = tuple(t for t in window.problem.transformers if t.transformer_id in used - known)
        feeders = {f.feeder_id for f in fresh.feeders}
        kept_feeders = tuple(f for f in window.problem.feeders
                             if f.feeder_id not in feeders and any(t.feeder_id == f.feeder_id for t in kept))
        problem = replace(fresh, sessions=window.problem.sessions, transformers=(*fresh.transformers, *kept),
                          feeders=(*fresh.feeders, *kept_feeders))
        plan = build_plan(problem, {p.session_id: p.power_kw for p in window.plan.sessions})
        return _Window(problem, plan)

    def adopt(self, request: SessionRequest, power_kw: Sequence[float]) -> None:
        """Take in a session another worker placed, with its power (staged, like :meth:`place`).

        For scale-out: each worker keeps its own planner and adopts the placements the
        others logged, in order, before it places one itself. O(slots). A session it
        already has with that power (its own placement) is left as it is; one restored
        from the store (its power rounded to the watt there) takes the exact logged power,
        so that every worker ends with the same plan.
        """
        window = self._staged or self._committed
        if request.session_id in window.plan:
            if tuple(window.plan.session(request.session_id).power_kw) == tuple(power_kw):
                return
            self.release(request.session_id)  # O(sessions), but only once per restored session
            window = self._staged or self._committed
        plan = adopt_session(window.plan, window.problem, request, power_kw)
        self._staged = _Window(window.problem.with_session(request, checked=True), plan)

    def placed(self, session_id: str) -> tuple[SessionRequest, tuple[float, ...]]:
        """The request a session was placed with and its power per slot (staged or committed)."""
        window = self._staged or self._committed
        # Newest last: a placement just made is found at once.
        request = next(s for s in reversed(window.problem.sessions) if s.session_id == session_id)
        return request, window.plan.session(session_id).power_kw

    def release(self, session_id: str) -> None:
        """A session ended: its slots from now on are free for others.

        O(sessions of the partition), unlike placement: it copies the plan's rows. A session
        the plan does not have (released already, or never placed) changes nothing.
        """
        window = self._staged or self._committed
        if session_id not in window.plan and all(s.session_id != session_id for s in window.problem.sessions):
            return
        sessions = tuple(s for s in window.problem.sessions if s.session_id != session_id)
        problem = replace(window.problem, sessions=sessions)
        plan = window.plan.without(session_id) if session_id in window.plan else window.plan
        self._staged = _Window(problem, plan)

    def observe(self, transformer_id: str, base_kw: Mapping[int, float]) -> None:
        """A transformer's base load measured (or re-forecast) for these slots: staged like a placement.

        O(sessions of the partition): the plan is indexed afresh on the new limits.
        """
        window = self._staged or self._committed
        transformers = tuple(
            replace(t, base_load_kw=tuple(base_kw.get(k, kw) for k, kw in enumerate(t.base_load_kw)))
            if t.transformer_id == transformer_id else t for t in window.problem.transformers)
        problem = replace(window.problem, transformers=transformers)
        self._staged = _Window(problem, build_plan(problem, {p.session_id: p.power_kw for p in window.plan.sessions}))

    def ev_load_kw(self, transformer_id: str, slot: int) -> float:
        """The EV power the plan has on ``transformer_id`` in ``slot``."""
        window = self._staged or self._committed
        return sum(window.plan.session(s.session_id).power_kw[slot] for s in window.problem.sessions
                   if s.transformer_id == transformer_id)

    def overloaded(self, from_slot: int) -> list[str]:
        """Sessions with power in a slot from ``from_slot`` on where their transformer or feeder is over its limit."""
        window = self._staged or self._committed
        plan = window.plan
        grid = plan.grid
        if grid is None:
            plan = build_plan(window.problem, {p.session_id: p.power_kw for p in plan.sessions})
            grid = plan.grid
            assert grid is not None
        load = grid.base_kw + plan.ev_load_kw()
        over = load > grid.capacity_kw[:, None] + LIMIT_TOLERANCE_KW  # K x T
        for row, members in enumerate(grid.feeder_members):
            over[members] |= load[members].sum(axis=0) > grid.feeder_capacity_kw[row] + LIMIT_TOLERANCE_KW
        over[:, :from_slot] = False
        if not over.any():
            return []
        return [s.session_id for s in window.problem.sessions
                if (np.asarray(plan.session(s.session_id).power_kw) > 0)[over[grid.index[s.transformer_id]]].any()]

    def reshape(self, session_id: str, from_slot: int) -> None:
        """Keep a session's power before ``from_slot`` and place what it still needs from there (staged).

        For a session already charging: its power can change at the next slot boundary
        only, so the slots before it stay as they are; the rest is placed in the room
        the others leave, as a new request arriving then would be.
        """
        request, power = self.placed(session_id)
        kept = [kw if k < from_slot else 0.0 for k, kw in enumerate(power)]
        self.release(session_id)
        self.adopt(request, kept)
        window = self._staged or self._committed
        kept_wh = window.plan.session(session_id).delivered_wh
        horizon = window.problem.horizon
        rest = replace(request, session_id=f"{session_id}#rest", energy_wh=max(0, request.energy_wh - kept_wh),
                       arrival_utc=max(request.arrival_utc, horizon.slot_start_utc(from_slot)))
        placed = place_session(window.plan, window.problem, rest)
        added = placed.session(rest.session_id).power_kw
        self.release(session_id)
        self.adopt(request, [a + b for a, b in zip(kept, added, strict=True)])

    def commit(self) -> None:
        """Keep the staged changes (called after the database commit)."""
        with self._lock:
            if self._staged is not None:
                self._committed, self._staged = self._staged, None

    def discard(self) -> None:
        """Forget the staged changes (the transaction rolled back)."""
        self._staged = None

    def reoptimise(self) -> Plan:
        """Re-plan the whole window on demand."""
        with self._lock:
            problem = self._committed.problem
            self._committed = _Window(problem, reoptimise(problem))
            return self._committed.plan

    def allotted(self, session_id: str, transformer_id: str) -> Allotment:
        """A session's slots as they stand (staged or committed)."""
        return self.allotment((self._staged or self._committed).plan, session_id, transformer_id)

    @staticmethod
    def allotment(plan: Plan, session_id: str, transformer_id: str) -> Allotment:
        """A session's slots as the operation system's Allotment."""
        session_plan = plan.session(session_id)
        horizon = plan.horizon
        slots = tuple(
            (horizon.slot_start_utc(slot), Decimal(repr(power)).quantize(KW))
            for slot, power in enumerate(session_plan.power_kw) if power > 0
        )
        return Allotment(session_id, transformer_id, slots, horizon.slot_minutes, session_plan.delivered_wh,
                         horizon.end_utc)

