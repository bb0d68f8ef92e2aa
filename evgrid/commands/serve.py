"""Serve the EV Operation System over SOAP (IEC 61968-100) on a database.

What runs: the operation system on the database (migrated first), its SOAP service
``EVOperationSystem`` under waitress (HTTPS with TLS files), the dispatcher of start and
stop jobs (APScheduler on the same database), the store-and-forward delivery of outbound
messages: to billing, to the portal hosts (:mod:`evgrid.adapters.soap.portals`) and, in
process, the acknowledgments to the scheduler (4.1.2); and ``GET /health``
(:mod:`evgrid.apps.evos.health`). A clock (``--speed/--start/--epoch``) runs the operation
system on the accelerated timeline the other processes of a demo share.

Production: ``evgrid serve --config evgrid.toml`` takes everything from the file
(:mod:`evgrid.config`, with ``EVGRID_*`` environment overrides) and logs JSON lines
(:mod:`evgrid.apps.logs`); ``--check-config`` prints every problem at once (exit 2)
or a summary (exit 0), connecting to nothing. Without ``--config`` the options below
describe the same settings (the demo and the tests use them); one :func:`serve` runs both.

Until SIGTERM or ^C, then in order: the SOAP server stops accepting and finishes the
requests in progress, the ESB binding stops consuming, the dispatcher stops (waiting for a
job that is firing), the outbox worker finishes its current delivery; exit 0 after a
final ``stopped`` log line. A second signal meanwhile is logged and does not cut the stop short.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from evgrid.apps.evos.check import check, problems_text
from evgrid.commands.clock_options import add_clock_options
from evgrid.config import load_settings
from evgrid.settings import (
    AmqpSettings,
    BillingSettings,
    ClockSettings,
    ConfigError,
    DatabaseSettings,
    LogSettings,
    NightSettings,
    PortalsSettings,
    Settings,
    SoapSettings,
    UserSettings,
    WorkerSettings,
    default_worker_id,
)

if TYPE_CHECKING:
    from evgrid.adapters.esb.binding import EsbBinding
    from evgrid.adapters.soap.portals import PortalSite
    from evgrid.adapters.soap.security import Credentials
    from evgrid.adapters.soap.tls import TlsFiles
    from evgrid.apps.evos.system import OperationSystem
    from evgrid.apps.portal.gateways import PortalHosts
    from evgrid.clock import AcceleratedClock

log = logging.getLogger(__name__)

# Options that the file replaces; with --config they are refused rather than silently ignored.
_FILE_OPTIONS = ("database_url", "host", "port", "tls_dir", "portal", "billing_user", "utility_user", "billing_url",
                 "billing_credentials", "billing_ca", "portals", "portal_credentials", "portal_ca", "speed", "start",
                 "epoch", "night_start", "slots")
_DEFAULTS: dict[str, object] = {"host": "127.0.0.1", "port": 8080, "slots": 64}


def _secret(parts: int, text: str) -> tuple[str, ...]:
    values = tuple(text.split(":", parts - 1))
    if len(values) != parts or not all(values):
        raise argparse.ArgumentTypeError(f"expected {parts} ':'-separated values, got {text!r}")
    return values


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options."""
    parser.add_argument("--config", type=Path, metavar="FILE.toml",
                        help="take every setting from this file (see evgrid.config); the options below are for "
                             "demos and tests, and cannot be combined with it (except --log-level/--log-format)")
    parser.add_argument("--check-config", action="store_true",
                        help="validate the settings, print every problem (exit 2) or a summary (exit 0), and stop")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: $EVGRID_DATABASE_URL, else sqlite evgrid.db)")
    parser.add_argument("--host", default=_DEFAULTS["host"], help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=_DEFAULTS["port"], help="TCP port (default 8080; 0: any free one)")
    parser.add_argument("--tls-dir", type=Path, help="serve HTTPS with a demo CA and certificate kept in this folder")
    parser.add_argument("--portal", action="append", default=[], metavar="USER:PASSWORD:CUSTOMER:USAGE_POINT",
                        type=lambda text: _secret(4, text), help="a portal's credential, bound to its site")
    parser.add_argument("--billing-user", action="append", default=[], metavar="USER:PASSWORD",
                        type=lambda text: _secret(2, text), help="the billing system's credential (bills in)")
    parser.add_argument("--utility-user", action="append", default=[], metavar="USER:PASSWORD",
                        type=lambda text: _secret(2, text), help="a utility system allowed every operation")
    parser.add_argument("--billing-url", help="base URL of the Customer Billing System (outbox delivery)")
    parser.add_argument("--billing-credentials", metavar="USER:PASSWORD", type=lambda text: _secret(2, text))
    parser.add_argument("--billing-ca", type=Path, help="CA certificate of the billing system's TLS")
    parser.add_argument("--portals", type=Path, metavar="FILE.csv",
                        help="portals: user,password,customer_id,usage_point_id,premise_number,portal_url "
                             "(logins, and where portal:<premise> messages go)")
    parser.add_argument("--portal-credentials", metavar="USER:PASSWORD", type=lambda text: _secret(2, text),
                        help="what the operation system presents to the portal hosts")
    parser.add_argument("--portal-ca", type=Path, help="CA certificate of the portal hosts' TLS")
    add_clock_options(parser, speed_help="simulated seconds per wall second (default: real time)")
    parser.add_argument("--night-start", type=datetime.fromisoformat,
                        help="UTC start of the first night to plan, later ones a day apart (default: --start "
                             "with a clock option, else 16:00 UTC)")
    parser.add_argument("--slots", type=_slots, default=_DEFAULTS["slots"],
                        help="15-minute slots in the night, 1..96 (default 64; nights are a day apart)")
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="default INFO, or the file's [log] level")
    parser.add_argument("--log-format", choices=("json", "text"), help="default text, or the file's [log] format")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or ^C (or only check the settings)."""
    try:
        settings = _from_file(args) if args.config else settings_from_args(args)
    except ConfigError as error:
        sys.stderr.write(problems_text(error))
        return 2
    if args.check_config:
        return check(settings, args.config)
    return serve(settings)


def _from_file(args: argparse.Namespace) -> Settings:
    given = [name for name in _FILE_OPTIONS if getattr(args, name) not in (None, [], _DEFAULTS.get(name))]
    if given:
        options = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ConfigError([f"{options}: set in the file with --config, not on the command line"],
                          source="command line")
    settings = load_settings(args.config)
    log = LogSettings(args.log_level or settings.log.level, args.log_format or settings.log.format)
    return replace(settings, log=log)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings the command-line options describe (the path of the demo and the tests)."""
    from evgrid.adapters.store.database import database_url

    problems = [f"--{url.replace('_', '-')} and --{login.replace('_', '-')} go together"
                for url, login in (("billing_url", "billing_credentials"), ("portals", "portal_credentials"))
                if bool(getattr(args, url)) != bool(getattr(args, login))]
    if problems:
        raise ConfigError(problems, source="command line")
    night_start = args.night_start
    if night_start is not None and night_start.tzinfo is None:
        night_start = night_start.replace(tzinfo=UTC)
    clock = (ClockSettings(args.speed, args.start, args.epoch)
             if (args.speed, args.start, args.epoch) != (None, None, None) else None)
    users = [UserSettings(user, password, "portal", customer, usage_point)
             for user, password, customer, usage_point in args.portal]
    users += [UserSettings(user, password, kind)
              for kind, logins in (("billing", args.billing_user), ("utility", args.utility_user))
              for user, password in logins]
    return Settings(
        database=DatabaseSettings(database_url(args.database_url)),
        soap=SoapSettings(args.host, args.port, tls_dir=args.tls_dir),
        night=NightSettings(night_start, args.slots), clock=clock,
        billing=BillingSettings(args.billing_url, *args.billing_credentials, args.billing_ca)
        if args.billing_url else None,
        portals=PortalsSettings(args.portals, *args.portal_credentials, args.portal_ca) if args.portals else None,
        users=tuple(users), worker=WorkerSettings(default_worker_id()),
        log=LogSettings(args.log_level or "INFO", args.log_format or "text"))


