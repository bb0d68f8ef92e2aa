"""``evgrid serve --check-config``: the settings read, checked and summarised, nothing started."""

from __future__ import annotations

import sys
from pathlib import Path

from evgrid.errors import ConfigError
from evgrid.settings import PortalsSettings, ServiceSettings, Settings, display_url


def check(settings: Settings, source: Path | None) -> int:
    """``--check-config``: read the portals file too, then print the summary (0) or the problems (2)."""
    from evgrid.adapters.soap.portals import load_portals
    from evgrid.errors import PortalsFileError

    try:
        sites = load_portals(settings.portals.file) if settings.portals else []
    except PortalsFileError as error:
        sys.stderr.write(problems_text(ConfigError([f"portals.file: {error}"], source=str(source or "command line"))))
        return 2
    sys.stdout.write(summary(settings, source, len(sites)))
    return 0


def problems_text(error: ConfigError) -> str:
    """Every problem of ``error`` for stderr: one line each, under the file they are in."""
    if error.source == "command line":
        return "".join(f"evgrid serve: {problem}\n" for problem in error.problems)
    lines = [f"evgrid serve: {error.source}: {len(error.problems)} problem(s)"]
    return "\n".join([*lines, *(f"  {problem}" for problem in error.problems)]) + "\n"


def summary(settings: Settings, source: Path | None, portal_sites: int) -> str:
    """The one-screen ``--check-config`` summary: no password, no connection made."""
    soap = settings.soap
    scheme = "https" if soap.tls else "http"
    base = f"{scheme}://{soap.host}:{soap.port}"
    if soap.tls_dir is not None:
        tls = f"demo certificates in {soap.tls_dir}"
    elif soap.cert is not None:
        tls = f"certificate {soap.cert}"
    else:
        tls = "off, plain HTTP" + (f" behind the TLS proxy at {soap.trusted_proxy}" if soap.trusted_proxy else "")
    if soap.client_ca is not None:
        tls += f"; client certificates signed by {soap.client_ca}"
    clock = settings.clock
    rows = [
        ("database", display_url(settings.database.url)),
        ("soap", f"{base}/EVOperationSystem (TLS: {tls})"),
        ("health", f"GET {base}/health (the SOAP server)" if settings.health is None
         else f"GET http://{settings.health.host}:{settings.health.port}/health (a separate server)"),
        ("planning", f"{settings.planning.hours_ahead} h ahead at least: windows of "
                     f"{settings.planning.roll_hours + settings.planning.hours_ahead} h every "
                     f"{settings.planning.roll_hours} h from {_planning_start(settings)}"),
        ("clock", "real time" if clock is None else
         f"accelerated x{clock.speed or 1}, start {clock.start or 'now'}, epoch {clock.epoch or 'now'}"),
        ("users", ", ".join(f"{user.user} ({user.kind})" for user in settings.users) or "none"),
        ("billing", _peer(settings.billing, settings.billing and display_url(settings.billing.url))),
        ("mdm", _peer(settings.mdm, settings.mdm and display_url(settings.mdm.url))),
        ("portals", _peer(settings.portals, settings.portals and
                          f"{settings.portals.file}: {portal_sites} site{'' if portal_sites == 1 else 's'},")),
        ("amqp", "off (no url)" if settings.amqp is None else
         f"{display_url(settings.amqp.url)} prefix {settings.amqp.prefix}, max_tries {settings.amqp.max_tries}, "
         f"prefetch {settings.amqp.prefetch}"),
        ("worker", f"{settings.worker.id}, station leases of {settings.worker.lease_seconds:g} s"),
        ("gateways", ", ".join(f"{g.ied} (portals at {g.host}:{g.port})" for g in settings.gateways) or "none"),
        ("log", f"{settings.log.level}, {'JSON lines' if settings.log.format == 'json' else 'text'} on stderr"),
    ]
    head = f"evgrid serve: {source or 'the command line'}: valid\n"
    return head + "".join(f"  {name:<9} {text}\n" for name, text in rows)


def _peer(peer: ServiceSettings | PortalsSettings | None, where: str | None) -> str:
    if peer is None:
        return "off"
    return f"{where} as {peer.user}, CA {peer.ca or 'the system store'}"


def _planning_start(settings: Settings) -> str:
    if settings.planning.start is not None:
        return settings.planning.start.isoformat()
    if settings.clock is not None and settings.clock.start is not None:
        return f"{settings.clock.start.isoformat()} (the clock's start)"
    return "16:00 UTC"
