"""The portal hosts of the gateways a ``serve`` worker is configured with (``[[gateways]]``).

Each gateway IED gets one ``evgrid portal serve`` child process: the Customer
Communication Portals of its sites, one MMS connection to the IED, store-and-forward to
this worker's EV Operation System. Child processes, not threads, because pyiec61850 keeps
the GIL during its blocking calls: two MMS clients in one process stall each other (about
18,000 reads/s fall to about 100), so each gateway's client has a process to itself.

A child that exits unexpectedly (a crash, the OOM killer) is started again after a
backoff (1 s, doubling up to 60 s); its outbox is a file, so nothing it had accepted is
lost. On stop every child gets SIGTERM and finishes its in-flight work.

With several workers, list each gateway in exactly one worker's configuration: a
gateway's portals are one customer-side actor, whichever worker dispatches its stations.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from evgrid.apps.processes import Service, evgrid_command
from evgrid.errors import ServiceFailed
from evgrid.settings import GatewaySettings

log = logging.getLogger(__name__)

BACKOFF_S = (1.0, 60.0)
WATCH_S = 1.0


def portal_host_command(gateway: GatewaySettings, *, evos_url: str, credentials: tuple[str, str],
                        evos_ca: Path | None, clock_args: Sequence[str] = (), log_level: str = "INFO") -> list[str]:
    """The ``evgrid portal serve`` command line of one gateway."""
    user, password = credentials
    argv = evgrid_command(
        "portal", "serve", "--sites", str(gateway.sites), "--ied", gateway.ied, "--evos-url", evos_url,
        "--host", gateway.host, "--port", str(gateway.port), "--credentials", f"{user}:{password}",
        "--log-level", log_level, *clock_args)
    if gateway.database is not None:
        argv += ["--database", str(gateway.database)]
    ca = gateway.evos_ca or evos_ca
    if ca is not None:
        argv += ["--evos-ca", str(ca)]
    return argv


class PortalHosts:
    """Starts, watches and stops the portal hosts of ``gateways``.

    Args:
        gateways: the configured gateways; each child logs to its sites file's name with
            ``.log`` (``sites-1.json`` -> ``sites-1.log``).
        command: the command line of a gateway's portal host, given this worker's URL
            (known only once its server listens: :meth:`start` brings it).
    """

    def __init__(self, gateways: Sequence[GatewaySettings], command: Callable[[GatewaySettings, str], list[str]]) -> None:
        self.gateways = list(gateways)
        self._command = command
        self.services: list[Service] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> dict[str, object]:
        """For the health endpoint: how many portal hosts run, and each one's IED, pid and starts.

        A portal host being restarted does not make this worker unhealthy: its SOAP
        service and dispatch go on, and the portals' outboxes keep what they had.
        """
        hosts = {gateway.ied: {"running": service.running, "starts": service.starts, "pid": service.pid}
                 for gateway, service in zip(self.gateways, self.services, strict=False)}
        return {"running": sum(1 for host in hosts.values() if host["running"]), "of": len(self.gateways),
                "hosts": hosts}

    def start(self, evos_url: str) -> None:
        """Start every portal host in the background, calling this worker at ``evos_url``; keep them running."""
        self.services = [Service(f"portal-host-{n}", self._command(gateway, evos_url), gateway.sites.with_suffix(".log"))
                         for n, gateway in enumerate(self.gateways, start=1)]
        self._thread = threading.Thread(target=self._watch, name="portal-hosts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """SIGTERM every portal host (its in-flight work finishes); no restarts from now on."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for service in self.services:
            service.stop()

    def _watch(self) -> None:
        # Children start on this thread, not the caller's: each waits for its ready line,
        # and this worker's server must be serving meanwhile.
        count = len(self.services)
        delay, due, up_since, waited = [0.0] * count, [0.0] * count, [0.0] * count, [False] * count
        while not self._stop.is_set():
            for index, service in enumerate(self.services):
                now = time.monotonic()
                if self._stop.is_set() or service.running or now < due[index]:
                    continue
                ied = self.gateways[index].ied
                if service.starts and not waited[index]:
                    # It died (or never got ready): wait before the next start, the longer the
                    # sooner it died, so a child that keeps crashing does not spin.
                    quick = now - up_since[index] < BACKOFF_S[1]
                    delay[index] = min(max(delay[index] * 2, BACKOFF_S[0]), BACKOFF_S[1]) if quick else 0.0
                    due[index], waited[index] = now + delay[index], True
                    log.error("portal host of gateway %s is down (exit %s); starting it again in %.0f s",
                              ied, service.stop(), delay[index])
                    continue
                waited[index] = False
                try:
                    service.start()
                    log.info("portal host of gateway %s is up", ied)
                except (ServiceFailed, OSError) as error:
                    log.error("portal host of gateway %s did not start: %s", ied, error)
                up_since[index] = time.monotonic()
            self._stop.wait(WATCH_S)