def serve(settings: Settings) -> int:
    """Compose everything ``settings`` describe and serve until SIGTERM or ^C; the exit status."""
    from evgrid import __version__
    from evgrid.adapters.soap.client import ServiceClient, soap_deliverer
    from evgrid.adapters.soap.evos import evos_endpoint
    from evgrid.adapters.soap.portals import PortalDelivery, PortalsFileError, load_portals
    from evgrid.adapters.soap.server import make_app, serve_forever, serve_in_thread
    from evgrid.adapters.store.database import ping
    from evgrid.adapters.store.outbox import SqlOutboxStore
    from evgrid.apps.evos.health import HealthApp
    from evgrid.apps.evos.system import operation_system, outbox_worker, schedule_jobs, shared_database, worker_dispatch
    from evgrid.apps.logs import configure_logging
    from evgrid.errors import AdapterError
    from evgrid.operations import events
    from evgrid.scheduler.jobs import Dispatcher

    configure_logging(settings.log.level, settings.log.format, settings.worker.id)
    clock = _clock(settings.clock)
    # Without a start: 16:00 UTC, from yesterday, so that a restart at 03:00 goes on with
    # the night in progress (the planner takes the first night after it that has not ended).
    start = settings.night.start or (clock.start if clock else
                                     datetime.combine(datetime.now(UTC).date(), time(16), UTC) - timedelta(days=1))
    url = settings.database.url
    # On PostgreSQL every worker is a scale-out worker (also when alone): it dispatches the
    # stations it leases, from jobs it keeps in memory. On SQLite one process does it all,
    # its jobs in the database.
    scale_out = shared_database(url)
    job_store = None if scale_out else url
    dispatcher = Dispatcher(job_store, to_wall=clock.to_wall) if clock else Dispatcher(job_store)
    mode = ({"worker_id": settings.worker.id, "lease_ttl_seconds": settings.worker.lease_seconds} if scale_out
            else {"after_commit": schedule_jobs(dispatcher)})
    try:
        sites = load_portals(settings.portals.file) if settings.portals else []
        credentials = _credentials(settings.users, sites)
        tls = _tls(settings.soap)
        system = operation_system(url, night_start_utc=start, slot_count=settings.night.slots,
                                  clock=clock, **mode)  # type: ignore[arg-type]
    except (PortalsFileError, AdapterError) as error:
        log.error("cannot start: %s", getattr(error, "reason", error))
        return 2
    dispatcher.bind(system)
    deferred: dict[int, object] = {}
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(system.close)
            deliverers: dict[str, Callable[[str, bytes], bytes]] = {}
            if settings.billing:
                billing = stack.enter_context(ServiceClient(
                    "CustomerBilling", settings.billing.url, credentials=_login(settings.billing),
                    verify=str(settings.billing.ca) if settings.billing.ca else True))
                deliverers[events.BILLING] = soap_deliverer(billing)
            if settings.portals:
                deliverers[f"{events.PORTAL}:*"] = stack.enter_context(PortalDelivery(
                    sites, credentials=_login(settings.portals),
                    verify=str(settings.portals.ca) if settings.portals.ca else True))
            stack.enter_context(outbox_worker(system, deliverers).running())
            stack.enter_context(dispatcher)
            checks: dict[str, Callable[[], object]] = {
                "database": lambda: ping(system.engine),  # type: ignore[arg-type]
                "dispatcher": lambda: {"jobs": len(dispatcher.pending())},
                "outbox": lambda: {"pending": SqlOutboxStore(system.sessions).count_pending()},  # type: ignore[arg-type]
                # Which night new requests go to, and how many sessions are planned in it.
                "planner": lambda: {"night": system.planner.problem.horizon.start_utc.isoformat(),
                                    "sessions": len(system.planner.plan)},
            }
            if scale_out:  # lease renewal and the sweep of other workers' plan changes
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
            soap = make_app([evos_endpoint(system)], credentials, source="evgrid-evos")
            if settings.health is None:
                app: Callable[..., Iterable[bytes]] = HealthApp(checks, worker=settings.worker.id,
                                                                version=__version__, inner=soap)
            else:
                app = soap
                health_url = stack.enter_context(serve_in_thread(
                    HealthApp(checks, worker=settings.worker.id, version=__version__), settings.health.host,
                    settings.health.port))
                log.info("health at %s/health", health_url, extra={"health": f"{health_url}/health"})
            serve_forever(app, settings.soap.host, settings.soap.port, tls, max_bytes=soap.max_bytes,
                          trusted_proxy=settings.soap.trusted_proxy, on_ready=on_ready)
            deferred = _defer_signals()
            log.info("stopping: SOAP server closed; stopping %sthe dispatcher and the outbox worker",
                     "the ESB binding, " if settings.amqp else "")
    finally:
        for signum, handler in deferred.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
    log.info("stopped", extra={"exit": 0})
    return 0


