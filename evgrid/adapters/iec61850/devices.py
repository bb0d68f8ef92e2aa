"""Typed views of evgrid's station and meter IEDs over an :class:`IedClient`.

They turn the references of :mod:`evgrid.mappings.iec61850_refs` into domain values
(EV identity and requirements, contactor state, meter register) and reports into
typed callbacks, so the portal never handles 61850 references itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from evgrid.adapters.iec61850.client import IedClient
from evgrid.adapters.iec61850.reports import Report
from evgrid.adapters.iec61850.values import Value
from evgrid.errors import DeviceError
from evgrid.mappings import iec61850_refs as refs
from evgrid.mappings.iec61850_refs import ConnState, Dbpos, PlugState


@dataclass(frozen=True, slots=True)
class EvState:
    """Outlet and EV as DEAO1/DEEV1/DESE1 show them (use-case step 1.1.1)."""

    conn_state: ConnState
    plug: PlugState
    ev_id: str | None
    energy_wh: float
    departure: datetime | None
    max_current_a: float
    target_w: float

    @property
    def plugged_in(self) -> bool:
        """An EV is connected."""
        return self.conn_state is not ConnState.A and self.ev_id is not None


@dataclass(frozen=True, slots=True)
class SwitchState:
    """Contactor position and outlet state; ``completed`` marks step 2.3.2."""

    closed: bool
    conn_state: ConnState
    completed: bool


@dataclass(frozen=True, slots=True)
class EnergyReading:
    """Meter register and its reset record (MMTR1.TotWh) plus power and power-ups."""

    total_wh: int
    frozen_wh: int
    frozen_at: datetime | None
    power_w: float
    power_ups: int


def _ev_state(values: list[Value] | tuple[Value, ...]) -> EvState:
    conn, plug, ev_id, energy, departure, amax, target = values
    epoch = isinstance(departure, datetime) and departure.timestamp() == 0
    return EvState(
        conn_state=ConnState(int(conn or 1)),  # type: ignore[arg-type]
        plug=PlugState(int(plug or 1)),  # type: ignore[arg-type]
        ev_id=str(ev_id) if ev_id else None,
        energy_wh=float(energy or 0.0),  # type: ignore[arg-type]
        departure=None if epoch or not isinstance(departure, datetime) else departure,
        max_current_a=float(amax or 0.0),  # type: ignore[arg-type]
        target_w=float(target or 0.0),  # type: ignore[arg-type]
    )


def _energy(values: list[Value] | tuple[Value, ...]) -> EnergyReading:
    total, frozen, frozen_at, _supplied, power, power_ups = values
    epoch = not isinstance(frozen_at, datetime) or frozen_at.timestamp() == 0
    return EnergyReading(
        total_wh=int(total or 0),  # type: ignore[call-overload]
        frozen_wh=int(frozen or 0),  # type: ignore[call-overload]
        frozen_at=None if epoch else frozen_at,  # type: ignore[arg-type]
        power_w=float(power or 0.0),  # type: ignore[arg-type]
        power_ups=int(power_ups or 0),  # type: ignore[call-overload]
    )


class _Merged:
    """The data set's values as of the latest report: members it did not include keep theirs.

    After a (re)subscription a data-change report can arrive before the general
    interrogation: it carries only what changed, and the binding's values for the other
    members start out empty. Such a report must not read as "no EV". Until each
    ``required`` member has been seen, reports are held back.
    """

    def __init__(self, size: int, *, required: tuple[int, ...]) -> None:
        self.values: list[Value] = [None] * size
        self._seen = [False] * size
        self._required = required

    def apply(self, report: Report) -> bool:
        """Take the members ``report`` includes; True when the state is complete enough to use."""
        for index, value in enumerate(report.values[: len(self.values)]):
            if report.changed(index) or (not self._seen[index] and value is not None):
                self.values[index] = value
                self._seen[index] = True
        return all(self._seen[index] for index in self._required)


class StationDevice:
    """An EV charging station logical device (e.g. ``EVSESTA`` or ``EVSESTA0007``)."""

    def __init__(self, client: IedClient, ld: str) -> None:
        self.client = client
        self.ld = ld
        self._last_conn: ConnState | None = None

    def control_refs(self) -> list[str]:
        """The station's controllable objects (contactor, power limit), for :meth:`IedClient.prepare_controls`."""
        return [refs.CONTACTOR.at(self.ld), refs.POWER_LIMIT.at(self.ld)]

    def read_ev(self) -> EvState:
        """Read outlet and EV state now."""
        return _ev_state(self.client.read_many([(r.at(self.ld), r.fc) for r in refs.EV_STATE_MEMBERS]))

    def contactor_closed(self) -> bool:
        """True when the contactor is closed."""
        return self.client.read(refs.CONTACTOR_POS.at(self.ld), refs.CONTACTOR_POS.fc) == Dbpos.ON

    def close_contactor(self) -> None:
        """Start charging (step 2.3); WriteRejected with the AddCause when refused."""
        self.client.operate(refs.CONTACTOR.at(self.ld), True)

    def open_contactor(self) -> None:
        """Stop charging."""
        self.client.operate(refs.CONTACTOR.at(self.ld), False)

    def set_power_limit(self, kw: float) -> None:
        """Set the grid's charging power limit (IEC 61850-90-8 DESE1.ChaPwrLim), kW.

        The station draws at most this much from now on, whichever EV is plugged in,
        until the next limit; 0 pauses charging with the contactor left closed. The IED
        takes 0 up to its rating (DESE1.ChaPwrLim.maxVal). With direct control the IED
        answers once it accepted the value and applies it right after (libiec61850 runs
        the operate after the write response); :meth:`read_power_limit` shows the limit
        in force, which the IED has saved by then.

        Args:
            kw: The new limit in kW (sent in W as the APC's ctlVal).

        Raises:
            WriteRejected: The IED refused the value (AddCause Inconsistent-parameters
                for a value outside 0..rating); the limit in force is unchanged.
            DeviceUnreachable: The IED did not answer.
        """
        self.client.operate(refs.POWER_LIMIT.at(self.ld), kw * 1000.0)

    def read_power_limit(self) -> float:
        """The charging power limit in force (DESE1.ChaPwrLim.mxVal), kW."""
        ref = refs.STATION_LIMIT_W.at(self.ld)
        watts = self.client.read(ref, refs.STATION_LIMIT_W.fc)
        if isinstance(watts, bool) or not isinstance(watts, int | float):
            raise DeviceError(f"{ref} is not a number: {watts!r}")
        return float(watts) / 1000.0

    def on_ev_state(self, callback: Callable[[EvState], None]) -> None:
        """Plug-in / EV identity reports (RCB urcbEV), each a complete state."""
        merged = _Merged(len(refs.EV_STATE_MEMBERS), required=(0, 2))
        self.client.subscribe(
            f"{self.ld}/{refs.RCB_EV_STATE}",
            lambda report: merged.apply(report) and callback(_ev_state(merged.values)),  # type: ignore[func-returns-value]
        )

    def on_switch(self, callback: Callable[[SwitchState], None]) -> None:
        """Contactor and charging-complete reports (RCB urcbSw)."""
        merged = _Merged(3, required=(0, 2))

        def handle(report: Report) -> None:
            if not merged.apply(report):
                return
            pos, _switch, conn = merged.values
            current = ConnState(int(conn or 1))  # type: ignore[call-overload]
            completed = refs.charging_complete(self._last_conn, current) and pos == Dbpos.OFF
            self._last_conn = current
            callback(SwitchState(closed=pos == Dbpos.ON, conn_state=current, completed=completed))

        self.client.subscribe(f"{self.ld}/{refs.RCB_SWITCH}", handle)

    def on_measure(self, callback: Callable[[float, float], None]) -> None:
        """Charging power (W) and EV state of charge (%) reports (RCB urcbMX).

        The data set also carries the power limit in force (DESE1.ChaPwrLim.mxVal.f, W)
        as its third member, so a report follows every limit change.
        """
        self.client.subscribe(
            f"{self.ld}/{refs.RCB_MEASURE}",
            lambda r: callback(float(r.values[0] or 0.0), float(r.values[1] or 0.0)),
        )  # type: ignore[arg-type]


class MeterDevice:
    """A meter logical device (e.g. ``METERMTR`` or ``EVSEMTR0007``)."""

    def __init__(self, client: IedClient, ld: str) -> None:
        self.client = client
        self.ld = ld

    def read_energy(self) -> EnergyReading:
        """Read the register (step 2.3.1 / 2.3.3) with its reset record."""
        return _energy(self.client.read_many([(r.at(self.ld), r.fc) for r in refs.ENERGY_MEMBERS]))

    def read_total_wh(self) -> int:
        """The forward active energy register, Wh."""
        return int(self.client.read(refs.METER_TOTWH.at(self.ld), refs.METER_TOTWH.fc))  # type: ignore[arg-type]

    def on_energy(self, callback: Callable[[EnergyReading], None]) -> None:
        """Energy reports (RCB urcbEnergy): register, resets, power, power-ups."""
        self.client.subscribe(f"{self.ld}/{refs.RCB_ENERGY}", lambda report: callback(_energy(report.values)))
