"""Serve the EV Operation System over SOAP (IEC 61968-100) on a database: ``evgrid serve``.

Production: ``evgrid serve --config evgrid.toml`` takes everything from the file
(:mod:`evgrid.config`, with ``EVGRID_*`` environment overrides) and logs JSON lines
(:mod:`evgrid.apps.logs`); ``--check-config`` prints every problem at once (exit 2)
or a summary (exit 0), connecting to nothing. Without ``--config`` the options below
describe the same settings (the demo and the tests use them). Either way the settings go
to :func:`evgrid.apps.evos.run`, which says what runs and how it stops.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from evgrid.apps.evos.check import check, problems_text
from evgrid.commands.clock_options import add_clock_options
from evgrid.config import load_settings
from evgrid.errors import ConfigError
from evgrid.settings import (
    ClockSettings,
    DatabaseSettings,
    LogSettings,
    PlanningSettings,
    PortalsSettings,
    ServiceSettings,
    Settings,
    SoapSettings,
    UserSettings,
    WorkerSettings,
    default_worker_id,
)

# Options that the file replaces; with --config they are refused rather than silently ignored.
_FILE_OPTIONS = ("database_url", "host", "port", "tls_dir", "portal", "billing_user", "utility_user", "billing_url",
                 "billing_credentials", "billing_ca", "mdm_url", "mdm_credentials", "mdm_ca",
                 "portals", "portal_credentials", "portal_ca", "speed", "start",
                 "epoch", "planning_start", "hours_ahead", "roll_hours")
_DEFAULTS: dict[str, object] = {"host": "127.0.0.1", "port": 8080, "hours_ahead": 24, "roll_hours": 6}


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
    parser.add_argument("--mdm-url", help="base URL of the Meter Data Management system (readings forwarded)")
    parser.add_argument("--mdm-credentials", metavar="USER:PASSWORD", type=lambda text: _secret(2, text))
    parser.add_argument("--mdm-ca", type=Path, help="CA certificate of the meter data management system's TLS")
    parser.add_argument("--portals", type=Path, metavar="FILE.csv",
                        help="portals: user,password,customer_id,usage_point_id,premise_number,portal_url "
                             "(logins, and where portal:<premise> messages go)")
    parser.add_argument("--portal-credentials", metavar="USER:PASSWORD", type=lambda text: _secret(2, text),
                        help="what the operation system presents to the portal hosts")
    parser.add_argument("--portal-ca", type=Path, help="CA certificate of the portal hosts' TLS")
    add_clock_options(parser, speed_help="simulated seconds per wall second (default: real time)")
    parser.add_argument("--planning-start", type=datetime.fromisoformat,
                        help="UTC anchor of the rolling horizon's windows (default: --start "
                             "with a clock option, else 16:00 UTC)")
    parser.add_argument("--hours-ahead", type=_hours(24, 168), default=_DEFAULTS["hours_ahead"],
                        help="hours every request is planned ahead, at least, 24..168 (default 24)")
    parser.add_argument("--roll-hours", type=_hours(1, 24), default=_DEFAULTS["roll_hours"],
                        help="hours between window starts, 1..24 (default 6): a window lasts "
                             "roll hours + hours ahead")
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
    from evgrid.apps import evos

    return evos.run(settings)


def _from_file(args: argparse.Namespace) -> Settings:
    given = [name for name in _FILE_OPTIONS if getattr(args, name) not in (None, [], _DEFAULTS.get(name))]
    if given:
        options = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ConfigError([f"{options}: set in the file with --config, not on the command line"],
                          source="command line")
    settings = load_settings(args.config)
    logging = LogSettings(args.log_level or settings.log.level, args.log_format or settings.log.format)
    return replace(settings, log=logging)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings the command-line options describe (the path of the demo and the tests)."""
    from evgrid.adapters.store.database import database_url

    problems = [f"--{url.replace('_', '-')} and --{login.replace('_', '-')} go together"
                for url, login in (("billing_url", "billing_credentials"), ("mdm_url", "mdm_credentials"),
                                   ("portals", "portal_credentials"))
                if bool(getattr(args, url)) != bool(getattr(args, login))]
    if problems:
        raise ConfigError(problems, source="command line")
    planning_start = args.planning_start
    if planning_start is not None and planning_start.tzinfo is None:
        planning_start = planning_start.replace(tzinfo=UTC)
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
        planning=PlanningSettings(planning_start, args.hours_ahead, args.roll_hours), clock=clock,
        billing=ServiceSettings(args.billing_url, *args.billing_credentials, args.billing_ca)
        if args.billing_url else None,
        mdm=ServiceSettings(args.mdm_url, *args.mdm_credentials, args.mdm_ca) if args.mdm_url else None,
        portals=PortalsSettings(args.portals, *args.portal_credentials, args.portal_ca) if args.portals else None,
        users=tuple(users), worker=WorkerSettings(default_worker_id()),
        log=LogSettings(args.log_level or "INFO", args.log_format or "text"))


def _hours(low: int, high: int) -> Callable[[str], int]:
    def hours(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of hours") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{low}..{high} hours, not {value}")
        return value
    return hours
