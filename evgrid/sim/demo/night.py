"""``evgrid demo``: one simulated night through every step of the use case, on the embedded default.

What runs, each in its own process on loopback, all on one accelerated clock (shared
through ``--speed/--start/--epoch``):

- gateway IEDs (``evgrid ied serve --stations N``): the stations and meters, over MMS;
- the reference Customer Billing System (``evgrid sim billing``) and Meter Data
  Management (``evgrid sim mdm``): readings go to MDM, billing prices MDM's intervals;
- the EV Operation System with the scheduler and its dispatch (``evgrid serve``) on an
  SQLite file;
- one portal host per gateway (``evgrid portal serve``): the sites' portals.

This process only plays the world: it plugs EVs in through the IEDs' loopback control
channel at their arrival times (the EVs leave by themselves at departure), samples the
energy the stations deliver, injects the faults asked for, shows progress, and writes
the report when every session is billed and acknowledged.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from evgrid.adapters.store.night_records import pending_deliveries, session_states
from evgrid.apps.processes import Service, evgrid_command, free_port
from evgrid.clock import AcceleratedClock
from evgrid.errors import ControlError
from evgrid.sim.demo import scenario as sc
from evgrid.sim.demo.night_setup import Plant, seed_database, write_portal_files
from evgrid.sim.demo.report import LoadSample
from evgrid.sim.devices.control import ControlClient

log = logging.getLogger(__name__)

FAULT_KINDS = ("kill-core", "billing-down", "mdm-down", "restart-ied")
DONE_STATES = frozenset({"acknowledged", "cancelled"})


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault injected at a simulated time.

    ``kill-core``, ``billing-down`` or ``mdm-down`` (until ``until_utc``), ``restart-ied``.
    """

    kind: str
    at_utc: datetime
    until_utc: datetime | None = None


@dataclass(slots=True)
class DemoOptions:
    """What ``evgrid demo`` was asked for."""

    homes: int = 50
    third_party_share: float = 0.1
    seed: int = 1
    speed: float = 1200.0
    out: Path = Path("evgrid-demo")
    faults: tuple[Fault, ...] = ()
    stations_per_gateway: int = 100
    night_start_utc: datetime = sc.DEFAULT_NIGHT_START
    wall_timeout_s: float | None = None
    progress: Callable[[dict[str, object]], None] | None = None
    # How long each process may take to get ready, and the wall seconds from the start of
    # the processes to the night's (None: an estimate that grows with the homes). A busy
    # machine needs more of both: the operation system hashes every portal's password first.
    ready_timeout_s: float = 120.0
    lead_s: float | None = None


@dataclass(slots=True)
class _Gateway:
    ied: Service
    portal: Service | None
    first_station: int
    count: int
    control: ControlClient | None = None
    restarting: bool = False


@dataclass(slots=True)
class NightRun:
    """What a finished night left: the summary inputs and where everything is."""

    scenario: sc.Scenario
    database_url: str
    samples: list[LoadSample] = field(default_factory=list)
    injected: int = 0
    faults_done: list[str] = field(default_factory=list)
    portal_databases: list[Path] = field(default_factory=list)
    wall_s: float = 0.0
    timed_out: bool = False


