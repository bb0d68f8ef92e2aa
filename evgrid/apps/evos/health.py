"""``GET /health``: can this ``evgrid serve`` worker do its work? For probes and load balancers.

The answer is JSON, HTTP 200 when every check passes and 503 when one does not::

    {"status": "ok",
     "checks": {"database": {"status": "ok"}, "dispatcher": {"status": "ok", "jobs": 4},
                "outbox": {"status": "ok", "pending": 0}, "amqp": {"status": "ok"}},
     "worker": "node-1-4242", "version": "0.1.0"}

No credential is asked for: liveness and readiness probes (Kubernetes, a load balancer,
a monitoring agent) are configured where a password would be one more secret to store
and rotate, and the answer holds nothing worth one. It reveals no secrets: statuses,
counts, the worker id and the version; never a URL, a user name or an error message (a
driver's message can quote hosts and users): a failed check shows the exception's class
name, and the whole error goes to the log.

Checks are callables passed in. A check returns None or True (ok), False (unavailable)
or a dict of details (ok unless it sets ``"status"``); raising means unavailable. Each
runs on its own daemon thread with a deadline, so a hung database makes the probe answer
503 within ``timeout_s`` instead of holding a server thread for as long as the hang.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"
PATH = "/health"
Check = Callable[[], object]
WsgiApp = Callable[..., Iterable[bytes]]
StartResponse = Callable[..., Any]
_STATUS = {200: "200 OK", 404: "404 Not Found", 405: "405 Method Not Allowed", 503: "503 Service Unavailable"}


class HealthApp:
    """A WSGI app answering ``GET /health``; every other path goes to ``inner`` (404 without one).

    Args:
        checks: name -> check (see the module docstring), run on every request.
        worker: the worker id reported.
        version: the evgrid version reported.
        inner: the app behind it (the SOAP app); None: a health-only server.
        timeout_s: how long a check may take before it counts as unavailable.
    """

    def __init__(self, checks: Mapping[str, Check], *, worker: str, version: str, inner: WsgiApp | None = None,
                 timeout_s: float = 5.0) -> None:
        self.checks = dict(checks)
        self.worker = worker
        self.version = version
        self.inner = inner
        self.timeout_s = timeout_s

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer ``/health`` or pass the request on (WSGI)."""
        if str(environ.get("PATH_INFO") or "").rstrip("/") != PATH:
            if self.inner is not None:
                return self.inner(environ, start_response)
            return _send(start_response, 404, {"status": "not found", "health": PATH})
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD"):
            return _send(start_response, 405, {"status": "method not allowed"}, [("Allow", "GET, HEAD")])
        report = self.report()
        # HEAD too gets the body: the server drops it and keeps the headers, Content-Length included.
        return _send(start_response, 200 if report["status"] == OK else 503, report)

    def report(self) -> dict[str, object]:
        """Run every check (concurrently, within ``timeout_s``); the JSON document as a dict."""
        results: dict[str, dict[str, object]] = {}
        lock = threading.Lock()

        def run(name: str, check: Check) -> None:
            outcome = _outcome(name, check)
            with lock:
                results[name] = outcome

        threads = [threading.Thread(target=run, args=item, name=f"health-{item[0]}", daemon=True)
                   for item in self.checks.items()]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + self.timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with lock:
            checks = {name: results.get(name, {"status": UNAVAILABLE, "error": "timeout"}) for name in self.checks}
        for name, result in checks.items():
            if result.get("error") == "timeout":
                log.warning("health check %s took more than %s s", name, self.timeout_s)
        healthy = all(result["status"] == OK for result in checks.values())
        return {"status": OK if healthy else UNAVAILABLE, "checks": checks, "worker": self.worker,
                "version": self.version}


def _outcome(name: str, check: Check) -> dict[str, object]:
    try:
        value = check()
        if not (value is None or isinstance(value, bool | Mapping)):
            raise TypeError(f"health check {name} returned {value!r}: None, a bool or a dict")
    except Exception as error:  # the probe's boundary: any failure is "unavailable", never a 500
        log.warning("health check %s failed: %s", name, error, exc_info=log.isEnabledFor(logging.DEBUG))
        return {"status": UNAVAILABLE, "error": type(error).__name__}
    if isinstance(value, Mapping):
        return {"status": OK, **value}
    return {"status": UNAVAILABLE if value is False else OK}


def _send(start_response: StartResponse, status: int, document: Mapping[str, object],
          headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = json.dumps(document, default=str).encode()
    # no-store: a cached "ok" would hide an outage from the next probe.
    start_response(_STATUS[status], [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                     ("Cache-Control", "no-store"), *(headers or [])])
    return [body]
