"""Assemble and run one IED process: SCL -> model -> MMS server (+ simulated hardware).

:func:`plan_ied` decides what the process serves. Any ICD is served as it is. When a
logical device carries evgrid's station nodes (CSWI1, DEAO1, DEEV1, DESE1) or meter
node (MMTR1), simulated hardware is attached to it. In gateway mode (``stations=N``)
the station logical device of the ICD is served N times (``STA0001`` ...), each paired
with a meter logical device (``MTR0001`` ...) taken from evgrid's ``meter.icd`` that
measures it (see :mod:`evgrid.mappings.iec61850_refs`).

:class:`IedProcess` runs everything on one thread: server poll, control channel poll,
simulation tick; :meth:`IedProcess.serve` returns when ``stop`` says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from evgrid.adapters.iec61850 import model as model_builder
from evgrid.adapters.iec61850 import scl
from evgrid.adapters.iec61850.model import BuiltModel, DevicePlan
from evgrid.adapters.iec61850.server import IedServerRunner
from evgrid.adapters.iec61850.tls import TlsSettings
from evgrid.clock import AcceleratedClock
from evgrid.errors import ControlError
from evgrid.mappings import iec61850_refs as refs
from evgrid.sim.devices.arrivals import Arrival
from evgrid.sim.devices.control import ControlClient, ControlServer
from evgrid.sim.devices.field import FieldSimulation, MeterBinding, StationBinding
from evgrid.sim.devices.meter import Meter, SourceReading
from evgrid.sim.devices.station import Station

log = logging.getLogger(__name__)

STATION_NODES = frozenset({"CSWI1", "DEAO1", "DEEV1", "DESE1"})
METER_NODES = frozenset({"MMTR1"})
TICK_S = 0.1
POLL_MS = 10


def packaged_scl(name: str) -> Path:
    """Path of an ICD shipped in ``evgrid/schemas/scl``."""
    return Path(str(resources.files("evgrid").joinpath("schemas").joinpath("scl").joinpath(name)))


@dataclass(slots=True)
class IedPlan:
    """What one IED process serves."""

    ied_name: str
    devices: list[DevicePlan]
    station_lds: list[str] = field(default_factory=list)
    meter_lds: list[str] = field(default_factory=list)


def _nodes(device: scl.LogicalDeviceDef) -> set[str]:
    return {node.name for node in device.nodes}


def plan_ied(
    scl_file: Path,
    *,
    ied: str | None = None,
    name: str | None = None,
    stations: int | None = None,
    meter_scl: Path | None = None,
) -> IedPlan:
    """Decide the logical devices to serve and which of them are simulated.

    ``name`` renames the served IED (and so its LD names): a client process can only
    subscribe to one RCB of a given reference, so standalone IEDs built from the same
    ICD need distinct names when one process talks to several of them.
    """
    document = scl.load(scl_file)
    ied_def = document.ied(ied)
    served = name or ied_def.name
    if stations is None:
        plans = model_builder.plans_for(ied_def, document.templates)
        plan = IedPlan(served, plans)
        for device in ied_def.devices:
            ld = f"{served}{device.inst}"
            if _nodes(device) >= STATION_NODES:
                plan.station_lds.append(ld)
            elif _nodes(device) >= METER_NODES:
                plan.meter_lds.append(ld)
        return plan
    if stations < 1:
        raise scl.SclError(f"--stations must be at least 1, not {stations}")
    station_device = next((d for d in ied_def.devices if _nodes(d) >= STATION_NODES), None)
    if station_device is None:
        raise scl.SclError(
            f"gateway mode needs a station logical device ({', '.join(sorted(STATION_NODES))}) in {scl_file}"
        )
    meter_document = scl.load(meter_scl or packaged_scl("meter.icd"))
    meter_device = next((d for i in meter_document.ieds for d in i.devices if _nodes(d) >= METER_NODES), None)
    if meter_device is None:
        raise scl.SclError(f"no meter logical device (MMTR1) in {meter_scl}")
    plan = IedPlan(served, [])
    for index in range(1, stations + 1):
        station_inst = refs.gateway_inst(station_device.inst, index)
        meter_inst = refs.gateway_inst(meter_device.inst, index)
        plan.devices.append(DevicePlan(station_device, document.templates, station_inst))
        plan.devices.append(DevicePlan(meter_device, meter_document.templates, meter_inst))
        plan.station_lds.append(f"{served}{station_inst}")
        plan.meter_lds.append(f"{served}{meter_inst}")
    return plan


class RemoteStationSource:
    """Energy source of a standalone meter: a station IED's control channel (``--measure``)."""

    def __init__(self, port: int, station: int = 1) -> None:
        self.port = port
        self.station = station
        self._client: ControlClient | None = None

    def __call__(self) -> SourceReading | None:
        try:
            if self._client is None:
                self._client = ControlClient(self.port, timeout_s=0.5)
            data = self._client.request("energy")["stations"][str(self.station)]
            return SourceReading(float(data["cumulative_wh"]), float(data["power_w"]))
        except (OSError, ControlError, KeyError):
            # The station is down or restarting: measure nothing now, catch up later.
            if self._client is not None:
                self._client.close()
                self._client = None
            return None


