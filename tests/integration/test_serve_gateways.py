"""`evgrid serve --config` with ``[[gateways]]``: it runs each gateway's portal host and keeps it running.

Real parts on loopback: a gateway IED (`evgrid ied serve --stations 1`) in its own
process, `evgrid serve` on SQLite, and the portal host serve starts as its child. An EV
plugs in at the IED; the portal's ChargingRequest reaches the operation system; the
portal host is killed and serve starts it again; SIGTERM stops both.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import make_engine, session_factory
from evgrid.mappings import iec61850_refs as refs
from tests.conftest import free_port
from tests.integration.conftest import seed_store
from tests.integration.test_iec61850 import EVSE_ICD, Ied, arrival
from tests.integration.test_serve_config import environment, start_serve, stop, write_config

EVOS_AT_PORTALS = ("evos", "pw-portals")


def wait_for(condition: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"not within {timeout_s:.0f} s: {what}")


def gateway_status(url: str) -> dict[str, object]:
    health = httpx.get(f"{url.rsplit('/', 1)[0]}/health", timeout=5.0).json()
    gateways = health["checks"]["gateways"]
    assert gateways["of"] == 1
    return next(iter(gateways["hosts"].values()), {"running": False})


def sessions_of(database: str) -> list[tuple[str, str]]:
    engine = make_engine(database)
    try:
        with session_factory(engine)() as db:
            return [(row.ev_id, row.station_id) for row in db.scalars(select(m.ChargingSession))]
    finally:
        engine.dispose()


def test_serve_runs_the_gateway_portal_host_restarts_it_and_stops_it(
        tmp_path: Path, examples: Path, ied_factory: Callable[..., Ied]) -> None:
    database = f"sqlite:///{tmp_path / 'evgrid.db'}"
    seed_store(database, examples)
    mms, portal_port = free_port(), free_port()
    ied = ied_factory("--scl", str(EVSE_ICD), "--port", str(mms), "--stations", "1", "--speed", "60")
    sites = tmp_path / "sites-1.json"
    sites.write_text(json.dumps({"sites": [{
        "station_id": "S-1001", "meter_number": "M-1001", "customer_id": "C-1001", "account_id": "A-1001",
        "usage_point_id": "UP-1001", "premise_number": "P-1001", "station_max_kw": 7.2,
        "station_ld": refs.station_ld(1), "meter_ld": refs.meter_ld(1, ied=refs.STATION_IED),
        "user": "portal-1001", "password": "pw-1001"}]}), encoding="utf-8")
    portals = tmp_path / "portals.csv"
    portals.write_text("user,password,customer_id,usage_point_id,premise_number,portal_url\n"
                       f"portal-1001,pw-1001,C-1001,UP-1001,P-1001,http://127.0.0.1:{portal_port}\n", encoding="utf-8")
    config = write_config(tmp_path, database, f"""
[soap]
port = 0
tls = false
[portals]
file = "{portals}"
user = "{EVOS_AT_PORTALS[0]}"
password = "{EVOS_AT_PORTALS[1]}"
[[gateways]]
ied = "127.0.0.1:{mms}"
sites = "{sites}"
port = {portal_port}
database = "{tmp_path / 'portal-1.db'}"
[log]
format = "text"
""")
    process, url = start_serve(config, tmp_path / "serve.stderr", environment())
    try:
        first = wait_for(lambda: (status := gateway_status(url))["running"] and status, 60,
                         "the portal host of the gateway is up")
        with ied.control() as control:
            control.arrive(**arrival("EV-1001", energy_wh=20_000))
        wait_for(lambda: ("EV-1001", "S-1001") in sessions_of(database), 60,
                 "the portal's charging request (1.1.2) opened a session at the operation system")

        os.kill(int(first["pid"]), signal.SIGKILL)  # type: ignore[call-overload]
        again = wait_for(lambda: (status := gateway_status(url))["running"] and status["pid"] != first["pid"]
                         and status, 60, "serve started the killed portal host again")
        assert again["starts"] == 2  # type: ignore[index]
    finally:
        code = stop(process, signal.SIGTERM)
    assert code == 0
    child = int(again["pid"])  # type: ignore[call-overload]
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # serve stopped its portal host too
    assert sessions_of(database) == [("EV-1001", "S-1001")]  # one request, kept across the restart