class Night:
    """Sets up, runs and tears down one demo night."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.out = options.out.resolve()
        self.scenario = sc.generate(options.homes, third_party_share=options.third_party_share, seed=options.seed,
                                    night_start_utc=options.night_start_utc)
        self.database_url = f"sqlite:///{self.out / 'evgrid.db'}"
        self.gateways: list[_Gateway] = []
        self.core: Service | None = None
        self.billing: Service | None = None
        self.mdm: Service | None = None
        self.clock: AcceleratedClock | None = None
        self._threads: list[threading.Thread] = []
        self._secret = {name: secrets.token_urlsafe(12) for name in ("billing-in", "billing-out", "portal-in", "mdm-in")}

    # --- set up ------------------------------------------------------------------------
    def prepare(self) -> None:
        """A fresh output folder and database with the scenario's registry and tariff."""
        if self.out.exists():
            for name in ("evgrid.db", "evgrid.db-wal", "evgrid.db-shm", "logs", "state", "bills"):
                target = self.out / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        for folder in (self.out, self.out / "logs", self.out / "state"):
            folder.mkdir(parents=True, exist_ok=True)
        seed_database(self.database_url, self.scenario, self.out / "state")

    def start(self) -> None:
        """Start every process on one clock whose night begins once they are all up (estimated)."""
        opts = self.options
        # The clock's epoch is set a little ahead: until then simulated time is before the
        # night and nothing happens, so a slow start loses no arrival.
        # An estimate that grows with the homes (portals subscribe per station); the log says
        # how much of it was spare, or how late the night began.
        epoch = time.time() + (opts.lead_s if opts.lead_s is not None else 15.0 + 0.04 * opts.homes)
        self.clock = AcceleratedClock(opts.speed, opts.night_start_utc, epoch=epoch)
        clock_args = ["--speed", str(opts.speed), "--start", opts.night_start_utc.isoformat(), "--epoch", f"{epoch:.3f}"]
        billing_port, core_port, mdm_port = free_port(), free_port(), free_port()
        core_url, billing_url = f"http://127.0.0.1:{core_port}", f"http://127.0.0.1:{billing_port}"
        mdm_url, mdm_login = f"http://127.0.0.1:{mdm_port}", f"evos:{self._secret['mdm-in']}"
        plant = Plant(self.scenario, opts.stations_per_gateway)
        logs, state = self.out / "logs", self.out / "state"
        for g, (first, count) in enumerate(plant.gateways(), start=1):
            mms = free_port()
            ied = Service(f"ied-{g}", evgrid_command(
                "ied", "serve", "--scl", str(plant.station_icd), "--stations", str(count), "--port", str(mms),
                "--state", str(state / f"ied-{g}.json"), *clock_args, "--log-level", "WARNING"), logs / f"ied-{g}.log",
                ready_timeout_s=opts.ready_timeout_s)
            self.gateways.append(_Gateway(ied, None, first, count))
        portal_ports = [free_port() for _ in self.gateways]
        portals_csv = write_portal_files(self.scenario, plant, self.out / "state", portal_ports)
        self.billing = Service("billing", evgrid_command(
            "sim", "billing", "--port", str(billing_port), "--credentials", f"evos:{self._secret['billing-in']}",
            "--database", str(state / "billing.db"), "--evos-url", core_url,
            "--evos-credentials", f"billing:{self._secret['billing-out']}", "--mdm-url", mdm_url,
            "--mdm-credentials", mdm_login, "--log-level", "WARNING"), logs / "billing.log", ready_timeout_s=opts.ready_timeout_s)
        self.mdm = Service("mdm", evgrid_command(
            "sim", "mdm", "--port", str(mdm_port), "--credentials", mdm_login, "--database", str(state / "mdm.db"),
            "--log-level", "WARNING"), logs / "mdm.log", ready_timeout_s=opts.ready_timeout_s)
        self.core = Service("core", evgrid_command(
            "serve", "--database-url", self.database_url, "--port", str(core_port), "--portals", str(portals_csv),
            "--portal-credentials", f"evos:{self._secret['portal-in']}", "--billing-url", billing_url,
            "--billing-credentials", f"evos:{self._secret['billing-in']}",
            "--billing-user", f"billing:{self._secret['billing-out']}", "--mdm-url", mdm_url,
            "--mdm-credentials", mdm_login, "--planning-start",
            opts.night_start_utc.isoformat(), *clock_args,
            "--log-level", "WARNING"), logs / "core.log", ready_timeout_s=opts.ready_timeout_s)
        # Started side by side: none needs another up to start (the portals aside, which need
        # their IED's port), and one after the other they took longer than the clock's lead.
        _start_all([gateway.ied for gateway in self.gateways] + [self.mdm, self.billing, self.core])
        for gateway in self.gateways:
            gateway.control = ControlClient(int(gateway.ied.ready["control"].rsplit(":", 1)[1]))
        for g, (gateway, port) in enumerate(zip(self.gateways, portal_ports, strict=True), start=1):
            mms = gateway.ied.ready["mms"].rsplit(":", 1)[1]
            gateway.portal = Service(f"portal-{g}", evgrid_command(
                "portal", "serve", "--sites", str(state / f"sites-{g}.json"), "--ied", f"127.0.0.1:{mms}",
                "--evos-url", core_url, "--port", str(port), "--credentials", f"evos:{self._secret['portal-in']}",
                "--database", str(state / f"portal-{g}.db"), *clock_args, "--log-level", "WARNING"),
                logs / f"portal-{g}.log", ready_timeout_s=opts.ready_timeout_s)
        _start_all([gateway.portal for gateway in self.gateways if gateway.portal is not None])
        spare = epoch - time.time()
        if spare < 0:
            log.warning("the processes took %.1f s longer to start than the clock's lead: the first "
                        "arrivals of the night come late", -spare)
        else:
            log.info("every process is up %.1f s before the night begins", spare)

    def stop(self) -> None:
        """Stop every process (portals first, so that nothing is cut mid-message)."""
        for gateway in self.gateways:
            if gateway.control is not None:
                gateway.control.close()
            if gateway.portal is not None:
                gateway.portal.stop()
        for service in (self.core, self.billing, self.mdm, *(g.ied for g in self.gateways)):
            if service is not None:
                service.stop()

    # --- the night ---------------------------------------------------------------------
    def drive(self) -> NightRun:
        """Plug the EVs in on time, sample, inject faults; until every session is done."""
        assert self.clock is not None
        run = NightRun(self.scenario, self.database_url,
                       portal_databases=[self.out / "state" / f"portal-{g}.db" for g in range(1, len(self.gateways) + 1)])
        pending = list(self.scenario.visits)
        faults = sorted(self.options.faults, key=lambda f: f.at_utc)
        later: list[tuple[datetime, Callable[[], None]]] = []  # fault ends (billing back up)
        last_departure = max(v.departure_utc for v in self.scenario.visits)
        budget = self.options.wall_timeout_s or (
            (self.scenario.night_end_utc - self.scenario.night_start_utc).total_seconds() / self.options.speed * 3 + 120)
        started = time.monotonic()
        while True:
            now = self.clock.now()
            while pending and pending[0].arrival_utc <= now and self._plug_in(pending[0]):
                pending.pop(0)
                run.injected += 1
            while faults and faults[0].at_utc <= now:
                later += self._inject(faults.pop(0), run)
            for item in [r for r in later if r[0] <= now]:
                later.remove(item)
                self._background(item[1])
            self._sample(run)
            states = session_states(self.database_url)
            if self.options.progress is not None:
                self.options.progress({"time": now, "states": states, "injected": run.injected,
                                       "visits": len(self.scenario.visits), "faults": list(run.faults_done)})
            done = sum(n for s, n in states.items() if s in DONE_STATES)
            busy = any(thread.is_alive() for thread in self._threads)
            if (now >= last_departure and not pending and not faults and not later and not busy
                    and done == sum(states.values()) and pending_deliveries(self.database_url) == 0):
                break  # every session done and every message delivered (the last bills to their portals)
            if time.monotonic() - started > budget:
                log.error("the night did not finish within %.0f s: states %s", budget, states)
                run.timed_out = True
                break
            time.sleep(0.05)
        self._sample(run)
        run.wall_s = time.monotonic() - started
        return run

    def _background(self, action: Callable[[], None]) -> None:
        # Restarts take seconds of wall time, hours of simulated time: the night goes on meanwhile.
        thread = threading.Thread(target=action, name="fault", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _gateway_of(self, station_number: int) -> tuple[_Gateway, int]:
        for gateway in self.gateways:
            if gateway.first_station <= station_number < gateway.first_station + gateway.count:
                return gateway, station_number - gateway.first_station + 1
        raise KeyError(station_number)

    def _plug_in(self, visit: sc.Visit) -> bool:
        """Plug the EV in; False while its gateway restarts (it arrives when the IED is back)."""
        gateway, local = self._gateway_of(visit.station_number)
        control = gateway.control
        if gateway.restarting or control is None:
            return False
        try:
            control.arrive(station=local, ev_id=visit.ev_id, energy_wh=visit.energy_wh,
                           departure=visit.departure_utc.isoformat(), max_power_w=visit.ev_limit_w,
                           ev_limit_w=visit.ev_limit_w, room_wh=visit.room_wh)
        except (ControlError, OSError) as error:
            log.error("station %d: %s could not plug in: %s", visit.station_number, visit.ev_id, error)
        return True

    def _sample(self, run: NightRun) -> None:
        """One sample per gateway, stamped with the gateway's own simulated time of its counters.

        The IED advances its stations every 0.1 s of wall time (two simulated minutes at
        1200x): stamping the counters with this process's clock instead would put energy
        in the wrong slot and show loads that never were.
        """
        for gateway in self.gateways:
            control = gateway.control
            if control is None or gateway.restarting:
                continue  # an IED is restarting: no sample rather than a gap read as zero
            try:
                reply = control.request("energy")
            except (ControlError, OSError):
                continue
            delivered = {self.scenario.home(gateway.first_station + int(local) - 1).station_id:
                         float(values["cumulative_wh"]) for local, values in reply.get("stations", {}).items()}
            run.samples.append(LoadSample(datetime.fromisoformat(reply["time"]), delivered))

    def _inject(self, fault: Fault, run: NightRun) -> list[tuple[datetime, Callable[[], None]]]:
        assert self.core is not None and self.billing is not None and self.mdm is not None
        assert self.clock is not None
        stamp = f"{fault.kind} at {self.clock.now():%H:%M}"
        core, billing, mdm = self.core, self.billing, self.mdm
        if fault.kind == "kill-core":
            core.kill()  # SIGKILL: no shutdown, whatever was in flight
            run.faults_done.append(f"{stamp}: operation system killed (SIGKILL), restarted")
            self._background(core.start)
            return []
        if fault.kind == "billing-down":
            billing.stop()
            until = fault.until_utc or fault.at_utc + timedelta(hours=1)
            run.faults_done.append(f"{stamp}: billing down until {until:%H:%M}")
            return [(until, billing.start)]
        if fault.kind == "mdm-down":
            # Readings wait in the operation system's outbox, bills wait in billing's retries.
            mdm.stop()
            until = fault.until_utc or fault.at_utc + timedelta(hours=1)
            run.faults_done.append(f"{stamp}: meter data management down until {until:%H:%M}")
            return [(until, mdm.start)]
        if fault.kind == "restart-ied":
            for gateway in self.gateways:
                gateway.restarting = True
                self._background(lambda g=gateway: self._restart_ied(g))
            run.faults_done.append(f"{stamp}: gateway IEDs killed and restarted from their state files")
            return []
        raise ValueError(f"unknown fault {fault.kind!r}; known: {', '.join(FAULT_KINDS)}")

    @staticmethod
    def _restart_ied(gateway: _Gateway) -> None:
        if gateway.control is not None:
            gateway.control.close()
        gateway.ied.kill()
        ready = gateway.ied.start()
        gateway.control = ControlClient(int(ready["control"].rsplit(":", 1)[1]))
        gateway.restarting = False


def parse_fault(text: str, night_start_utc: datetime) -> Fault:
    """``kind@HH:MM``, ``billing-down@HH:MM-HH:MM`` or ``mdm-down@HH:MM-HH:MM`` (UTC, within the night)."""
    kind, _, when = text.partition("@")
    if kind not in FAULT_KINDS or not when:
        raise ValueError(f"a fault is KIND@HH:MM[-HH:MM] with KIND one of {', '.join(FAULT_KINDS)}: {text!r}")
    start, _, end = when.partition("-")
    return Fault(kind, _in_night(start, night_start_utc), _in_night(end, night_start_utc) if end else None)


def _in_night(hhmm: str, night_start_utc: datetime) -> datetime:
    hours, _, minutes = hhmm.partition(":")
    moment = night_start_utc.replace(hour=int(hours), minute=int(minutes or 0))
    return moment if moment >= night_start_utc else moment + timedelta(days=1)


def _start_all(services: list[Service]) -> None:
    """Start ``services`` at once and wait until every one is ready (the first failure raised)."""
    with ThreadPoolExecutor(max(1, len(services))) as pool:
        for started in [pool.submit(service.start) for service in services]:
            started.result()
