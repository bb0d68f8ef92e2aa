"""The utility's worker, ``evgrid serve``: its composition (:func:`build`) and its run (:func:`run`).

What runs: the operation system on the database (migrated first), its SOAP service
``EVOperationSystem`` under waitress (HTTPS with TLS files), the dispatcher of start and
stop jobs (APScheduler), the store-and-forward delivery of outbound messages: to billing,
to the portal hosts (:mod:`evgrid.adapters.soap.portals`) and, in process, the
acknowledgments to the scheduler (4.1.2); ``GET /health`` (:mod:`evgrid.apps.evos.health`);
the ESB binding when ``[amqp]`` is set; the gateways' portal hosts when ``[[gateways]]``
are. A clock setting runs the operation system on the accelerated timeline the other
processes of a demo share.

Until SIGTERM or ^C, then in order: the SOAP server stops accepting and finishes the
requests in progress, the ESB binding stops consuming, the dispatcher stops (waiting for a
job that is firing), the outbox worker finishes its current delivery; exit 0 after a
final ``stopped`` log line. A second signal meanwhile is logged and does not cut the stop short.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from evgrid import __version__
from evgrid.adapters.esb.binding import EsbBinding
from evgrid.adapters.soap.client import ServiceClient, soap_deliverer
from evgrid.adapters.soap.evos import MAY_SEND, evos_endpoint
from evgrid.adapters.soap.portals import PortalDelivery, PortalSite, add_portal_credentials, load_portals
from evgrid.adapters.soap.runner import SoapServer
from evgrid.adapters.soap.security import Credentials, Principal
from evgrid.adapters.soap.server import make_app, serve_in_thread
from evgrid.adapters.soap.tls import TlsFiles, create_demo_pki
from evgrid.adapters.store.database import ping, shared_database, unavailable
from evgrid.adapters.store.outbox import SqlOutboxStore
from evgrid.apps.evos.health import HealthApp
from evgrid.apps.evos.system import (
    OperationSystem,
    operation_system,
    outbox_worker,
    schedule_jobs,
    worker_dispatch,
)
from evgrid.apps.logs import configure_logging
from evgrid.apps.portal.gateways import PortalHosts, portal_host_command
from evgrid.clock import AcceleratedClock
from evgrid.errors import AdapterError, PortalsFileError
from evgrid.operations import events
from evgrid.scheduler.jobs import Dispatcher
from evgrid.scheduler.partitions import RollingHorizon
from evgrid.settings import (
    AmqpSettings,
    ClockSettings,
    PortalsSettings,
    ServiceSettings,
    Settings,
    SoapSettings,
    UserSettings,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Worker:
    """One ``evgrid serve`` worker, composed and not yet serving: :meth:`serve` runs it."""

    settings: Settings
    system: OperationSystem
    dispatcher: Dispatcher
    sites: list[PortalSite]
    credentials: Credentials
    tls: TlsFiles | None
    scale_out: bool

    def serve(self) -> int:
        """Serve until SIGTERM or ^C; the exit status (2: it could not start).

        The SOAP port is bound first, before anything that takes work: the outbox worker,
        the dispatcher, the ESB binding and the gateways' portal hosts start only once it
        is, so a worker that cannot listen has consumed nothing. It serves once they run.
        """
        settings, system, dispatcher = self.settings, self.system, self.dispatcher
        deferred: dict[int, object] = {}
        try:
            with contextlib.ExitStack() as stack:
                stack.callback(system.close)
                soap = make_app([evos_endpoint(system)], self.credentials, source="evgrid-evos")
                app = _Later(soap)  # the health checks are known once the rest has started
                server = _bind(app, settings.soap, self.tls, max_bytes=soap.max_bytes)
                if server is None:
                    return 2
                served = False  # once it has served, the server has stopped itself
                stack.callback(lambda: None if served else server.stop())  # a start failing further on
                deliverers: dict[str, Callable[[str, bytes], bytes]] = {}
                if settings.billing:
                    billing = stack.enter_context(ServiceClient(
                        "CustomerBilling", settings.billing.url, credentials=_login(settings.billing),
                        verify=str(settings.billing.ca) if settings.billing.ca else True))
                    deliverers[events.BILLING] = soap_deliverer(billing)
                if settings.mdm:
                    mdm = stack.enter_context(ServiceClient(
                        "MeterDataManagement", settings.mdm.url, credentials=_login(settings.mdm),
                        verify=str(settings.mdm.ca) if settings.mdm.ca else True))
                    deliverers[events.MDM] = soap_deliverer(mdm)
                if settings.portals:
                    deliverers[f"{events.PORTAL}:*"] = stack.enter_context(PortalDelivery(
                        self.sites, credentials=_login(settings.portals),
                        verify=str(settings.portals.ca) if settings.portals.ca else True))
                stack.enter_context(outbox_worker(system, deliverers).running())
                stack.enter_context(dispatcher)
                checks: dict[str, Callable[[], object]] = {
                    "database": lambda: ping(system.engine),  # type: ignore[arg-type]
                    "dispatcher": lambda: {"jobs": len(dispatcher.pending())},
                    "outbox": lambda: {"pending": SqlOutboxStore(system.sessions).count_pending()},  # type: ignore[arg-type]
                    # The partitions open here and the sessions planned in them.
                    "planner": lambda: {"partitions": len(system.planner.windows()),
                                        "sessions": len(system.planner.planned())},
                }
                if self.scale_out:  # lease renewal and the sweep of other workers' plan changes
                    worker = stack.enter_context(worker_dispatch(system, dispatcher))
                    checks["leases"] = lambda: {"held": len(worker.held())}
                else:
                    for session_id, begin, end in system.pending_dispatch():
                        dispatcher.schedule(session_id, begin, end if end and end > begin else None)
                if settings.amqp is not None:
                    try:
                        checks["amqp"] = stack.enter_context(_esb_binding(system, settings.amqp)).healthy
                    except AdapterError as error:  # the broker refused us or cannot be reached
                        log.error("cannot start: %s", error.reason)
                        return 2
                on_ready = _ready
                if settings.gateways:
                    hosts = _portal_hosts(settings)
                    stack.callback(hosts.stop)  # first to stop: the portals' outboxes keep what is unsent
                    checks["gateways"] = hosts.status
                    on_ready = lambda url: (_ready(url), hosts.start(_local(url)))  # noqa: E731
                if settings.health is None:
                    app.app = HealthApp(checks, worker=settings.worker.id, version=__version__, inner=soap)
                else:
                    app.app = soap
                    try:
                        health_url = stack.enter_context(serve_in_thread(
                            HealthApp(checks, worker=settings.worker.id, version=__version__), settings.health.host,
                            settings.health.port))
                    except OSError as error:
                        log.error("cannot start: cannot listen for /health on %s: %s",
                                  _address(settings.health.host, settings.health.port), _why(error))
                        return 2
                    log.info("health at %s/health", health_url, extra={"health": f"{health_url}/health"})
                served = True
                if not _serve(server, on_ready, settings.soap):
                    return 2
                deferred = _defer_signals()
                log.info("stopping: SOAP server closed; stopping %sthe dispatcher and the outbox worker",
                         "the ESB binding, " if settings.amqp else "")
        finally:
            for signum, handler in deferred.items():
                signal.signal(signum, handler)  # type: ignore[arg-type]
        log.info("stopped", extra={"exit": 0})
        return 0


class _Later:
    """The WSGI app, decided after the server that serves it is bound (and before it serves).

    Anything else the server asks of its app (``max_bytes``, ``too_large``) is the SOAP app's.
    """

    def __init__(self, soap: Callable[..., Iterable[bytes]]) -> None:
        self.soap = soap
        self.app: Callable[..., Iterable[bytes]] | None = None

    def __call__(self, environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
        assert self.app is not None, "served before the worker started"
        return self.app(environ, start_response)

    def __getattr__(self, name: str) -> object:
        return getattr(self.soap, name)


def _bind(app: _Later, soap: SoapSettings, tls: TlsFiles | None, *, max_bytes: int) -> SoapServer | None:
    """The SOAP server with its port bound, not serving yet; None (logged: cannot start) if it cannot be.

    A TLS certificate or key that cannot be read fails here too, before anything starts.
    """
    if tls is not None:
        try:
            tls.server_context()
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            log.error("cannot start: the TLS certificate %s or key %s cannot be used: %s",
                      tls.cert_file, tls.key_file, _why(error))
            return None
    try:
        server = SoapServer(app, soap.host, soap.port, tls, max_bytes=max_bytes, trusted_proxy=soap.trusted_proxy)
    except OSError as error:
        log.error("cannot start: cannot listen for SOAP on %s: %s", _address(soap.host, soap.port), _why(error))
        return None
    try:
        server.listen()
    except OSError as error:  # the TLS front's port
        server.stop()
        log.error("cannot start: cannot listen for SOAP on %s: %s", _address(soap.host, soap.port), _why(error))
        return None
    return server


def _serve(server: SoapServer, on_ready: Callable[[str], None], soap: SoapSettings) -> bool:
    """Serve in this thread until ^C or SIGTERM (a SIGTERM stops like ^C); False if it could not start.

    The port was bound by :func:`_bind`; an OSError before the server is ready is still
    answered as ``cannot start``.
    """
    ready = False

    def announce(url: str) -> None:
        nonlocal ready
        ready = True
        on_ready(url)

    restore = None
    if threading.current_thread() is threading.main_thread():
        restore = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run(announce)
    except OSError as error:
        if ready:
            raise
        server.stop()
        log.error("cannot start: cannot listen for SOAP on %s: %s", _address(soap.host, soap.port), _why(error))
        return False
    finally:
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)
    return True


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _why(error: BaseException) -> str:
    """An OS or TLS error in a few words, without the errno tuple."""
    return str(getattr(error, "strerror", None) or getattr(error, "reason", None) or error or type(error).__name__)


def build(settings: Settings) -> Worker:
    """Compose the worker ``settings`` describe: the database is migrated, nothing serves yet.

    Raises:
        PortalsFileError: the portals file cannot be read.
        AdapterError: the database cannot be reached or migrated, a TLS file is missing.
    """
    clock = _clock(settings.clock)
    # Without a start: windows from 16:00 UTC (any day: only the hour of the roll matters).
    planning = settings.planning
    start = planning.start or (clock.start if clock else datetime.combine(datetime.now(UTC).date(), time(16), UTC))
    horizon = RollingHorizon(start, timedelta(hours=planning.roll_hours), timedelta(hours=planning.hours_ahead))
    url = settings.database.url
    # On PostgreSQL every worker is a scale-out worker (also when alone): it dispatches the
    # stations it leases, from jobs it keeps in memory. On SQLite one process does it all,
    # its jobs in the database.
    scale_out = shared_database(url)
    job_store = None if scale_out else url
    dispatcher = Dispatcher(job_store, to_wall=clock.to_wall) if clock else Dispatcher(job_store)
    mode = ({"worker_id": settings.worker.id, "lease_ttl_seconds": settings.worker.lease_seconds} if scale_out
            else {"after_commit": schedule_jobs(dispatcher)})
    sites = load_portals(settings.portals.file) if settings.portals else []
    credentials = _credentials(settings.users, sites)
    tls = _tls(settings.soap)
    system = operation_system(url, horizon=horizon, clock=clock, forward_readings=settings.mdm is not None, **mode)  # type: ignore[arg-type]
    dispatcher.bind(system)
    return Worker(settings, system, dispatcher, sites, credentials, tls, scale_out)


def run(settings: Settings) -> int:
    """Log as ``settings`` say, compose the worker and serve until SIGTERM or ^C; the exit status."""
    configure_logging(settings.log.level, settings.log.format, settings.worker.id)
    try:
        worker = build(settings)
    except (PortalsFileError, AdapterError) as error:
        log.error("cannot start: %s", getattr(error, "reason", error))
        return 2
    except Exception as error:
        if not unavailable(error):
            raise
        # The database's driver says why (refused, unknown host, password) on its first line.
        cause = getattr(error, "orig", None) or error
        log.error("cannot start: the database cannot be reached: %s",
                  (str(cause).strip() or type(cause).__name__).splitlines()[0])
        return 2
    return worker.serve()


def _esb_binding(system: OperationSystem, amqp: AmqpSettings) -> contextlib.AbstractContextManager[EsbBinding]:
    """The ESB binding consuming every noun the SOAP endpoint takes (MAY_SEND), running."""
    binding = EsbBinding(system.router, amqp.url, nouns=sorted({noun for _verb, noun in MAY_SEND}),
                         prefix=amqp.prefix, max_tries=amqp.max_tries, prefetch=amqp.prefetch,
                         transient=unavailable, sender="esb")
    return binding.running()


def _clock(clock: ClockSettings | None) -> AcceleratedClock | None:
    if clock is None:
        return None
    return AcceleratedClock(clock.speed if clock.speed is not None else 1.0, clock.start, epoch=clock.epoch)


def _tls(soap: SoapSettings) -> TlsFiles | None:
    if soap.tls_dir is not None:
        server = create_demo_pki(soap.tls_dir).server
        return TlsFiles(server.cert_file, server.key_file, soap.client_ca)
    if soap.cert is not None and soap.key is not None:
        return TlsFiles(soap.cert, soap.key, soap.client_ca)
    return None


def _login(peer: ServiceSettings | PortalsSettings) -> tuple[str, str]:
    return peer.user, peer.password


def _credentials(users: Iterable[UserSettings], sites: list[PortalSite]) -> Credentials:
    """Who may call the operation system: the configured users and the portals of the portals file."""
    credentials = Credentials()
    for user in users:
        credentials.add(Principal(user.user, user.kind, user.customer, user.usage_point), user.password)  # type: ignore[arg-type]
    add_portal_credentials(credentials, sites)  # scrypt on a thread pool: 1,000 portals in seconds
    return credentials


def _defer_signals() -> dict[int, object]:
    """While the stop is in progress, a second SIGTERM or ^C is logged, not obeyed; the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def already_stopping(signum: int, _frame: object) -> None:
        log.warning("signal %s: already stopping", signal.Signals(signum).name)

    return {signum: signal.signal(signum, already_stopping) for signum in (signal.SIGTERM, signal.SIGINT)}


def _portal_hosts(settings: Settings) -> PortalHosts:
    """The portal hosts of the configured gateways, to start once this worker serves."""
    assert settings.portals is not None  # the configuration requires it with gateways
    ca = create_demo_pki(settings.soap.tls_dir).ca_file if settings.soap.tls_dir else None
    clock = settings.clock
    clock_args = [] if clock is None else [
        arg for option, value in (("--speed", clock.speed), ("--start", clock.start), ("--epoch", clock.epoch))
        if value is not None for arg in (option, value.isoformat() if isinstance(value, datetime) else str(value))]
    return PortalHosts(settings.gateways, lambda gateway, url: portal_host_command(
        gateway, evos_url=url, credentials=_login(settings.portals), evos_ca=ca,  # type: ignore[arg-type]
        clock_args=clock_args, log_level=settings.log.level))


def _local(url: str) -> str:
    # A worker listening on every address is reached by its own children on loopback.
    return url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")


def _ready(url: str) -> None:
    # One line a supervisor (or a test) can wait for.
    sys.stdout.write(f"ready service=EVOperationSystem url={url}/EVOperationSystem\n")
    sys.stdout.flush()
    log.info("serving EVOperationSystem at %s", url, extra={"url": f"{url}/EVOperationSystem"})