def _esb_binding(system: OperationSystem, amqp: AmqpSettings) -> contextlib.AbstractContextManager[EsbBinding]:
    """The ESB binding consuming every noun the SOAP endpoint takes (MAY_SEND), running."""
    from evgrid.adapters.esb.binding import EsbBinding
    from evgrid.adapters.soap.evos import MAY_SEND
    from evgrid.adapters.store.database import unavailable

    binding = EsbBinding(system.router, amqp.url, nouns=sorted({noun for _verb, noun in MAY_SEND}),
                         prefix=amqp.prefix, max_tries=amqp.max_tries, prefetch=amqp.prefetch,
                         transient=unavailable, sender="esb")
    return binding.running()


def _clock(clock: ClockSettings | None) -> AcceleratedClock | None:
    from evgrid.clock import AcceleratedClock

    if clock is None:
        return None
    return AcceleratedClock(clock.speed if clock.speed is not None else 1.0, clock.start, epoch=clock.epoch)


def _tls(soap: SoapSettings) -> TlsFiles | None:
    from evgrid.adapters.soap.tls import TlsFiles, create_demo_pki

    if soap.tls_dir is not None:
        server = create_demo_pki(soap.tls_dir).server
        return TlsFiles(server.cert_file, server.key_file, soap.client_ca)
    if soap.cert is not None and soap.key is not None:
        return TlsFiles(soap.cert, soap.key, soap.client_ca)
    return None


def _login(peer: BillingSettings | PortalsSettings) -> tuple[str, str]:
    return peer.user, peer.password


def _credentials(users: Iterable[UserSettings], sites: list[PortalSite]) -> Credentials:
    """Who may call the operation system: the configured users and the portals of the portals file."""
    from evgrid.adapters.soap.portals import add_portal_credentials
    from evgrid.adapters.soap.security import Credentials, Principal

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
    from evgrid.adapters.soap.tls import create_demo_pki
    from evgrid.apps.portal.gateways import PortalHosts, portal_host_command

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


def _slots(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of slots") from None
    if not 1 <= value <= 96:  # a night may not run into the next one
        raise argparse.ArgumentTypeError(f"a night has 1..96 slots of 15 minutes, not {value}")
    return value
