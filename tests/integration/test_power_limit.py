"""The grid's charging power limit (DESE1.ChaPwrLim) over real MMS on loopback.

The station IED runs in a subprocess (``evgrid ied serve``) as in test_iec61850.py; the
EV plugs in through the control channel and the limit is operated with
:meth:`StationDevice.set_power_limit`. Waits are deadlines on reported values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from evgrid.adapters.iec61850.client import ConnectionEvent, IedClient
from evgrid.adapters.iec61850.devices import StationDevice
from evgrid.errors import WriteRejected
from evgrid.mappings import iec61850_refs as refs
from evgrid.mappings.iec61850_refs import AddCause, ConnState
from tests.integration.test_iec61850 import EVSE_ICD, Ied, Recorder, arrival

EV_11_KW = 11000.0




def _watts(watts: float) -> Callable[[tuple[float, float]], bool]:
    return lambda measure: measure[0] == pytest.approx(watts, abs=0.5)


def test_uc_2_3_power_follows_the_grid_limit(ied_factory: Callable[..., Ied], port: int) -> None:
    ied = ied_factory("--scl", str(EVSE_ICD), "--port", str(port))
    measures = Recorder()
    with IedClient("127.0.0.1", port) as client, ied.control() as control:
        station = StationDevice(client, refs.station_ld())
        assert station.read_power_limit() == pytest.approx(11.0)  # the ICD's value: the rating
        ld = refs.station_ld()
        assert client.read(refs.STATION_LIMIT_MAX_W.at(ld), refs.STATION_LIMIT_MAX_W.fc) == 11000.0
        assert client.read(refs.STATION_LIMIT_MIN_W.at(ld), refs.STATION_LIMIT_MIN_W.fc) == 0.0

        # The limit is set before the EV comes: a new EV does not reset it.
        station.set_power_limit(3.7)
        assert station.read_power_limit() == pytest.approx(3.7)
        control.arrive(**arrival("EV-0101", energy_wh=200000, ev_limit_w=EV_11_KW))
        assert station.read_ev().target_w == pytest.approx(3700.0)
        station.on_measure(lambda watts, soc: measures((watts, soc)))
        station.close_contactor()
        measures.wait_for(_watts(3700.0))
        assert client.read(refs.STATION_TOTW.at(ld), refs.STATION_TOTW.fc) == pytest.approx(3700.0)

        station.set_power_limit(0)  # pause: no power, contactor stays closed
        measures.wait_for(_watts(0.0))
        assert station.contactor_closed()
        paused = station.read_ev()
        assert (paused.conn_state, paused.target_w) == (ConnState.C, 0.0)  # the EV still wants energy
        assert control.status()["stations"][0]["power_w"] == 0.0

        station.set_power_limit(7.4)  # resume, above the former limit
        measures.wait_for(_watts(7400.0))
        assert client.read(refs.STATION_TOTW.at(ld), refs.STATION_TOTW.fc) == pytest.approx(7400.0)
        station.set_power_limit(11.0)
        measures.wait_for(_watts(EV_11_KW))
    assert ied.stop() == 0


def test_limit_reports_carry_the_limit_in_force(ied_factory: Callable[..., Ied], port: int) -> None:
    ied_factory("--scl", str(EVSE_ICD), "--port", str(port))
    reports = Recorder()
    ld = refs.station_ld()
    with IedClient("127.0.0.1", port) as client:
        client.subscribe(f"{ld}/{refs.RCB_MEASURE}", reports)
        reports.wait_for(lambda r: r.is_gi and r.values[2] == 11000.0)
        StationDevice(client, ld).set_power_limit(2.3)
        reports.wait_for(lambda r: r.values[2] == pytest.approx(2300.0))


@pytest.mark.parametrize("kw", [11.5, -0.1, math.nan, math.inf])
def test_a_bad_limit_is_refused_and_changes_nothing(
    ied_factory: Callable[..., Ied], port: int, kw: float
) -> None:
    ied = ied_factory("--scl", str(EVSE_ICD), "--port", str(port))
    with IedClient("127.0.0.1", port) as client, ied.control() as control:
        station = StationDevice(client, refs.station_ld())
        station.set_power_limit(3.7)
        control.arrive(**arrival("EV-0102", energy_wh=200000, ev_limit_w=EV_11_KW))
        station.close_contactor()

        with pytest.raises(WriteRejected) as refused:
            station.set_power_limit(kw)
        assert refused.value.add_cause == AddCause.INCONSISTENT_PARAMETERS.label
        assert refused.value.ref == refs.POWER_LIMIT.at(refs.station_ld())
        assert "object-value-invalid" in str(refused.value)
        assert station.read_power_limit() == pytest.approx(3.7)
        status = control.status()["stations"][0]
        assert (status["limit_w"], status["power_w"], status["closed"]) == (3700.0, 3700.0, True)
        station.set_power_limit(4.0)  # the IED still takes good values
        assert station.read_power_limit() == pytest.approx(4.0)
    assert "rejected (Inconsistent-parameters)" in ied.log()


def test_limits_of_gateway_stations_are_independent(ied_factory: Callable[..., Ied], port: int) -> None:
    ied_factory("--scl", str(EVSE_ICD), "--port", str(port), "--stations", "2")
    with IedClient("127.0.0.1", port) as client:
        first, second = (StationDevice(client, refs.station_ld(n)) for n in (1, 2))
        second.set_power_limit(1.4)
        assert (first.read_power_limit(), second.read_power_limit()) == (pytest.approx(11.0), pytest.approx(1.4))


def test_the_limit_survives_an_ied_restart(ied_factory: Callable[..., Ied], port: int, tmp_path: Path) -> None:
    state = tmp_path / "ied-state.json"
    ied = ied_factory("--scl", str(EVSE_ICD), "--port", str(port), "--state", str(state))
    events, measures = Recorder(), Recorder()
    with IedClient("127.0.0.1", port, retry_interval_s=0.1) as client, ied.control() as control:
        client.on_connection(events)
        station = StationDevice(client, refs.station_ld())
        station.on_measure(lambda watts, soc: measures((watts, soc)))
        control.arrive(**arrival("EV-0103", energy_wh=200000, ev_limit_w=EV_11_KW))
        station.set_power_limit(5.0)
        # In force means saved: the IED saves a change before it publishes it.
        assert station.read_power_limit() == pytest.approx(5.0)

        ied.kill()  # no orderly shutdown
        events.wait_for(lambda e: e is ConnectionEvent.LOST)
        ied.start()
        events.wait_for(lambda e: e is ConnectionEvent.CONNECTED)

        assert station.read_power_limit() == pytest.approx(5.0)
        station.close_contactor()  # a restart opened the contactor; the EV is still there
        measures.wait_for(_watts(5000.0))
    assert ied.stop() == 0
    assert '"limit_w": 5000.0' in state.read_text()
