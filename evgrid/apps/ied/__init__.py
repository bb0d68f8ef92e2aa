"""The IED process, ``evgrid ied serve``: an SCL-defined IED served over MMS (IEC 61850).

Any ICD is served as it is; for evgrid's station and meter ICDs the simulated EVs,
stations and meters (:mod:`evgrid.sim.devices`) drive its data. This is the one app that
imports the simulator: in the field the IED is a real device.
"""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from evgrid.adapters.iec61850.tls import TlsSettings
from evgrid.clock import AcceleratedClock
from evgrid.errors import ArrivalError, DeviceError, SclError
from evgrid.sim.devices.arrivals import load_arrivals
from evgrid.sim.devices.ied import IedProcess, plan_ied

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IedSettings:
    """What to serve (the SCL file and its IED), where, and the simulation around it."""

    scl: Path
    port: int
    host: str = "127.0.0.1"
    ied: str | None = None
    name: str | None = None
    clock: AcceleratedClock | None = None
    stations: int | None = None
    meter_scl: Path | None = None
    arrivals: Path | None = None
    state: Path | None = None
    control_port: int = 0
    measure: int | None = None
    tls: TlsSettings | None = None


def build(settings: IedSettings) -> IedProcess:
    """The IED process of ``settings``, not yet serving; SclError, ArrivalError, ValueError or OSError."""
    clock = settings.clock or AcceleratedClock()
    plan = plan_ied(settings.scl, ied=settings.ied, name=settings.name, stations=settings.stations,
                    meter_scl=settings.meter_scl)
    arrivals = load_arrivals(settings.arrivals, clock_start=clock.start) if settings.arrivals else None
    return IedProcess(plan, host=settings.host, port=settings.port, clock=clock, arrivals=arrivals,
                      state_file=settings.state, control_port=settings.control_port,
                      measure_port=settings.measure, tls=settings.tls)


def run(settings: IedSettings) -> int:
    """Serve until SIGTERM or SIGINT; the exit status (2: bad settings, 3: the server failed)."""
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        log.info("signal %d: stopping", signum)
        stopping = True

    try:
        process = build(settings)
    except (SclError, ArrivalError, ValueError, OSError) as exc:
        sys.stderr.write(f"evgrid ied serve: {exc}\n")
        return 2
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        process.start()
    except DeviceError as exc:
        sys.stderr.write(f"evgrid ied serve: {exc}\n")
        process.close()
        return 3
    control = f" control=127.0.0.1:{process.control.port}" if process.control else ""
    sys.stdout.write(f"ready ied={process.plan.ied_name} mms={settings.host}:{settings.port}{control} "
                     f"lds={','.join(process.model.lds)}\n")
    sys.stdout.flush()
    try:
        process.serve(lambda: stopping)
    finally:
        process.close()
    return 0
