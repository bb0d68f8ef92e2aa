"""Binds simulated stations and meters to the data model of a served IED.

One :class:`FieldSimulation` runs in the IED process, on the same thread as the MMS
server: the owner calls :meth:`FieldSimulation.tick` between server polls. Station
contactor commands and grid power limits (DESE1.ChaPwrLim) arrive through the server's
check/operate callbacks; arrivals come
from the ``--arrivals`` script, the control channel (:mod:`evgrid.sim.devices.control`) or
:meth:`FieldSimulation.arrive` in-process.

Restart semantics (``--state FILE``): stations, meters and the simulated time are saved
after every change, before the new values are published, so a client never sees a
register value the IED could lose. A restart is a power cycle: LPHD1.NumPwrUp grows by
one, contactors come back open (fail-safe), EVs stay plugged in with what they got,
grid power limits stay as last set, and the meter register continues from the saved value. Without a state file every start is
a fresh device (register at 0, NumPwrUp 1).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evgrid.adapters.iec61850.server import ControlRequest, IedServerRunner
from evgrid.clock import AcceleratedClock
from evgrid.errors import ArrivalError
from evgrid.mappings import iec61850_refs as refs
from evgrid.mappings.iec61850_refs import AddCause
from evgrid.sim.devices.arrivals import Arrival, arrival_from_json
from evgrid.sim.devices.meter import Meter, SourceReading
from evgrid.sim.devices.station import PHASES, VOLTAGE_V, ConnectedEv, PlugOccupied, Station

log = logging.getLogger(__name__)
EPOCH = datetime.fromtimestamp(0, UTC)
EnergySource = Callable[[], SourceReading | None]


@dataclass(slots=True)
class StationBinding:
    """A simulated station and the logical device that shows it."""

    station: Station
    ld: str


@dataclass(slots=True)
class MeterBinding:
    """A simulated meter, its logical device, and what it measures."""

    meter: Meter
    ld: str
    source: EnergySource


@dataclass(slots=True)
class _Published:
    values: dict[str, object] = field(default_factory=dict)


class FieldSimulation:
    """Runs stations and meters with an accelerated clock and publishes them via MMS."""

    def __init__(
        self,
        server: IedServerRunner,
        clock: AcceleratedClock,
        *,
        stations: list[StationBinding],
        meters: list[MeterBinding],
        state_file: Path | None = None,
        arrivals: list[Arrival] | None = None,
    ) -> None:
        self.server = server
        self.clock = clock
        self.stations = {b.station.number: b for b in stations}
        self.meters = {b.meter.number: b for b in meters}
        self.state_file = state_file
        self.power_ups = 1
        unknown = sorted({a.station for a in arrivals or []} - set(self.stations))
        if unknown:
            raise ArrivalError(f"arrivals for stations {unknown}, this IED has 1..{len(self.stations)}")
        self._pending = sorted(arrivals or [], key=lambda a: a.at or clock.start)
        self._published = _Published()
        self._last_tick = clock.now()
        self._dirty = True

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Restore saved state, count the power-up, hook contactors and limits, publish all."""
        self._restore()
        for binding in self.stations.values():
            self.server.install_control(
                refs.CONTACTOR.at(binding.ld), self._checker(binding), self._operator(binding)
            )
            self.server.install_control(
                refs.POWER_LIMIT.at(binding.ld), self._limit_checker(binding), self._limit_operator(binding)
            )
        self._last_tick = self.clock.now()
        self._save()
        self._publish()

    def stop(self) -> None:
        """Save the state one last time."""
        self._save()

    def station_source(self, number: int) -> EnergySource:
        """Energy source for a meter measuring local station ``number``."""
        station = self.stations[number].station
        return lambda: SourceReading(station.delivered_wh, station.power_w)

    # --- hardware events ----------------------------------------------------------------
    def arrive(self, arrival: Arrival) -> None:
        """An EV plugs in now, or at ``arrival.at`` if that is later (in-process API)."""
        if arrival.station not in self.stations:
            raise ArrivalError(f"no station {arrival.station} in this IED (1..{len(self.stations)})")
        if arrival.at is not None and arrival.at > self.clock.now():
            self._pending.append(arrival)
            self._pending.sort(key=lambda a: a.at or self.clock.start)
            return
        self.stations[arrival.station].station.plug_in(arrival)
        log.info("station %d: %s plugged in, wants %d Wh", arrival.station, arrival.ev_id, arrival.energy_wh)
        self._dirty = True

    def flush(self) -> None:
        """Publish what control callbacks changed (called right after each server poll).

        The server answers an operate before the next poll, so publishing here means a
        client reading after its operate returned sees the new position.
        """
        if self._dirty:
            self._save()
            self._publish()

    def tick(self) -> None:
        """Advance the simulation to the clock's now and publish what changed."""
        now = self.clock.now()
        seconds = max(0.0, (now - self._last_tick).total_seconds())
        self._last_tick = now
        while self._pending and (self._pending[0].at or now) <= now:
            arrival = self._pending.pop(0)
            try:
                self.arrive(arrival)
            except (PlugOccupied, ArrivalError) as exc:
                log.warning("scripted arrival dropped: %s", exc)
        for binding in self.stations.values():
            if binding.station.ev is not None:
                flowing = binding.station.power_w > 0
                events = binding.station.advance(seconds, now)
                for event in events:
                    log.info(event)
                self._dirty |= flowing or bool(events)
        for binding in self.meters.values():
            reading = binding.source()
            if reading is not None:
                before = (binding.meter.total_wh, binding.meter.power_w)
                binding.meter.measure(reading)
                self._dirty |= (binding.meter.total_wh, binding.meter.power_w) != before
        if self._dirty:
            self._save()
            self._publish()

    # --- contactor control (IEC 61850 check / operate callbacks) ------------------------
    def _checker(self, binding: StationBinding) -> Callable[[ControlRequest], AddCause | None]:
        def check(request: ControlRequest) -> AddCause | None:
            if request.value is None:  # select without a value (sbo-with-normal-security)
                return None
            cause = binding.station.check_switch(bool(request.value))
            if cause is not None:
                log.info(
                    "%s: %s rejected (%s)", request.ref, "close" if request.value else "open", cause.label
                )
            return cause

        return check

    def _operator(self, binding: StationBinding) -> Callable[[ControlRequest], bool]:
        def operate(request: ControlRequest) -> bool:
            done = binding.station.switch(bool(request.value))
            # Publishing happens after the server poll returns, outside the callback.
            self._dirty = True
            log.info("%s: contactor %s", request.ref, "closed" if request.value else "opened")
            return done

        return operate

    # --- grid power limit (DESE1.ChaPwrLim, an APC: check / operate callbacks) -----------
    def _limit_checker(self, binding: StationBinding) -> Callable[[ControlRequest], AddCause | None]:
        def check(request: ControlRequest) -> AddCause | None:
            value = request.value
            cause = binding.station.check_limit(None if isinstance(value, bool) else value)
            if cause is not None:
                log.info("%s: limit %r W rejected (%s)", request.ref, value, cause.label)
            return cause

        return check

    def _limit_operator(self, binding: StationBinding) -> Callable[[ControlRequest], bool]:
        def operate(request: ControlRequest) -> bool:
            value = request.value
            done = not isinstance(value, bool) and value is not None and binding.station.set_limit(value)
            # Saved and published after the server poll returns, like a contactor change.
            self._dirty = True
            log.info("%s: grid limit %s W", request.ref, binding.station.limit_w)
            return done

        return operate

    # --- control channel ---------------------------------------------------------------
    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one control-channel request (see :mod:`evgrid.sim.devices.control`)."""
        op = request.get("op")
        now = self.clock.now()
        if op == "arrive":
            try:
                self.arrive(arrival_from_json(request, clock_start=self.clock.start, now=now))
            except (ArrivalError, PlugOccupied) as exc:
                return {"ok": False, "error": str(exc)}
        elif op == "depart":
            self._station(request).station.unplug()
            self._dirty = True
        elif op == "reset_meter":
            number = int(request.get("meter", 1))
            if number not in self.meters:
                return {"ok": False, "error": f"no meter {number}"}
            self.meters[number].meter.reset(now)
            self._dirty = True
        elif op == "energy":
            return {
                "ok": True,
                "time": self._last_tick.isoformat(),  # the simulated instant the counters are as of
                "stations": {
                    str(n): {"cumulative_wh": b.station.delivered_wh, "power_w": b.station.power_w}
                    for n, b in self.stations.items()
                },
            }
        elif op != "status":
            return {"ok": False, "error": f"unknown op {op!r}"}
        if self._dirty:
            self._save()
            self._publish()
        return {"ok": True, **self.status()}

    def _station(self, request: dict[str, Any]) -> StationBinding:
        number = int(request.get("station", 1))
        if number not in self.stations:
            raise KeyError(f"no station {number}")
        return self.stations[number]

    def status(self) -> dict[str, Any]:
        """Simulation state, JSON-ready."""
        return {
            "time": self.clock.now().isoformat(),
            "power_ups": self.power_ups,
            "stations": [
                {
                    "station": n,
                    "ld": b.ld,
                    "ev_id": b.station.ev.arrival.ev_id if b.station.ev else None,
                    "closed": b.station.closed,
                    "power_w": b.station.power_w,
                    "conn_state": b.station.conn_state.name,
                    "soc_pct": b.station.ev.soc_pct if b.station.ev else None,
                    "delivered_wh": b.station.delivered_wh,
                    "limit_w": b.station.limit_w,
                }
                for n, b in self.stations.items()
            ],
            "meters": [
                {
                    "meter": n,
                    "ld": b.ld,
                    "total_wh": b.meter.total_wh,
                    "power_w": b.meter.power_w,
                    "resets": b.meter.resets,
                }
                for n, b in self.meters.items()
            ],
        }

    # --- data model ------------------------------------------------------------------------
    def _values(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for b in self.stations.values():
            s, ev, ld = b.station, b.station.ev, b.ld
            amps = s.power_w / (PHASES * VOLTAGE_V)
            values.update(
                {
                    refs.CONN_ST.at(ld): int(s.conn_state),
                    refs.PLUG_ST.at(ld): int(s.plug_state),
                    refs.EV_ID.at(ld): ev.arrival.ev_id if ev else "",
                    refs.EV_ENERGY_WH.at(ld): float(ev.arrival.energy_wh) if ev else 0.0,
                    refs.EV_DEPARTURE.at(ld): ev.arrival.departure if ev else EPOCH,
                    refs.EV_MAX_A.at(ld): ev.arrival.power_limit_w / (PHASES * VOLTAGE_V) if ev else 0.0,
                    refs.EV_SOC_PCT.at(ld): round(ev.soc_pct, 3) if ev else 0.0,
                    refs.STATION_TARGET_W.at(ld): s.target_w,
                    refs.STATION_LIMIT_W.at(ld): s.limit_w,
                    refs.STATION_LIMIT_MAX_W.at(ld): s.rated_w,
                    refs.CONTACTOR_POS.at(ld): int(s.position),
                    refs.SWITCH_POS.at(ld): int(s.position),
                    refs.SWITCH_OP_COUNT.at(ld): s.switch_count,
                    refs.STATION_TOTW.at(ld): s.power_w,
                    refs.STATION_A.at(ld): amps,
                    refs.STATION_V.at(ld): VOLTAGE_V if ev else 0.0,
                    refs.STATION_A_A.at(ld): amps,
                    refs.STATION_PHV_A.at(ld): VOLTAGE_V,
                    refs.POWER_UPS.at(ld): self.power_ups,
                }
            )
        for m in self.meters.values():
            meter, ld = m.meter, m.ld
            values.update(
                {
                    refs.METER_TOTWH.at(ld): meter.total_wh,
                    refs.METER_TOTWH_FROZEN.at(ld): meter.frozen_wh,
                    refs.METER_TOTWH_FROZEN_AT.at(ld): meter.frozen_at or EPOCH,
                    refs.METER_SUPWH.at(ld): int(meter.supplied_wh),
                    refs.METER_TOTW.at(ld): meter.power_w,
                    refs.METER_A_A.at(ld): meter.power_w / (PHASES * VOLTAGE_V),
                    refs.METER_PHV_A.at(ld): VOLTAGE_V,
                    refs.POWER_UPS.at(ld): self.power_ups,
                }
            )
        return values

    def _publish(self) -> None:
        values = self._values()
        changed = {ref: v for ref, v in values.items() if self._published.values.get(ref) != v}
        if changed:
            with self.server.batch():
                for ref, value in changed.items():
                    self.server.update(ref, value)  # type: ignore[arg-type]
            self._published.values.update(changed)
        self._dirty = False

    # --- persistence -----------------------------------------------------------------------
    def _save(self) -> None:
        if self.state_file is None:
            return
        state = {
            "version": 1,
            "time": self.clock.now().isoformat(),
            "power_ups": self.power_ups,
            "stations": {str(n): b.station.to_state() for n, b in self.stations.items()},
            "meters": {str(n): b.meter.to_state() for n, b in self.meters.items()},
            "pending": [a.to_json() for a in self._pending],
        }
        temporary = self.state_file.with_name(self.state_file.name + ".tmp")
        temporary.write_text(json.dumps(state), encoding="utf-8")
        os.replace(temporary, self.state_file)  # atomic: a crash leaves the old or the new file

    def _restore(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        self.power_ups = int(state.get("power_ups", 0)) + 1
        saved_time = datetime.fromisoformat(state["time"])
        if self.clock.epoch is None:
            # A private timeline resumes where it stopped, whatever --start says.
            self.clock.start = saved_time - timedelta(
                seconds=(self.clock.now() - self.clock.start).total_seconds()
            )
        # A shared (epoch-anchored) timeline went on while the IED was off: no rewind;
        # the stations were powered off in between, so no energy flowed.
        for key, data in state.get("stations", {}).items():
            if int(key) in self.stations:
                ev = None
                if data.get("ev"):
                    arrival = arrival_from_json(
                        data["ev"]["arrival"], clock_start=self.clock.start, now=saved_time
                    )
                    ev = ConnectedEv(arrival, float(data["ev"]["delivered_wh"]), bool(data["ev"]["full"]))
                self.stations[int(key)].station.restore(data, ev)
        for key, data in state.get("meters", {}).items():
            if int(key) in self.meters:
                self.meters[int(key)].meter.restore(data)
        self._pending = [
            arrival_from_json(a, clock_start=self.clock.start, now=saved_time)
            for a in state.get("pending", [])
        ]
        log.info("state restored from %s (power-up %d)", self.state_file, self.power_ups)
