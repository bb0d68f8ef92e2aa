"""Settings of ``evgrid serve``: a TOML file plus ``EVGRID_*`` environment overrides.

Validated once, every problem reported at once with its key path (``soap.port: must be
0..65535, got 70000``): one edit fixes a file, not one restart per typo. Unknown keys are
errors too (a misspelt key would leave a default silently in force), with a did-you-mean.
No connection is made: the only I/O is reading the file and checking the files it names.
Relative paths are relative to the file's folder, whatever directory evgrid starts in.

Sections (keys optional unless marked *required*)::

    [database]  url (required, or $EVGRID_DATABASE_URL): SQLAlchemy URL
    [soap]      host = "127.0.0.1", port = 8080 (0: any free port)
                cert + key (PEM files), or tls_dir (a demo CA and certificate are made there
                if missing); client_ca: require client certificates it signed (mutual TLS)
                tls = true: HTTPS unless `tls = false` (behind a TLS-terminating proxy;
                then trusted_proxy = its address, for the WSDL's scheme and host)
    [planning]  start (offset date-time; default [clock] start, else 16:00 UTC), hours_ahead = 24
                (24..168), roll_hours = 6 (1..24): windows of roll_hours + hours_ahead start every
                roll_hours from start, so every request is planned at least hours_ahead ahead
    [clock]     speed, start, epoch: the accelerated clock of a demo; no section: real time
    [billing]   url, user, password (all required), ca: outbox delivery to the billing system
    [mdm]       url, user, password (all required), ca: every meter reading forwarded to meter
                data management; no section: readings stay in the operation system
    [portals]   file (CSV, evgrid.adapters.soap.portals), user, password (all required), ca
    [[users]]   user, password, kind = "portal" | "billing" | "utility"; portals also
                customer and usage_point (the site they are bound to): who may call evgrid
    [amqp]      url ($EVGRID_AMQP_URL), prefix = "evgrid", max_tries = 5, prefetch = 8;
                no url: no ESB binding
    [worker]    id ($EVGRID_WORKER_ID; default <hostname>-<pid>), lease_seconds = 15
    [health]    host (default soap.host), port (required): GET /health on a separate plain
                HTTP server; no section: GET /health on the SOAP server
    [log]       level = "INFO" (DEBUG, INFO, WARNING, ERROR), format = "json" | "text"

Every ``password`` may instead be ``password_env = "NAME"``: read from that environment
variable, so the file itself can be world-readable and kept in version control.
The environment beats the file for ``EVGRID_DATABASE_URL``, ``EVGRID_AMQP_URL`` and
``EVGRID_WORKER_ID`` (one file, several workers and environments).
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from evgrid.errors import ConfigError
from evgrid.settings import (
    ENV_AMQP_URL,
    ENV_DATABASE_URL,
    ENV_WORKER_ID,
    LOG_FORMATS,
    LOG_LEVELS,
    SECTIONS,
    USER_KINDS,
    AmqpSettings,
    ClockSettings,
    DatabaseSettings,
    GatewaySettings,
    HealthSettings,
    LogSettings,
    PlanningSettings,
    PortalsSettings,
    ServiceSettings,
    Settings,
    SoapSettings,
    UserSettings,
    WorkerSettings,
    display_url,
    host_and_pid,
)


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the TOML file at ``path``, with ``environ`` (default os.environ) overrides.

    Raises:
        ConfigError: with every problem found (or the one that stopped the reading).
    """
    environ = os.environ if environ is None else environ
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError([f"cannot read it: {error.strerror or error}"], source=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError([f"not valid TOML: {error}"], source=str(path)) from None
    reader = _Reader(path.resolve().parent, environ)
    settings = reader.settings(data)
    if reader.problems or settings is None:
        raise ConfigError(reader.problems, source=str(path))
    return settings


class _Reader:
    """Reads the parsed TOML, collecting problems rather than stopping at the first."""

    def __init__(self, base: Path, environ: Mapping[str, str]) -> None:
        self.base = base
        self.environ = environ
        self.problems: list[str] = []

    def settings(self, data: dict[str, object]) -> Settings | None:
        if "night" in data:
            self.problem("night", "renamed [planning]: start stays, slots is now hours_ahead (24..168) and "
                                  "roll_hours (1..24)")
            data = {key: value for key, value in data.items() if key != "night"}
        self.unknown(data, SECTIONS, "", "section")
        database, planning, worker, log = (self.table(data, name) for name in ("database", "planning", "worker", "log"))
        url = self.environ.get(ENV_DATABASE_URL) or database.text("url")
        if url is None:
            database.problem("url", f"required (or ${ENV_DATABASE_URL})")
        elif "://" not in url:
            database.problem("url", f"not a URL: {display_url(url)!r}")
        soap = self._soap(self.table(data, "soap"))
        settings = Settings(
            database=DatabaseSettings(url or ""), soap=soap,
            planning=PlanningSettings(planning.moment("start"), planning.integer("hours_ahead", 24, 24, 168),
                                      planning.integer("roll_hours", 6, 1, 24)),
            clock=self._clock(self.table(data, "clock")) if data.get("clock") else None,  # [clock] alone: real time
            billing=self._service(self.table(data, "billing")) if "billing" in data else None,
            mdm=self._service(self.table(data, "mdm")) if "mdm" in data else None,
            portals=self._portals(self.table(data, "portals")) if "portals" in data else None,
            users=self._users(data.get("users", [])),
            gateways=self._gateways(data.get("gateways", []), soap, "portals" in data),
            amqp=self._amqp(self.table(data, "amqp")),
            worker=WorkerSettings(self.environ.get(ENV_WORKER_ID) or worker.text("id") or host_and_pid(),
                                  worker.number("lease_seconds") or 15.0),
            health=self._health(self.table(data, "health"), soap) if "health" in data else None,
            log=LogSettings(log.choice("level", LOG_LEVELS, "INFO"), log.choice("format", LOG_FORMATS, "json")))
        return None if self.problems else settings

    def _soap(self, soap: _Table) -> SoapSettings:
        tls = soap.data.get("tls", True)
        if not isinstance(tls, bool):
            soap.problem("tls", f"must be true or false, got {tls!r}")
        given = [key for key in ("cert", "key", "tls_dir") if key in soap]
        if "tls_dir" in soap and ("cert" in soap or "key" in soap):
            soap.problem("", "tls_dir or cert and key, not both")
        elif ("cert" in soap) != ("key" in soap):
            soap.problem("key" if "cert" in soap else "cert", "cert and key go together")
        if tls is False and given:
            soap.problem("tls", f"false, but {' and '.join(given)} set")
        elif tls is not False and not given:
            # The production default: passwords travel in HTTP Basic and WS-Security headers.
            soap.problem("", "HTTPS is required: set cert and key (or tls_dir), or tls = false behind a TLS proxy")
        if "client_ca" in soap and tls is False:
            soap.problem("client_ca", "needs TLS")
        return SoapSettings(soap.text("host") or "127.0.0.1", soap.integer("port", 8080, 0, 65535),
                            soap.path("tls_dir", must_exist=False), soap.path("cert"), soap.path("key"),
                            soap.path("client_ca"), soap.text("trusted_proxy"))

    def _clock(self, clock: _Table) -> ClockSettings:
        return ClockSettings(clock.number("speed"), clock.moment("start"), clock.number("epoch", zero=True))

    def _service(self, service: _Table) -> ServiceSettings | None:
        url = service.text("url", required=True)
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            service.problem("url", f"must be an http(s) URL, got {url!r}")
        user, password, ca = service.text("user", required=True), service.secret(), service.path("ca")
        return ServiceSettings(url, user, password, ca) if url and user and password else None

    def _portals(self, portals: _Table) -> PortalsSettings | None:
        file = portals.path("file", required=True)
        user, password, ca = portals.text("user", required=True), portals.secret(), portals.path("ca")
        return PortalsSettings(file, user, password, ca) if file and user and password else None

    def _users(self, entries: object) -> tuple[UserSettings, ...]:
        if not isinstance(entries, list):
            self.problem("users", "must be an array of tables ([[users]])")
            return ()
        users: list[UserSettings] = []
        seen: dict[str, str] = {}
        for index, entry in enumerate(entries, start=1):
            table = _Table(self, f"users[{index}]", entry, SECTIONS["users"])
            user = table.text("user", required=True)
            if user is not None and ":" in user:
                table.problem("user", "must not contain ':' (HTTP Basic)")
            elif user is not None and user in seen:
                table.problem("user", f"{user!r} is listed twice (also {seen[user]})")
            elif user is not None:
                seen[user] = table.where
            kind = table.choice("kind", USER_KINDS, None)
            customer = table.text("customer", required=kind == "portal")
            usage_point = table.text("usage_point", required=kind == "portal")
            for key in ("customer", "usage_point"):
                if kind and kind != "portal" and key in table:
                    table.problem(key, "only a portal is bound to a site")
            password = table.secret()
            if user and kind and password is not None:
                users.append(UserSettings(user, password, kind, customer, usage_point))
        return tuple(users)

    def _gateways(self, entries: object, soap: SoapSettings, portals: bool) -> tuple[GatewaySettings, ...]:
        if not isinstance(entries, list):
            self.problem("gateways", "must be an array of tables ([[gateways]])")
            return ()
        if entries and not portals:
            self.problem("gateways", "need [portals]: the login the portal hosts check on the utility's orders")
        if entries and soap.client_ca is not None:
            self.problem("gateways", "the portal hosts present no client certificate: leave soap.client_ca out "
                                     "or run `evgrid portal serve` apart")
        gateways: list[GatewaySettings] = []
        ports: dict[int, str] = {}
        for index, entry in enumerate(entries, start=1):
            table = _Table(self, f"gateways[{index}]", entry, SECTIONS["gateways"])
            ied = table.text("ied", required=True)
            if ied is not None and not re.fullmatch(r"[^:\s]+:\d{1,5}", ied):
                table.problem("ied", f"must be HOST:PORT, got {ied!r}")
            sites, port = table.path("sites", required=True), table.integer("port", 0, 1, 65535)
            if "port" not in table:
                table.problem("port", "required (the portal_url of these sites in the portals file)")
            elif port in ports:
                table.problem("port", f"{port} is also {ports[port]}'s")
            ports[port] = table.where
            evos_ca = table.path("evos_ca")
            if evos_ca is None and soap.tls and soap.tls_dir is None:
                table.problem("evos_ca", "required: the CA the portal hosts trust for this worker's HTTPS")
            if ied is not None and sites is not None:
                gateways.append(GatewaySettings(ied, sites, port, table.text("host") or "127.0.0.1",
                                                table.path("database", must_exist=False), evos_ca))
        return tuple(gateways)

    def _amqp(self, amqp: _Table) -> AmqpSettings | None:
        url = self.environ.get(ENV_AMQP_URL) or amqp.text("url")
        if url is not None and urlsplit(url).scheme not in ("amqp", "amqps"):
            amqp.problem("url", f"must be an amqp:// or amqps:// URL, got {display_url(url)!r}")
        prefix = amqp.text("prefix") or "evgrid"
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", prefix):  # it names exchanges and queues
            amqp.problem("prefix", f"letters, digits, '_' and '-' only, got {prefix!r}")
        settings = AmqpSettings(url or "", prefix, amqp.integer("max_tries", 5, 1, 1000),
                                amqp.integer("prefetch", 8, 1, 65535))
        return settings if url else None

    def _health(self, health: _Table, soap: SoapSettings) -> HealthSettings:
        host = health.text("host") or soap.host
        if "port" not in health:
            health.problem("port", "required (without [health], GET /health is on the SOAP server)")
        port = health.integer("port", 0, 1, 65535)
        if (host, port) == (soap.host, soap.port):
            health.problem("port", "is the SOAP server's; leave [health] out to serve /health there")
        return HealthSettings(host, port)

    def problem(self, path: str, text: str) -> None:
        self.problems.append(f"{path}: {text}")

    def unknown(self, table: Mapping[str, object], known: Iterable[str], prefix: str, what: str) -> None:
        known = list(known)
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else f"; known: {', '.join(known)}"
                self.problem(f"{prefix}{key}", f"unknown {what}{hint}")

    def table(self, data: dict[str, object], name: str) -> _Table:
        return _Table(self, name, data.get(name, {}), SECTIONS[name])


class _Table:
    """One table of the file at its key path (``soap``, ``users[2]``); what is wrong goes to the reader."""

    def __init__(self, reader: _Reader, where: str, data: object, keys: tuple[str, ...]) -> None:
        self.reader, self.where = reader, where
        if not isinstance(data, dict):
            reader.problem(where, f"must be a table, got {data!r}")
            data = {}
        self.data: dict[str, object] = data
        reader.unknown(data, keys, f"{where}.", "key")

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def problem(self, key: str, text: str) -> None:
        self.reader.problem(f"{self.where}.{key}" if key else self.where, text)

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None and required:
            self.problem(key, "required")
        elif value is not None and (not isinstance(value, str) or not value.strip()):
            self.problem(key, f"must be a non-empty string, got {value!r}")
            return None
        return value  # type: ignore[return-value]

    def choice(self, key: str, choices: tuple[str, ...], default: str | None) -> str:
        value = self.text(key, required=default is None)
        if value is not None and value not in choices:
            self.problem(key, f"must be one of {', '.join(choices)}, got {value!r}")
            return default or ""
        return value or default or ""

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.data.get(key, default)
        # TOML booleans are Python ints: `port = true` must not read as port 1.
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem(key, f"must be an integer, got {value!r}")
        elif key in self and not low <= value <= high:
            self.problem(key, f"must be {low}..{high}, got {value}")
        else:
            return value
        return default

    def number(self, key: str, *, zero: bool = False) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            self.problem(key, f"must be a number, got {value!r}")
        elif value < 0 or (value == 0 and not zero):
            self.problem(key, f"must be {'>= 0' if zero else '> 0'}, got {value}")
        else:
            return float(value)
        return None

    def moment(self, key: str) -> datetime | None:
        value = self.data.get(key)
        try:
            value = datetime.fromisoformat(value) if isinstance(value, str) else value
        except ValueError:
            value = f"{value!r} (not ISO 8601)"
        if value is None or isinstance(value, datetime) and value.tzinfo is not None:
            return value
        if isinstance(value, datetime):
            self.problem(key, f"needs a UTC offset, e.g. {value.isoformat()}Z")
        else:  # a TOML local date or time has no instant
            self.problem(key, f"must be a date-time with a UTC offset, got {value}")
        return None

    def path(self, key: str, *, required: bool = False, must_exist: bool = True) -> Path | None:
        text = self.text(key, required=required)
        if text is None:
            return None
        path = self.reader.base / Path(text).expanduser()
        if must_exist and not path.is_file():
            self.problem(key, f"no such file: {path}")
        return path

    def secret(self) -> str | None:
        """``password``, or the environment variable ``password_env`` names."""
        if "password" in self and "password_env" in self:
            self.problem("", "password or password_env, not both")
        elif "password_env" in self:
            name = self.text("password_env")
            if name and not self.reader.environ.get(name):
                self.problem("password_env", f"environment variable {name} is not set")
            return self.reader.environ.get(name or "") or None
        elif "password" not in self:
            self.problem("password", "required (or password_env = the variable holding it)")
        else:
            return self.text("password")
        return None
