"""IEC 61850 field layer over real MMS on loopback: IEDs in subprocesses, evgrid's client.

Each test starts ``python -m evgrid ied serve`` on a port picked at run time, drives the
simulated hardware through the IED's control channel, and talks MMS to it through
:class:`evgrid.adapters.iec61850.client.IedClient` (the binding's server and client
never share a process). Waits are deadlines on conditions, not sleeps.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from evgrid.adapters.iec61850.client import ConnectionEvent, IedClient
from evgrid.adapters.iec61850.devices import (
    EnergyReading,
    EvState,
    MeterDevice,
    StationDevice,
    SwitchState,
)
from evgrid.adapters.iec61850.tls import TlsSettings
from evgrid.errors import DeviceUnreachable, WriteRejected
from evgrid.mappings import iec61850_refs as refs
from evgrid.mappings.iec61850_refs import AddCause, ConnState
from evgrid.sim.devices.control import ControlClient

ROOT = Path(__file__).resolve().parents[2]
EVSE_ICD = ROOT / "evgrid" / "schemas" / "scl" / "evse.icd"
METER_ICD = ROOT / "evgrid" / "schemas" / "scl" / "meter.icd"
T = TypeVar("T")


class Ied:
    """An ``evgrid ied serve`` subprocess; ``start`` returns when it said ready."""

    def __init__(self, log_dir: Path, *args: str) -> None:
        self.args = args
        self.log_dir = log_dir
        self.process: subprocess.Popen[str] | None = None
        self.control_port = 0
        self.starts = 0

    def start(self, timeout_s: float = 15.0) -> Ied:
        self.starts += 1
        stderr = (self.log_dir / f"ied-{self.starts}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evgrid", "ied", "serve", *self.args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=ROOT,
        )
        stderr.close()
        line = self._ready_line(timeout_s)
        fields = dict(part.split("=", 1) for part in line.split()[1:])
        if "control" in fields:
            self.control_port = int(fields["control"].rsplit(":", 1)[1])
        return self

    def _ready_line(self, timeout_s: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout_s):
                self.stop()
                pytest.fail(f"IED not ready within {timeout_s} s: {self.log()}")
        line = self.process.stdout.readline()
        if not line.startswith("ready "):
            pytest.fail(f"IED failed to start ({self.process.wait(5)}): {self.log()}")
        return line

    def control(self) -> ControlClient:
        return ControlClient(self.control_port)

    def log(self) -> str:
        return (self.log_dir / f"ied-{self.starts}.log").read_text()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self._release()

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
        self._release()
        return self.process.returncode

    def _release(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def ied_factory(tmp_path: Path) -> Iterator[Callable[..., Ied]]:
    started: list[Ied] = []

    def make(*args: str) -> Ied:
        ied = Ied(tmp_path, *args)
        started.append(ied)
        return ied.start()

    yield make
    for ied in started:
        if ied.process is not None and ied.process.poll() is None:
            ied.kill()
        ied._release()


class Recorder:
    """Collects callback values; waits on a condition with a deadline."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = threading.Condition()

    def __call__(self, item: Any) -> None:
        with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[Any], bool], timeout_s: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for item in self.items:
                    if predicate(item):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"condition not met within {timeout_s} s; last items: {self.items[-5:]}")
                self._changed.wait(remaining)


def _another_free_port(taken: int) -> int:
    # The `port` fixture gives one port; a second IED needs another, picked the same way.
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            candidate = int(probe.getsockname()[1])
        if candidate != taken:
            return candidate


def arrival(ev_id: str, energy_wh: int, station: int = 1, ev_limit_w: float = 7400.0) -> dict[str, Any]:
    return {
        "station": station,
        "ev_id": ev_id,
        "energy_wh": energy_wh,
        "departure_s": 12 * 3600,
        "max_power_w": 11000.0,
        "ev_limit_w": ev_limit_w,
        "soc_pct": 20.0,
    }


def assert_monotonic(readings: list[EnergyReading]) -> None:
    totals = [r.total_wh for r in readings]
    assert totals == sorted(totals), f"register went backwards: {totals}"


