"""Night after night: the planner moves on to the next night when the current one is over.

A :class:`~evgrid.scheduler.planner.NightPlanner` plans one night (its horizon: 64
slots of 15 minutes from 16:00 UTC, say). ``evgrid serve`` runs for weeks, so the
operation system plans through :class:`RollingPlanner`: night ``k`` starts ``k`` days
after the configured one, and the first request (or another worker's placement) that
comes after the current night's end opens the next night that has not ended yet: its
planning problem read afresh from the registry (transformers, tariff, base load) and
the sessions already planned into it restored. Nights never overlap (a horizon is
shorter than a day), and a night is left only once it is over, so nothing planned is
ever dropped.

The registry is live: every unit of work tells the planner the registry's version (one
row, bumped by every registry or tariff import in its transaction, see
:meth:`RollingPlanner.registry_at`); the next planner operation, under the plan lock,
finds it moved and reads the current night's problem afresh (new and changed
transformers, feeders, prices), keeping every session planned and its slots.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from evgrid.operations.ports import Allotment
from evgrid.operations.session import Session
from evgrid.scheduler.model import Problem, SessionRequest
from evgrid.scheduler.plan import Plan
from evgrid.scheduler.planner import NightPlanner

log = logging.getLogger(__name__)

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Nights:
    """Night ``k`` is ``[start_utc + k days, + length)``; ``k`` may be negative."""

    start_utc: datetime
    length: timedelta

    def __post_init__(self) -> None:
        """Nights must not overlap."""
        if not timedelta(0) < self.length <= DAY:
            raise ValueError(f"a night lasts more than nothing and at most a day, not {self.length}")

    def open_at(self, moment: datetime) -> datetime:
        """The start of the first night that has not ended at ``moment`` (it may not have begun)."""
        k = math.floor((moment - self.start_utc - self.length) / DAY) + 1
        return self.start_utc + k * DAY


class RollingPlanner:
    """The Planner port over one night at a time (see the module docstring).

    Args:
        first: the planner of the night to start with (restored already).
        nights: when nights begin and how long they last.
        open_night: builds the (restored) planner of the night starting at the given instant.
        read_problem: the empty problem of the night starting at the given instant, read
            from the registry as it is now (for a registry change; None: never re-read).
        version: the registry version ``first`` was read at.
    """

    def __init__(self, first: NightPlanner, nights: Nights, open_night: Callable[[datetime], NightPlanner],
                 read_problem: Callable[[datetime], Problem] | None = None, version: int = 0) -> None:
        self._night, self._nights, self._open_night = first, nights, open_night
        self._read_problem = read_problem
        self._lock = threading.Lock()
        self._version = self._wanted = version

    @property
    def registry_version(self) -> int:
        """The registry version the current night's problem was read at."""
        return self._version

    def registry_at(self, version: int) -> None:
        """A unit of work read the registry at ``version`` (cheap: the re-read waits for the plan lock)."""
        if version > self._wanted:
            self._wanted = version

    def _sync(self, *, force: bool = False) -> None:
        """Read the current night's problem afresh if the registry moved (caller holds the plan lock)."""
        wanted = self._wanted
        if (wanted == self._version and not force) or self._read_problem is None:
            return
        with self._lock:
            start = self._night.problem.horizon.start_utc
            self._night.refresh(self._read_problem(start))
            log.info("registry version %d (was %d): the night from %s planned on the registry as it is now",
                     wanted, self._version, start.isoformat())
            self._version = wanted

    @property
    def plan(self) -> Plan:
        """The current night's committed plan."""
        return self._night.plan

    @property
    def problem(self) -> Problem:
        """The current night's committed problem."""
        return self._night.problem

    def place(self, session: Session, now: datetime | None = None) -> Allotment:
        if now is not None:
            self._roll(now)
        self._sync()
        return self._night.place(session, now)

    def adopt(self, request: SessionRequest, power_kw: tuple[float, ...] | list[float]) -> None:
        """Take in another worker's placement; one for a later night moves this worker there too."""
        horizon = self._night.problem.horizon
        if request.arrival_utc >= horizon.end_utc:
            self._roll(request.arrival_utc)
        elif request.arrival_utc < horizon.start_utc:
            # Placed by a worker that had not moved on yet, into a night that is over here.
            log.warning("session %s belongs to a night before %s: not adopted", request.session_id,
                        horizon.start_utc.isoformat())
            return
        self._sync()
        if not self._night.knows(request.transformer_id):
            # Another worker placed it on a transformer imported after this unit of work
            # read the registry's version: the import has committed, so read it now.
            self._sync(force=True)
        self._night.adopt(request, power_kw)

    def placed(self, session_id: str) -> tuple[SessionRequest, tuple[float, ...]]:
        return self._night.placed(session_id)

    def release(self, session_id: str) -> None:
        self._sync()
        self._night.release(session_id)

    def commit(self) -> None:
        self._night.commit()

    def discard(self) -> None:
        self._night.discard()

    def reload(self) -> None:
        """Open the current night again from the store (a scale-out worker whose log was pruned)."""
        with self._lock:
            wanted = self._wanted
            self._night.discard()
            self._night = self._open_night(self._night.problem.horizon.start_utc)
            self._version = wanted  # read afresh: at least as new as that

    def _roll(self, moment: datetime) -> None:
        if moment < self._night.problem.horizon.end_utc:
            return
        with self._lock:
            current = self._night.problem.horizon
            if moment < current.end_utc:
                return  # another thread moved on meanwhile
            start = self._nights.open_at(moment)
            wanted = self._wanted
            # What was staged in the night that ended (a release in this same unit of
            # work) no longer matters to anyone: that night's slots are all past.
            self._night.discard()
            self._night = self._open_night(start)
            self._version = wanted  # the problem was read afresh: at least as new as that
            log.info("night of %s over: planning the night from %s (%d sessions restored)",
                     current.start_utc.isoformat(), start.isoformat(), len(self._night.plan))