class IedProcess:
    """One served IED with its simulated hardware and control channel."""

    def __init__(
        self,
        plan: IedPlan,
        *,
        host: str,
        port: int,
        clock: AcceleratedClock,
        arrivals: list[Arrival] | None = None,
        state_file: Path | None = None,
        control_port: int = 0,
        measure_port: int | None = None,
        tls: TlsSettings | None = None,
    ) -> None:
        self.plan = plan
        self.model: BuiltModel = model_builder.build(plan.ied_name, plan.devices)
        self.server = IedServerRunner(self.model, host=host, port=port, tls=tls)
        self.simulation: FieldSimulation | None = None
        self.control: ControlServer | None = None
        if plan.station_lds or plan.meter_lds:
            self.simulation = self._simulation(clock, arrivals, state_file, measure_port)
            self.control = ControlServer(self.simulation.handle, port=control_port)

    def _simulation(
        self,
        clock: AcceleratedClock,
        arrivals: list[Arrival] | None,
        state_file: Path | None,
        measure_port: int | None,
    ) -> FieldSimulation:
        stations = []
        for number, ld in enumerate(self.plan.station_lds, start=1):
            rated = float(self.model.initial.get(refs.STATION_RATED_W.at(ld), 11000.0))
            limit = float(self.model.initial.get(refs.STATION_LIMIT_W.at(ld), rated))
            stations.append(StationBinding(Station(number, rated_w=rated, limit_w=limit), ld))
        simulation = FieldSimulation(
            self.server, clock, stations=stations, meters=[], state_file=state_file, arrivals=arrivals
        )
        for number, ld in enumerate(self.plan.meter_lds, start=1):
            source: Callable[[], SourceReading | None]
            if number in simulation.stations:
                source = simulation.station_source(number)
            elif measure_port is not None:
                source = RemoteStationSource(measure_port)
            else:
                source = _nothing_to_measure
            simulation.meters[number] = MeterBinding(Meter(number), ld, source)
        return simulation

    def start(self) -> None:
        """Listen for MMS clients and start the simulation."""
        self.server.start()
        if self.simulation is not None:
            self.simulation.start()

    def serve(self, stop: Callable[[], bool]) -> None:
        """Serve until ``stop()`` is true; one thread does MMS, control and simulation."""
        next_tick = 0.0
        while not stop():
            self.server.poll(POLL_MS)
            if self.simulation is not None:
                self.simulation.flush()
            if self.control is not None:
                self.control.poll()
            now = time.monotonic()
            if self.simulation is not None and now >= next_tick:
                self.simulation.tick()
                next_tick = now + TICK_S

    def close(self) -> None:
        """Save the simulation, stop serving, free the model."""
        if self.simulation is not None:
            self.simulation.stop()
        if self.control is not None:
            self.control.close()
        self.server.stop()
        self.model.destroy()


def _nothing_to_measure() -> SourceReading | None:
    """Energy source of a standalone meter without ``--measure``."""
    return None
