"""A simulated EV charging station with the EV plugged into it.

Plain state machine, no protocol: the IED binding (:mod:`evgrid.sim.devices.field`) maps it to
DESE/DEAO/DEEV/CSWI/XCBR/MMXU. Power flows only with the contactor closed and an EV
that still wants energy, at the lowest of the station rating, the grid limit and the
EV's own limits. The EV's state of charge rises with the energy delivered, reaching
100 % when the energy it asked for is in; then the EV stops requesting energy (IEC 61851
state C -> B) and the contactor opens by itself (use-case step 2.3.2).

The grid limit (DESE.ChaPwrLim) is what the scheduler gives the station per slot; a
client sets it, 0 W to rated power. It stays until changed (a new EV does not reset it)
and survives a restart. 0 W pauses charging: the contactor may stay closed and the EV
stays in state C (it still wants energy; the station withholds it), so a pause is never
mistaken for a full EV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evgrid.errors import PlugOccupied
from evgrid.mappings.iec61850_refs import AddCause, ConnState, Dbpos, PlugState
from evgrid.sim.devices.arrivals import Arrival

PHASES = 3
VOLTAGE_V = 230.0


@dataclass(slots=True)
class ConnectedEv:
    """The EV at a station: what it asked for and what it got."""

    arrival: Arrival
    delivered_wh: float = 0.0
    full: bool = False

    @property
    def soc_pct(self) -> float:
        """State of charge: the energy asked for brings the battery to 100 %."""
        start = self.arrival.soc_pct
        fraction = min(1.0, self.delivered_wh / self.arrival.absorbs_wh)
        return start + (100.0 - start) * fraction


class Station:
    """One charging point: outlet, contactor, and the EV plugged in (if any)."""

    def __init__(self, number: int, *, rated_w: float = 11000.0, limit_w: float | None = None) -> None:
        self.number = number
        self.rated_w = rated_w
        self.limit_w = rated_w if limit_w is None else limit_w
        self.ev: ConnectedEv | None = None
        self.closed = False
        self.delivered_wh = 0.0  # cumulative over all sessions: what a meter measures
        self.switch_count = 0

    # --- state seen through the data model --------------------------------------
    @property
    def conn_state(self) -> ConnState:
        """IEC 61851-1 state: A empty, C contactor closed for an EV that wants energy, B otherwise.

        C holds at a 0 W grid limit too (a pause): the EV still requests energy.
        """
        if self.ev is None:
            return ConnState.A
        return ConnState.C if self.closed and not self.ev.full else ConnState.B

    @property
    def plug_state(self) -> PlugState:
        """Plug present and locked while an EV is connected."""
        return PlugState.DISCONNECTED if self.ev is None else PlugState.CONNECTED_LOCKED

    @property
    def position(self) -> Dbpos:
        """Contactor position."""
        return Dbpos.ON if self.closed else Dbpos.OFF

    @property
    def target_w(self) -> float:
        """Power drawn when the contactor is closed (0 without an EV wanting energy)."""
        if self.ev is None or self.ev.full:
            return 0.0
        return min(self.rated_w, self.limit_w, self.ev.arrival.power_limit_w)

    @property
    def power_w(self) -> float:
        """Power flowing now."""
        return self.target_w if self.closed else 0.0

    # --- events --------------------------------------------------------------------
    def plug_in(self, arrival: Arrival) -> None:
        """An EV arrives (step 1); PlugOccupied if another EV is plugged in."""
        if self.ev is not None:
            raise PlugOccupied(f"station {self.number} is occupied by {self.ev.arrival.ev_id}")
        self.ev = ConnectedEv(arrival)

    def unplug(self) -> None:
        """The EV leaves; the contactor opens first."""
        self._set_closed(False)
        self.ev = None

    def check_switch(self, close: bool) -> AddCause | None:
        """Why a contactor command cannot run now (None: it can). Nothing changes."""
        if close == self.closed:
            return AddCause.POSITION_REACHED
        if close and (self.ev is None or self.ev.full):
            return AddCause.BLOCKED_BY_PROCESS
        return None

    def switch(self, close: bool) -> bool:
        """Execute an accepted contactor command; False when it is no longer possible."""
        if self.check_switch(close) is not None:
            return False
        self._set_closed(close)
        return True

    def check_limit(self, watts: float | None) -> AddCause | None:
        """Why ``watts`` cannot become the grid limit (None: it can). Nothing changes.

        The limit must be a number from 0 W (pause) to the station's rating. IEC 61850-7-2
        has no AddCause for a value out of range; Inconsistent-parameters is the closest.
        """
        if watts is None or isinstance(watts, bool) or not math.isfinite(watts):
            return AddCause.INCONSISTENT_PARAMETERS
        if not 0.0 <= watts <= self.rated_w:
            return AddCause.INCONSISTENT_PARAMETERS
        return None

    def set_limit(self, watts: float) -> bool:
        """Apply a grid limit (W) now; False, and nothing changes, when check_limit refuses it."""
        if self.check_limit(watts) is not None:
            return False
        self.limit_w = float(watts)
        return True

    def advance(self, seconds: float, now: datetime) -> list[str]:
        """Let ``seconds`` of simulated time pass; return what happened (for logs)."""
        events: list[str] = []
        ev = self.ev
        if ev is not None and self.closed and not ev.full and seconds > 0:
            energy = self.power_w * seconds / 3600.0
            remaining = ev.arrival.absorbs_wh - ev.delivered_wh
            if energy >= remaining:
                energy = max(remaining, 0.0)
                ev.full = True
            ev.delivered_wh += energy
            self.delivered_wh += energy
            if ev.full:
                # Step 2.3.2: the full EV stops requesting energy; the contactor opens.
                self._set_closed(False)
                events.append(f"station {self.number}: {ev.arrival.ev_id} full, contactor opened")
        if ev is not None and now >= ev.arrival.departure:
            events.append(f"station {self.number}: {ev.arrival.ev_id} departed")
            self.unplug()
        return events

    def power_cycle(self) -> None:
        """After an IED restart the contactor is open (fail-safe); the EV stays plugged."""
        self.closed = False

    def _set_closed(self, closed: bool) -> None:
        if closed != self.closed:
            self.switch_count += 1
        self.closed = closed

    # --- persistence ---------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """JSON-ready state (restart continuity)."""
        ev = None
        if self.ev is not None:
            ev = {
                "arrival": self.ev.arrival.to_json(),
                "delivered_wh": self.ev.delivered_wh,
                "full": self.ev.full,
            }
        return {
            "delivered_wh": self.delivered_wh,
            "switch_count": self.switch_count,
            "limit_w": self.limit_w,
            "ev": ev,
        }

    def restore(self, state: dict[str, Any], ev: ConnectedEv | None) -> None:
        """Restore persisted state; the contactor comes back open, the grid limit stays.

        A saved limit the station cannot take (its rating changed in the ICD) is dropped
        for the configured one.
        """
        self.delivered_wh = float(state.get("delivered_wh", 0.0))
        self.switch_count = int(state.get("switch_count", 0))
        saved_limit = state.get("limit_w")
        if isinstance(saved_limit, int | float):
            self.set_limit(float(saved_limit))
        self.ev = ev
        self.closed = False
