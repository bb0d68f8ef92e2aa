"""The settings of ``evgrid serve``, section by section, as :mod:`evgrid.config` reads them.

Frozen dataclasses that mirror the TOML file key for key; no I/O here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

ENV_DATABASE_URL = "EVGRID_DATABASE_URL"
ENV_AMQP_URL = "EVGRID_AMQP_URL"
ENV_WORKER_ID = "EVGRID_WORKER_ID"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("json", "text")
USER_KINDS = ("portal", "billing", "utility")


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """``[database]``."""

    url: str = field(repr=False)  # may hold a password: see display_url


@dataclass(frozen=True, slots=True)
class SoapSettings:
    """``[soap]``: HTTPS when ``cert`` or ``tls_dir`` is set."""

    host: str = "127.0.0.1"
    port: int = 8080
    tls_dir: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None
    trusted_proxy: str | None = None

    @property
    def tls(self) -> bool:
        """Whether the endpoint serves HTTPS."""
        return self.tls_dir is not None or self.cert is not None


@dataclass(frozen=True, slots=True)
class PlanningSettings:
    """``[planning]``: the rolling horizon (:class:`~evgrid.scheduler.partitions.RollingHorizon`).

    Windows of ``roll_hours + hours_ahead`` start every ``roll_hours`` from ``start`` (no
    start: the clock's, else 16:00 UTC), so a request at any moment is planned at least
    ``hours_ahead`` ahead.
    """

    start: datetime | None = None
    hours_ahead: int = 24
    roll_hours: int = 6


@dataclass(frozen=True, slots=True)
class ClockSettings:
    """``[clock]``: the accelerated clock (:class:`~evgrid.clock.AcceleratedClock`); None: its defaults."""

    speed: float | None = None
    start: datetime | None = None
    epoch: float | None = None


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """``[billing]`` or ``[mdm]``: a SOAP service evgrid delivers to, and the login it presents there."""

    url: str
    user: str
    password: str = field(repr=False)
    ca: Path | None = None


@dataclass(frozen=True, slots=True)
class PortalsSettings:
    """``[portals]``: the portal directory (CSV) and the login evgrid presents to the portal hosts."""

    file: Path
    user: str
    password: str = field(repr=False)
    ca: Path | None = None


@dataclass(frozen=True, slots=True)
class UserSettings:
    """``[[users]]``: who may call evgrid; a portal is bound to its site."""

    user: str
    password: str = field(repr=False)
    kind: str = "utility"
    customer: str | None = None
    usage_point: str | None = None


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """``[[gateways]]``: a gateway IED whose sites' portals this worker runs (``evgrid portal serve``)."""

    ied: str  # HOST:PORT of the IED's MMS server
    sites: Path  # the SITES.json of ``evgrid portal serve``
    port: int  # its CustomerPortal service: the portal_url of these sites in the portals file
    host: str = "127.0.0.1"
    database: Path | None = None  # the portal host's outbox and bills (SQLite); None: memory
    evos_ca: Path | None = None  # CA of this worker's TLS; default: [soap] tls_dir's own CA


@dataclass(frozen=True, slots=True)
class AmqpSettings:
    """``[amqp]``: the ESB binding (RabbitMQ)."""

    url: str = field(repr=False)
    prefix: str = "evgrid"
    max_tries: int = 5
    prefetch: int = 8


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """``[worker]``: this process among several sharing the database (station leases)."""

    id: str
    lease_seconds: float = 15.0


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """``[health]``: a separate plain-HTTP server for ``GET /health``."""

    host: str
    port: int


@dataclass(frozen=True, slots=True)
class LogSettings:
    """``[log]``."""

    level: str = "INFO"
    format: str = "text"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything ``evgrid serve`` runs from, read from a file or from its options.

    Attribute paths are the file's key paths (``settings.soap.port`` is ``soap.port``);
    an optional section that is absent is None (``health`` None: ``/health`` on the SOAP server).
    """

    database: DatabaseSettings
    worker: WorkerSettings
    soap: SoapSettings = SoapSettings()
    planning: PlanningSettings = PlanningSettings()
    clock: ClockSettings | None = None
    billing: ServiceSettings | None = None
    mdm: ServiceSettings | None = None
    portals: PortalsSettings | None = None
    users: tuple[UserSettings, ...] = ()
    gateways: tuple[GatewaySettings, ...] = ()
    amqp: AmqpSettings | None = None
    health: HealthSettings | None = None
    log: LogSettings = LogSettings()


def _keys(cls: type, *extra: str) -> tuple[str, ...]:
    return (*(item.name for item in fields(cls)), *extra)


# A section's keys are its class's fields: the settings mirror the file, key for key.
SECTIONS = {"database": _keys(DatabaseSettings), "soap": _keys(SoapSettings, "tls"), "planning": _keys(PlanningSettings),
             "clock": _keys(ClockSettings), "billing": _keys(ServiceSettings, "password_env"),
             "mdm": _keys(ServiceSettings, "password_env"),
             "portals": _keys(PortalsSettings, "password_env"), "users": _keys(UserSettings, "password_env"),
             "gateways": _keys(GatewaySettings),
             "amqp": _keys(AmqpSettings), "worker": _keys(WorkerSettings), "health": _keys(HealthSettings),
             "log": _keys(LogSettings)}


def default_worker_id(environ: Mapping[str, str] | None = None) -> str:
    """``$EVGRID_WORKER_ID``, else ``<hostname>-<pid>`` (unique per process on a host)."""
    environ = os.environ if environ is None else environ
    return environ.get(ENV_WORKER_ID) or host_and_pid()


def host_and_pid() -> str:
    """``<hostname>-<pid>``: unique per process on a host, the default worker id."""
    return f"{socket.gethostname()}-{os.getpid()}"


def display_url(url: str) -> str:
    """``url`` without its password, for logs and summaries."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}@{host}" if parts.username else host).geturl()


