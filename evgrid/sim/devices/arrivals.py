"""Scripted EV arrivals: the JSON file of ``--arrivals`` and the control channel.

An arrival (JSON object) has::

    {"station": 1,                      # 1-based station number (1 for a standalone IED)
     "ev_id": "EV-0001",                # utility-assigned EV Id (DEEV.EVId)
     "energy_wh": 20000,                # energy wanted until departure (DEEV.EnAmnt)
     "departure": "2025-01-02T07:00:00Z" or "departure_s": 36000,  # absolute, or after arrival
     "max_power_w": 11000,              # the most power the EV asks for
     "ev_limit_w": 7400,                # the EV's own on-board charger limit
     "time": "2025-01-01T18:30:00Z" or "at_s": 120,   # optional: arrival time (absolute or
                                        # after clock start); default: now
     "soc_pct": 30}                     # optional: state of charge on arrival

A file holds a JSON list of arrivals, or ``{"arrivals": [...]}``. Times are simulated
time (see :class:`evgrid.clock.AcceleratedClock`), ISO 8601 with an offset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from evgrid.errors import ArrivalError


@dataclass(frozen=True, slots=True)
class Arrival:
    """One EV plugging in at one station."""

    station: int
    ev_id: str
    energy_wh: int
    departure: datetime
    max_power_w: float
    ev_limit_w: float
    at: datetime | None = None
    soc_pct: float = 20.0
    # What the battery really takes, when less than it asks for (its state-of-charge
    # estimate was off): it is full early and opens the contactor (2.3.2). None: energy_wh.
    room_wh: int | None = None

    def __post_init__(self) -> None:
        if self.station < 1:
            raise ArrivalError(f"station numbers start at 1, not {self.station}")
        if not self.ev_id or len(self.ev_id) > 255:
            raise ArrivalError("ev_id must be 1 to 255 characters")
        if self.energy_wh <= 0:
            raise ArrivalError(f"energy_wh must be positive, not {self.energy_wh}")
        if self.max_power_w <= 0 or self.ev_limit_w <= 0:
            raise ArrivalError("max_power_w and ev_limit_w must be positive")
        if self.room_wh is not None and not 0 < self.room_wh <= self.energy_wh:
            raise ArrivalError(f"room_wh must be in 1..energy_wh, not {self.room_wh}")
        if not 0 <= self.soc_pct < 100:
            raise ArrivalError(f"soc_pct must be in [0, 100), not {self.soc_pct}")
        for moment in (self.departure, self.at):
            if moment is not None and moment.tzinfo is None:
                raise ArrivalError("arrival times must carry a UTC offset")

    @property
    def absorbs_wh(self) -> int:
        """The energy after which the EV is full."""
        return self.room_wh or self.energy_wh

    @property
    def power_limit_w(self) -> float:
        """The EV side of the charging power: the lower of what it asks and can take."""
        return min(self.max_power_w, self.ev_limit_w)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this arrival (absolute times)."""
        data: dict[str, Any] = {
            "station": self.station,
            "ev_id": self.ev_id,
            "energy_wh": self.energy_wh,
            "departure": self.departure.isoformat(),
            "max_power_w": self.max_power_w,
            "ev_limit_w": self.ev_limit_w,
            "soc_pct": self.soc_pct,
        }
        if self.room_wh is not None:
            data["room_wh"] = self.room_wh
        if self.at is not None:
            data["time"] = self.at.isoformat()
        return data


def _time(text: object, field: str) -> datetime:
    if not isinstance(text, str):
        raise ArrivalError(f"{field} must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ArrivalError(f"{field}={text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ArrivalError(f"{field}={text!r} has no UTC offset")
    return moment


def arrival_from_json(data: Mapping[str, Any], *, clock_start: datetime, now: datetime) -> Arrival:
    """Build an :class:`Arrival` from its JSON object (see the module docstring)."""
    try:
        if "time" in data:
            at: datetime | None = _time(data["time"], "time")
        elif "at_s" in data:
            at = clock_start + timedelta(seconds=float(data["at_s"]))
        else:
            at = None
        arrived = at or now
        if "departure" in data:
            departure = _time(data["departure"], "departure")
        elif "departure_s" in data:
            departure = arrived + timedelta(seconds=float(data["departure_s"]))
        else:
            raise ArrivalError("an arrival needs departure or departure_s")
        return Arrival(
            station=int(data.get("station", 1)),
            ev_id=str(data["ev_id"]),
            energy_wh=int(data["energy_wh"]),
            departure=departure,
            max_power_w=float(data["max_power_w"]),
            ev_limit_w=float(data.get("ev_limit_w", data["max_power_w"])),
            at=at,
            soc_pct=float(data.get("soc_pct", 20.0)),
            room_wh=int(data["room_wh"]) if data.get("room_wh") is not None else None,
        )
    except KeyError as exc:
        raise ArrivalError(f"an arrival needs {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ArrivalError):
            raise
        raise ArrivalError(f"bad arrival {dict(data)!r}: {exc}") from None


def load_arrivals(path: str | Path, *, clock_start: datetime) -> list[Arrival]:
    """Read an arrivals file, sorted by arrival time."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ArrivalError(f"cannot read arrivals file {path}: {exc}") from exc
    items = raw.get("arrivals") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise ArrivalError(f"{path}: expected a list of arrivals or {{'arrivals': [...]}}")
    arrivals = [arrival_from_json(item, clock_start=clock_start, now=clock_start) for item in items]
    return sorted(arrivals, key=lambda a: a.at or clock_start)