def test_uc_1_to_2_3_2_plug_in_charge_until_full(ied_factory: Callable[..., Ied], port: int) -> None:
    ied = ied_factory("--scl", str(EVSE_ICD), "--port", str(port), "--speed", "3600")
    ev_states, switches, measures = Recorder(), Recorder(), Recorder()
    with IedClient("127.0.0.1", port) as client, ied.control() as control:
        station = StationDevice(client, refs.station_ld())
        station.on_ev_state(ev_states)
        station.on_switch(switches)
        station.on_measure(lambda watts, soc: measures((watts, soc)))
        ev_states.wait_for(lambda s: s.conn_state is ConnState.A)  # GI snapshot: nobody plugged in

        control.arrive(**arrival("EV-0001", energy_wh=4000))
        plugged: EvState = ev_states.wait_for(lambda s: s.plugged_in)  # step 1 -> 1.1.1
        assert (plugged.ev_id, plugged.energy_wh, plugged.conn_state) == ("EV-0001", 4000.0, ConnState.B)
        assert plugged.target_w == 7400.0  # min(station 11 kW, EV 7.4 kW)
        assert plugged.departure is not None

        station.close_contactor()  # step 2.3
        switches.wait_for(lambda s: s.closed and s.conn_state is ConnState.C)
        measures.wait_for(lambda m: m[0] == 7400.0)
        measures.wait_for(lambda m: m[1] > 50.0)  # state of charge rises with the clock
        done: SwitchState = switches.wait_for(lambda s: s.completed, timeout_s=15)  # step 2.3.2
        assert not done.closed and done.conn_state is ConnState.B
        status = control.status()["stations"][0]
        assert status["delivered_wh"] == pytest.approx(4000.0)
        assert not station.contactor_closed()
    assert ied.stop() == 0


def test_rejected_operates_carry_the_add_cause(ied_factory: Callable[..., Ied], port: int) -> None:
    ied = ied_factory("--scl", str(EVSE_ICD), "--port", str(port))
    with IedClient("127.0.0.1", port) as client, ied.control() as control:
        station = StationDevice(client, refs.station_ld())
        with pytest.raises(WriteRejected) as no_ev:
            station.close_contactor()
        assert no_ev.value.add_cause == AddCause.BLOCKED_BY_PROCESS.label
        assert no_ev.value.ref == refs.CONTACTOR.at(refs.station_ld())
        assert no_ev.value.code == "5.3"

        control.arrive(**arrival("EV-0002", energy_wh=10000))
        with pytest.raises(WriteRejected) as already_open:
            station.open_contactor()
        assert already_open.value.add_cause == AddCause.POSITION_REACHED.label
        assert not station.contactor_closed()  # nothing changed
        station.close_contactor()
        assert station.contactor_closed()
        with pytest.raises(WriteRejected, match="Position-reached"):
            station.close_contactor()


def test_run_and_report_callbacks_call_the_client_on_its_io_thread(
    ied_factory: Callable[..., Ied], port: int
) -> None:
    ied = ied_factory("--scl", str(EVSE_ICD), "--port", str(port))
    seen = Recorder()
    with IedClient("127.0.0.1", port) as client, ied.control() as control:
        station = StationDevice(client, refs.station_ld())

        def burst() -> tuple[bool, bool, EvState]:
            # Nested calls (and a nested run) run inline; queued, they would deadlock.
            return client.on_io_thread, station.contactor_closed(), client.run(station.read_ev)

        on_io, closed, ev = client.run(burst)
        assert on_io and not closed and ev.conn_state is ConnState.A
        assert not client.on_io_thread
        with pytest.raises(ZeroDivisionError):
            client.run(lambda: 1 / 0)

        # The portal's way: read the device from inside its report callback.
        station.on_ev_state(
            lambda state: seen((client.on_io_thread, state.ev_id, station.contactor_closed()))
        )
        control.arrive(**arrival("EV-0009", energy_wh=5000))
        assert seen.wait_for(lambda item: item[1] == "EV-0009") == (True, "EV-0009", False)


def test_gateway_serves_20_stations_with_their_meters(ied_factory: Callable[..., Ied], port: int) -> None:
    stations = 20
    ied = ied_factory(
        "--scl", str(EVSE_ICD), "--port", str(port), "--stations", str(stations), "--speed", "600"
    )
    energy = {n: Recorder() for n in range(1, stations + 1)}
    with IedClient("127.0.0.1", port, timeout_s=5.0) as client, ied.control() as control:
        meters = {n: MeterDevice(client, refs.meter_ld(n, ied=refs.STATION_IED)) for n in energy}
        for n, meter in meters.items():
            meter.on_energy(energy[n])
        for n in energy:
            control.arrive(**arrival(f"EV-{n:04d}", energy_wh=50000, station=n, ev_limit_w=3000.0 + 100 * n))
        # Half the control handles made together beforehand (as a portal host does), half at first operate.
        client.prepare_controls([ref for n in range(1, 11) for ref in StationDevice(client, refs.station_ld(n)).control_refs()])
        for n in energy:
            StationDevice(client, refs.station_ld(n)).close_contactor()
        for n, recorder in energy.items():
            recorder.wait_for(lambda r: r.total_wh >= 100, timeout_s=15)
            reading = meters[n].read_energy()
            assert reading.power_w == pytest.approx(3000.0 + 100 * n)
            assert reading.power_ups == 1
        for recorder in energy.values():
            assert_monotonic(recorder.items)


