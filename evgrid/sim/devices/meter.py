"""A simulated premise meter: a forward active energy register that never goes back.

The meter measures a station through an energy *source*: the station's cumulative
delivered energy (Wh, float), which the station persists. The register adds the
increase since the last reading, and remembers (persists) that reading, so no Wh is
lost or counted twice across restarts of the meter or of the station.

A meter reset (meter exchange, for instance) is an event: the register value just
before it is frozen (``frozen_wh``, ``frozen_at``: BCR frVal/frTm) and the register
restarts at 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class SourceReading:
    """What a meter reads from the station it measures."""

    cumulative_wh: float
    power_w: float


class Meter:
    """Forward active energy register (TotWh) with its freeze (reset) record."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.register_wh = 0.0
        self.supplied_wh = 0.0
        self.power_w = 0.0
        self.frozen_wh = 0
        self.frozen_at: datetime | None = None
        self.resets = 0
        self._seen: float | None = None

    @property
    def total_wh(self) -> int:
        """The register as a whole-Wh counter (what MMTR.TotWh.actVal publishes)."""
        return math.floor(self.register_wh + 1e-9)

    def measure(self, reading: SourceReading) -> float:
        """Add the source's energy since the last reading; returns the Wh added."""
        self.power_w = reading.power_w
        # First contact counts nothing: the source's history predates this meter. A
        # source that came back below what we last saw lost part of its count in a
        # crash; only its growth from there is new energy.
        added = 0.0 if self._seen is None else max(0.0, reading.cumulative_wh - self._seen)
        self.register_wh += added
        self._seen = reading.cumulative_wh
        return added

    def reset(self, at: datetime) -> None:
        """Meter reset: freeze the register value and restart counting at 0."""
        self.frozen_wh = self.total_wh
        self.frozen_at = at
        self.register_wh = 0.0
        self.resets += 1

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state (restart continuity)."""
        return {
            "register_wh": self.register_wh,
            "supplied_wh": self.supplied_wh,
            "frozen_wh": self.frozen_wh,
            "frozen_at": self.frozen_at.isoformat() if self.frozen_at else None,
            "resets": self.resets,
            "seen_wh": self._seen,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore persisted state."""
        self.register_wh = float(state.get("register_wh", 0.0))
        self.supplied_wh = float(state.get("supplied_wh", 0.0))
        self.frozen_wh = int(state.get("frozen_wh", 0))
        frozen_at = state.get("frozen_at")
        self.frozen_at = datetime.fromisoformat(frozen_at) if frozen_at else None
        self.resets = int(state.get("resets", 0))
        seen = state.get("seen_wh")
        self._seen = None if seen is None else float(seen)
