"""An accelerated clock: simulated time runs ``speed`` times faster than wall time.

``sim = sim0 + (wall - wall0) * speed``, so a night of 12 hours runs in 72 s at speed
600. The clock satisfies the core's ``Clock`` port (``now()`` -> aware UTC).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class AcceleratedClock:
    """Maps wall time to simulated time; ``speed=1`` is real time from ``start``."""

    def __init__(
        self,
        speed: float = 1.0,
        start: datetime | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, not {speed}")
        if start is not None and start.tzinfo is None:
            raise ValueError("clock start must be an aware datetime")
        self.speed = speed
        self.start = (start or datetime.now(UTC)).astimezone(UTC)
        self._monotonic = monotonic
        self._wall0 = monotonic()

    def now(self) -> datetime:
        """Current simulated time (aware UTC)."""
        return self.start + timedelta(seconds=(self._monotonic() - self._wall0) * self.speed)

    def wall_seconds(self, sim_seconds: float) -> float:
        """Wall-clock seconds that ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.speed