def test_scripted_arrivals_plug_in_on_time(
    ied_factory: Callable[..., Ied], port: int, tmp_path: Path
) -> None:
    script = tmp_path / "arrivals.json"
    script.write_text(
        json.dumps(
            {
                "arrivals": [
                    {**arrival("EV-0010", energy_wh=9000, station=2), "at_s": 0},
                    {**arrival("EV-0011", energy_wh=7000, station=1), "at_s": 900},  # 0.25 s at 3600x
                ]
            }
        )
    )
    args = (
        "--stations",
        "2",
        "--speed",
        "3600",
        "--start",
        "2026-01-15T18:00:00+00:00",
        "--arrivals",
        str(script),
    )
    ied = ied_factory("--scl", str(EVSE_ICD), "--port", str(port), *args)
    first, second = Recorder(), Recorder()
    with IedClient("127.0.0.1", port) as client:
        StationDevice(client, refs.station_ld(2)).on_ev_state(first)
        StationDevice(client, refs.station_ld(1)).on_ev_state(second)
        assert first.wait_for(lambda s: s.plugged_in).ev_id == "EV-0010"
        late: EvState = second.wait_for(lambda s: s.plugged_in)
        assert (late.ev_id, late.energy_wh) == ("EV-0011", 7000.0)
        assert late.departure is not None and late.departure.isoformat() == "2026-01-16T06:15:00+00:00"
    with ied.control() as control:
        assert control.status()["time"] >= "2026-01-15T18:15"


def test_meter_reset_is_a_reported_event(ied_factory: Callable[..., Ied], port: int) -> None:
    ied = ied_factory("--scl", str(EVSE_ICD), "--port", str(port), "--stations", "1", "--speed", "3600")
    energy = Recorder()
    with IedClient("127.0.0.1", port) as client, ied.control() as control:
        meter = MeterDevice(client, refs.meter_ld(1, ied=refs.STATION_IED))
        meter.on_energy(energy)
        control.arrive(**arrival("EV-0003", energy_wh=2000))
        StationDevice(client, refs.station_ld(1)).close_contactor()
        before = energy.wait_for(lambda r: r.total_wh >= 1000)
        control.request("reset_meter", meter=1)
        reset = energy.wait_for(lambda r: r.frozen_at is not None)
        assert reset.frozen_wh >= before.total_wh
        assert reset.total_wh < reset.frozen_wh


def test_ied_killed_mid_charge_and_restarted(
    ied_factory: Callable[..., Ied], port: int, tmp_path: Path
) -> None:
    state = tmp_path / "ied-state.json"
    args = (
        "--scl",
        str(EVSE_ICD),
        "--port",
        str(port),
        "--stations",
        "2",
        "--speed",
        "1800",
        "--state",
        str(state),
    )
    ied = ied_factory(*args)
    energy, events = Recorder(), Recorder()
    ld = refs.meter_ld(1, ied=refs.STATION_IED)
    with IedClient("127.0.0.1", port, retry_interval_s=0.1) as client:
        client.on_connection(events)
        meter, station = MeterDevice(client, ld), StationDevice(client, refs.station_ld(1))
        meter.on_energy(energy)
        with ied.control() as control:
            control.arrive(**arrival("EV-0004", energy_wh=40000))
        station.close_contactor()
        energy.wait_for(lambda r: r.total_wh >= 500)

        ied.kill()  # mid-charge, no chance to save anything more
        events.wait_for(lambda e: e is ConnectionEvent.LOST)
        seen_before_kill = max(r.total_wh for r in energy.items)
        ied.start()
        events.wait_for(lambda e: e is ConnectionEvent.CONNECTED)  # the client reconnected by itself

        after = energy.wait_for(lambda r: r.power_ups == 2)  # GI after reconnect: the IED restarted
        assert after.total_wh >= seen_before_kill  # no Wh lost, none counted twice
        assert not station.contactor_closed()  # a restart is a power cycle: contactor open
        assert station.read_ev().ev_id == "EV-0004"  # the EV is still plugged in
        station.close_contactor()
        energy.wait_for(lambda r: r.total_wh >= after.total_wh + 200)
        assert_monotonic(energy.items)
    assert ied.stop() == 0


