"""The portal directory: which portal host serves which premise, and the portals' logins.

``evgrid serve --portals FILE.csv`` reads one row per Customer Communication Portal::

    user,password,customer_id,usage_point_id,premise_number,portal_url
    portal-1001,pw-1001,C-1001,UP-1001,P-1001,http://127.0.0.1:8101

- ``user``/``password``: the portal's login at the operation system, bound to its
  customer and usage point (as ``--portal USER:PASSWORD:CUSTOMER:USAGE_POINT``). A
  ``password_hash`` column (a :func:`~evgrid.adapters.soap.security.hash_password`
  value) may replace ``password``: loading is then free, but such a portal cannot use
  WS-Security PasswordDigest (Basic and PasswordText work, as for every stored hash).
- ``premise_number``/``portal_url``: the outbox destination ``portal:<premise>`` goes
  to the ``CustomerPortal`` service under the base URL ``portal_url``. Several premises
  may share one host: there is one :class:`~evgrid.adapters.soap.client.ServiceClient`
  (one connection pool) per distinct URL.

scrypt costs about 40 ms per password and runs outside the GIL, so plain passwords are
hashed on a thread pool (:func:`add_portal_credentials`): the same entries as
``Credentials.add`` makes, in a fraction of the time on a machine with several cores.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from evgrid.adapters.soap.client import ServiceClient
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
from evgrid.errors import PortalsFileError, UpstreamFault
from evgrid.mappings.services import CUSTOMER_PORTAL
from evgrid.operations import events

COLUMNS = ("user", "customer_id", "usage_point_id", "premise_number", "portal_url")
PASSWORD_COLUMNS = ("password", "password_hash")
HEADER = "user,password,customer_id,usage_point_id,premise_number,portal_url"
PREFIX = f"{events.PORTAL}:"
# 61968-100 category 4 (not reachable): the message is fine, retried with backoff.
NO_PORTAL = "4.1"


@dataclass(frozen=True, slots=True)
class PortalSite:
    """One row: a portal's login, its site and where its host serves CustomerPortal."""

    principal: Principal
    password: str | None
    password_hash: str | None
    premise_number: str
    portal_url: str


def load_portals(path: Path) -> list[PortalSite]:
    """Read and check the portals CSV (header as in the module docstring).

    Raises:
        PortalsFileError: a missing or unknown column, an empty value, a user listed
            twice, or a premise at two URLs.
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return _read(csv.DictReader(handle), path)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PortalsFileError(f"{path}: {error}") from None


def _read(reader: csv.DictReader[str], path: Path) -> list[PortalSite]:
    header = reader.fieldnames or []
    passwords = [column for column in PASSWORD_COLUMNS if column in header]
    unknown = sorted(set(header) - set(COLUMNS) - set(PASSWORD_COLUMNS))
    missing = [column for column in COLUMNS if column not in header]
    if missing or unknown or len(passwords) != 1:
        raise PortalsFileError(f"{path}: the header must be {HEADER} (or password_hash for password); "
                               f"got {','.join(header) or 'nothing'}")
    secret = passwords[0]
    sites: list[PortalSite] = []
    users: set[str] = set()
    premises: dict[str, str] = {}  # premise -> portal URL
    for row in reader:
        where = f"{path}:{reader.line_num}"
        # Passwords are taken as they are; spaces around the other values are not meant.
        values = {column: (row.get(column) or "").strip() for column in COLUMNS}
        values[secret] = row.get(secret) or ""
        if not any(values.values()):
            continue  # a blank line
        empty = [column for column, value in values.items() if not value]
        if empty or None in row:
            raise PortalsFileError(f"{where}: {'empty ' + ', '.join(empty) if empty else 'too many values'}")
        url = values["portal_url"].rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise PortalsFileError(f"{where}: portal_url {url!r} is not an http(s) base URL")
        if values["user"] in users:
            raise PortalsFileError(f"{where}: user {values['user']} is listed twice")
        if premises.setdefault(values["premise_number"], url) != url:
            raise PortalsFileError(f"{where}: premise {values['premise_number']} is served at "
                                   f"{premises[values['premise_number']]}, not also at {url}")
        users.add(values["user"])
        try:
            principal = Principal(values["user"], PrincipalKind.PORTAL, values["customer_id"],
                                  values["usage_point_id"])
        except ValueError as error:
            raise PortalsFileError(f"{where}: {error}") from None
        plain = values[secret] if secret == "password" else None
        hashed = values[secret] if secret == "password_hash" else None
        sites.append(PortalSite(principal, plain, hashed, values["premise_number"], url))
    return sites


def add_portal_credentials(credentials: Credentials, sites: Iterable[PortalSite], *,
                           workers: int | None = None) -> None:
    """Add every site's principal; plain passwords are hashed on ``workers`` threads.

    Raises:
        PortalsFileError: a ``password_hash`` that is not an evgrid password hash.
    """
    sites = list(sites)
    for site in sites:
        if site.password_hash is not None:
            try:
                credentials.add_hashed(site.principal, site.password_hash)
            except ValueError as error:
                raise PortalsFileError(str(error)) from None
    plain = [site for site in sites if site.password is not None]
    if not plain:
        return
    # Credentials.add is thread-safe and hashlib.scrypt releases the GIL while it works.
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1, thread_name_prefix="scrypt") as pool:
        list(pool.map(lambda site: credentials.add(site.principal, site.password or ""), plain))


class PortalDelivery:
    """The outbox deliverer of ``portal:<premise>``: to that premise's portal host.

    A context manager: it owns one :class:`ServiceClient` per distinct portal URL. A
    destination of a premise that is not in the directory fails with a retryable
    UpstreamFault (4.1), so the row stays pending, is retried with backoff, and every
    attempt logs which premise has no portal.
    """

    def __init__(self, sites: Iterable[PortalSite], *, credentials: tuple[str, str] | None,
                 verify: str | Path | bool = True, timeout_s: float = 10.0) -> None:
        self._clients: dict[str, ServiceClient] = {}
        self._by_premise: dict[str, ServiceClient] = {}
        try:
            for site in sites:
                client = self._clients.get(site.portal_url)
                if client is None:
                    client = self._clients[site.portal_url] = ServiceClient(
                        CUSTOMER_PORTAL.name, site.portal_url, credentials=credentials, verify=verify,
                        timeout_s=timeout_s)
                self._by_premise[site.premise_number] = client
        except BaseException:
            self.close()
            raise

    @property
    def clients(self) -> Mapping[str, ServiceClient]:
        """Portal base URL -> its client."""
        return self._clients

    def client_for(self, premise_number: str) -> ServiceClient | None:
        """The client of the host serving ``premise_number``'s portal, if any."""
        return self._by_premise.get(premise_number)

    def __call__(self, destination: str, body: bytes) -> bytes:
        """Deliver ``body`` to the portal of ``destination`` (``portal:<premise>``)."""
        premise = destination.removeprefix(PREFIX)
        client = self._by_premise.get(premise) if destination.startswith(PREFIX) else None
        if client is None:
            raise UpstreamFault(f"no portal host is configured for premise {premise} (--portals)",
                                code=NO_PORTAL, details=destination)
        return client.send(body)

    def __enter__(self) -> PortalDelivery:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close every client's connections."""
        for client in self._clients.values():
            client.close()
