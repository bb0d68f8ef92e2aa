"""The portal gateway, ``evgrid portal serve``: the Customer Communication Portals of one gateway IED.

It connects once to the gateway IED (its station and meter logical devices), runs one
portal per site, sends the portals' messages to the EV Operation System (store-and-forward
in its own SQLite file) and serves the CustomerPortal SOAP service for the utility's
start/stop orders, slot allotments and bill information.

- :mod:`.host`: the portal host (site portals, outbox, CustomerPortal routes);
- :mod:`.threads`: its events and slot-boundary threads;
- :mod:`.gateways`: the supervisor with which ``evgrid serve`` runs its gateways' portal
  hosts as child processes.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from evgrid.adapters.iec61850.client import IedClient
from evgrid.adapters.soap.client import ServiceClient
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
from evgrid.adapters.soap.server import inbound_endpoint_for, make_app, serve_forever
from evgrid.adapters.store.sqlite_store import MEMORY
from evgrid.apps.portal.host import PortalHost, SiteBinding
from evgrid.clock import SystemClock
from evgrid.errors import AdapterError
from evgrid.operations.ports import Clock
from evgrid.portal.model import Site

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PortalHostSettings:
    """What one portal host needs: its sites, its IED, the operation system, where it listens."""

    sites: Path
    ied: tuple[str, int]
    evos_url: str
    credentials: tuple[tuple[str, str], ...]
    evos_ca: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    database: Path | None = None
    clock: Clock | None = None


def load_sites(path: Path) -> list[SiteBinding]:
    """The site bindings of a SITES.json file; ValueError naming the first bad entry."""
    document = json.loads(path.read_text(encoding="utf-8"))
    bindings = []
    for index, entry in enumerate(document.get("sites", []), start=1):
        try:
            site = Site(entry["station_id"], entry["meter_number"], entry["customer_id"], entry["account_id"],
                        entry["usage_point_id"], entry["premise_number"], float(entry["station_max_kw"]))
            bindings.append(SiteBinding(site, entry["station_ld"], entry["meter_ld"], entry["user"],
                                        entry["password"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: site {index}: missing or bad {error}") from error
    if not bindings:
        raise ValueError(f"{path}: no sites")
    return bindings


def build(settings: PortalHostSettings) -> PortalHost:
    """The portal host of ``settings``, not yet connected; OSError or ValueError for a bad sites file."""
    bindings = load_sites(settings.sites)
    clock = settings.clock or SystemClock()
    host, port = settings.ied
    evos = ServiceClient("EVOperationSystem", settings.evos_url, verify=settings.evos_ca or True)
    return PortalHost(bindings, IedClient(host, port, origin="evgrid-portal"), evos, clock,
                      database=settings.database or MEMORY, slot_origin=getattr(clock, "start", None))


def run(settings: PortalHostSettings) -> int:
    """Serve until SIGTERM or ^C; the exit status (2: bad settings, 3: the gateway failed)."""
    try:
        portal_host = build(settings)
    except (OSError, ValueError) as error:
        sys.stderr.write(f"evgrid portal serve: {error}\n")
        return 2
    credentials = Credentials()
    for user, password in settings.credentials:
        credentials.add(Principal(user, PrincipalKind.UTILITY), password)
    try:
        with portal_host.running():
            endpoint = inbound_endpoint_for("CustomerPortal", portal_host.handle_inbound)
            app = make_app([endpoint], credentials, source="evgrid-portal")
            serve_forever(app, settings.host, settings.port, on_ready=_ready)
    except AdapterError as error:
        sys.stderr.write(f"evgrid portal serve: {error.reason}\n")
        return 3
    finally:
        portal_host.close()
    return 0


def _ready(url: str) -> None:
    sys.stdout.write(f"ready service=CustomerPortal url={url}/CustomerPortal\n")
    sys.stdout.flush()
