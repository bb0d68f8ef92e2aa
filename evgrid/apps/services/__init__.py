"""The reference external services, ``evgrid sim billing`` and ``evgrid sim mdm``, over SOAP.

They stand in for the utility's Customer Billing System (:mod:`.billing`: bills priced at
the tariff, forwarded to the EV Operation System through its own outbox) and its Meter
Data Management system (:mod:`.mdm`). Each keeps its data in its own SQLite file, or in
memory, and every caller needs a credential (HTTP Basic or a WS-Security UsernameToken).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evgrid.adapters.soap.client import ServiceClient
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
from evgrid.adapters.soap.server import SoapApp, inbound_endpoint_for, make_app, serve_forever
from evgrid.adapters.soap.tls import TlsFiles
from evgrid.adapters.store.sqlite_store import MEMORY
from evgrid.apps.services.billing import BillingSystem
from evgrid.apps.services.mdm import MeterDataManagement

BILLING = "CustomerBilling"
MDM = "MeterDataManagement"


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """One reference service: which, where it listens, who may call it, where it keeps its data."""

    service: Literal["billing", "mdm"]
    port: int
    credentials: tuple[tuple[str, str], ...]
    host: str = "127.0.0.1"
    database: Path | str | None = None  # mdm: a path or a database URL
    tls: TlsFiles | None = None
    # billing only: the EV Operation System that bills are forwarded to
    evos_url: str | None = None
    evos_credentials: tuple[str, str] | None = None
    evos_ca: Path | None = None
    # billing only: the meter data management whose 15-minute intervals are priced
    mdm_url: str | None = None
    mdm_credentials: tuple[str, str] | None = None
    mdm_ca: Path | None = None


@dataclass(slots=True)
class ReferenceService:
    """One reference service, composed: its SOAP app, its data and (billing) its client of the operation system."""

    name: str
    app: SoapApp
    service: BillingSystem | MeterDataManagement
    evos: ServiceClient | None = None
    mdm: ServiceClient | None = None

    def running(self) -> contextlib.AbstractContextManager[object]:
        """What runs beside the SOAP server: billing's forwarding of bills, nothing for MDM."""
        return self.service.forwarding() if isinstance(self.service, BillingSystem) else contextlib.nullcontext()

    def close(self) -> None:
        """Close the service's store and its client."""
        self.service.close()
        for client in (self.evos, self.mdm):
            if client is not None:
                client.close()


def build(settings: ServiceSettings) -> ReferenceService:
    """The service ``settings`` name, with its credentials and its store; nothing serves yet."""
    credentials = Credentials()
    for user, password in settings.credentials:
        # The callers of billing and MDM are the utility's own systems (the operation system).
        credentials.add(Principal(user, PrincipalKind.UTILITY), password)
    database = settings.database or MEMORY
    if settings.service == "mdm":
        mdm = MeterDataManagement(database)
        return ReferenceService(MDM, make_app([inbound_endpoint_for(MDM, mdm.handle_inbound)], credentials,
                                              source="evgrid-mdm"), mdm)
    evos = None
    if settings.evos_url:
        evos = ServiceClient("EVOperationSystem", settings.evos_url, credentials=settings.evos_credentials,
                             verify=settings.evos_ca or True)
    mdm_client = None
    if settings.mdm_url:
        # Half the senders' default timeout: billing answers "MDM did not answer" (5.1, sent
        # again later) before the operation system gives up waiting for billing.
        mdm_client = ServiceClient(MDM, settings.mdm_url, credentials=settings.mdm_credentials,
                                   verify=settings.mdm_ca or True, timeout_s=5.0)
    billing = BillingSystem(database, evos=evos, mdm=mdm_client)
    return ReferenceService(BILLING, make_app([inbound_endpoint_for(BILLING, billing.handle_inbound)], credentials,
                                              source="evgrid-billing"), billing, evos, mdm_client)


def run(settings: ServiceSettings) -> int:
    """Serve the service until SIGTERM or ^C; the exit status."""
    service = build(settings)
    try:
        with service.running():
            serve_forever(service.app, settings.host, settings.port, settings.tls, on_ready=_ready(service.name))
    finally:
        service.close()
    return 0


def _ready(service: str) -> Callable[[str], None]:
    def announce(url: str) -> None:
        # One line a supervisor (or a test) can wait for; stdout carries nothing else.
        sys.stdout.write(f"ready service={service} url={url}/{service}\n")
        sys.stdout.flush()
    return announce
