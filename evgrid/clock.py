"""The clocks that satisfy the core's ``Clock`` port: wall-clock UTC, and an accelerated clock.

The accelerated clock: simulated time runs ``speed`` times faster than wall time.

``sim = start + (wall - wall0) * speed``, so a night of 12 hours runs in 72 s at speed
600. The clock satisfies the core's ``Clock`` port (``now()`` -> aware UTC).

Two anchors for ``wall0``:

- an ``epoch`` (a Unix time, seconds): every process given the same ``speed``, ``start``
  and ``epoch`` reads the same simulated time, whenever it was started, and a process
  restarted with them continues the same timeline (``evgrid demo`` gives one epoch to
  the IED gateway, the operation system and the portals);
- none: the moment of construction, measured on the monotonic clock, so simulated time
  never jumps with a wall-clock step. Only this process follows that timeline.

:meth:`AcceleratedClock.to_wall` is the inverse: when (wall time) a simulated instant
happens, for schedulers that wait in wall time (APScheduler).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SystemClock:
    """Wall-clock UTC."""

    def now(self) -> datetime:
        """The current time, aware UTC."""
        return datetime.now(UTC)


class AcceleratedClock:
    """Maps wall time to simulated time; ``speed=1`` is real time from ``start``.

    Args:
        speed: simulated seconds per wall second (> 0).
        start: the simulated time at the anchor, aware; default the anchor's wall time
            (now, or the epoch's instant).
        epoch: the anchor as a Unix wall time (seconds); None anchors at construction.
        monotonic: the monotonic clock of the unanchored case (tests inject one).
        wall: the Unix wall clock (tests inject one).
    """

    def __init__(
        self,
        speed: float = 1.0,
        start: datetime | None = None,
        *,
        epoch: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, not {speed}")
        if start is not None and start.tzinfo is None:
            raise ValueError("clock start must be an aware datetime")
        self.speed = speed
        self.epoch = epoch
        self._monotonic = monotonic
        self._wall = wall
        # Read together: the unanchored clock runs on the monotonic one, and to_wall
        # needs the wall instant it started at.
        self._mono0 = monotonic()
        self._wall0 = epoch if epoch is not None else wall()
        default_start = datetime.fromtimestamp(self._wall0, UTC)
        self.start = (start or default_start).astimezone(UTC)

    def elapsed_wall_seconds(self) -> float:
        """Wall seconds since the anchor (negative before a future epoch)."""
        if self.epoch is not None:
            return self._wall() - self.epoch
        return self._monotonic() - self._mono0

    def now(self) -> datetime:
        """Current simulated time (aware UTC)."""
        return self.start + timedelta(seconds=self.elapsed_wall_seconds() * self.speed)

    def to_wall(self, sim: datetime) -> datetime:
        """The wall instant (aware UTC) at which simulated time reaches ``sim``."""
        if sim.tzinfo is None:
            raise ValueError("a simulated instant must be an aware datetime")
        return datetime.fromtimestamp(self._wall0, UTC) + timedelta(
            seconds=(sim - self.start).total_seconds() / self.speed
        )

    def wall_seconds(self, sim_seconds: float) -> float:
        """Wall-clock seconds that ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.speed