def test_standalone_meter_measures_a_standalone_station(ied_factory: Callable[..., Ied], port: int) -> None:
    station_ied = ied_factory("--scl", str(EVSE_ICD), "--port", str(port), "--speed", "3600")
    meter_port = _another_free_port(port)
    ied_factory(
        "--scl", str(METER_ICD), "--port", str(meter_port), "--measure", str(station_ied.control_port)
    )
    energy = Recorder()
    with IedClient("127.0.0.1", port) as station_client, IedClient("127.0.0.1", meter_port) as meter_client:
        MeterDevice(meter_client, refs.meter_ld()).on_energy(energy)
        with station_ied.control() as control:
            control.arrive(**arrival("EV-0005", energy_wh=3000))
        StationDevice(station_client, refs.station_ld()).close_contactor()
        full = energy.wait_for(lambda r: r.total_wh >= 2990 and r.power_w == 0.0, timeout_s=15)
        assert full.total_wh <= 3000
        assert_monotonic(energy.items)


def test_any_icd_is_served(ied_factory: Callable[..., Ied], port: int, reference_dir: Path) -> None:
    icd = reference_dir / "iec61850" / "icd-examples" / "beagle_demo_FSCH.icd"
    ied = ied_factory("--scl", str(icd), "--port", str(port))
    reports = Recorder()
    with IedClient("127.0.0.1", port) as client:
        assert client.read("TemplateGenericIO/GGIO1.SPCSO1.ctlModel", "CF") == 1
        client.subscribe("TemplateGenericIO/LLN0.RP.EventsRCB", reports)
        first = reports.wait_for(lambda r: r.is_gi)
        assert first.rcb == "TemplateGenericIO/LLN0.RP.EventsRCB01"
        assert len(first.values) == 4
        assert client.read_dataset("TemplateGenericIO/LLN0.Events") == list(first.values)
        client.operate("TemplateGenericIO/GGIO1.SPCSO1", True)  # direct-with-normal-security, accepted
    assert ied.stop() == 0


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test CA, a server and a client certificate it signs, and a self-signed rogue."""
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("EVGRID_REQUIRE_SERVICES") == "1":
            pytest.fail("openssl is needed to make test certificates")
        pytest.skip("openssl is needed to make test certificates")
    folder = tmp_path_factory.mktemp("pki")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True, timeout=60)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=evgrid test CA",
    )
    for name in ("server", "client", "rogue"):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
        )
    for name in ("server", "client"):
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
        )
    run("x509", "-req", "-in", "rogue.csr", "-signkey", "rogue.key", "-out", "rogue.pem", "-days", "2")
    return folder


def test_mutual_tls_refuses_untrusted_clients(
    ied_factory: Callable[..., Ied], port: int, certificates: Path
) -> None:
    pki = certificates
    ied_factory(
        "--scl",
        str(METER_ICD),
        "--port",
        str(port),
        "--tls-cert",
        str(pki / "server.pem"),
        "--tls-key",
        str(pki / "server.key"),
        "--tls-ca",
        str(pki / "ca.pem"),
    )
    trusted = TlsSettings(pki / "client.pem", pki / "client.key", pki / "ca.pem")
    with IedClient("127.0.0.1", port, tls=trusted) as client:
        assert client.read(refs.POWER_UPS.at(refs.meter_ld()), "ST") == 1
    rogue = TlsSettings(pki / "rogue.pem", pki / "rogue.key", pki / "ca.pem")
    for settings in (rogue, None):  # untrusted certificate, and no TLS at all
        client = IedClient("127.0.0.1", port, tls=settings, reconnect=False, timeout_s=1.0)
        with pytest.raises(DeviceUnreachable):
            client.connect()
        client.close()


def test_sigterm_ends_the_server_cleanly(ied_factory: Callable[..., Ied], port: int) -> None:
    ied = ied_factory("--scl", str(METER_ICD), "--port", str(port))
    events = Recorder()
    with IedClient("127.0.0.1", port, reconnect=False) as client:
        client.on_connection(events)
        assert client.read(refs.POWER_UPS.at(refs.meter_ld()), "ST") == 1
        assert ied.stop() == 0
        assert "stopped" in ied.log()
        events.wait_for(lambda e: e is ConnectionEvent.LOST)
    assert os.path.exists(EVSE_ICD)
