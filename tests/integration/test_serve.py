"""`evgrid serve`: the operation system over SOAP (HTTPS) in its own process, bills
delivered to a separate `evgrid sim billing`, a clean stop on SIGTERM."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from evgrid.adapters.soap.client import ServiceClient
from evgrid.adapters.soap.tls import client_context
from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import make_engine, session_factory
from evgrid.errors import UpstreamFault
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import NIGHT, codec, request_message
from tests.integration.test_soap_client import start_sim, stop_sim

PORTAL = ("portal-1001", "pw-1001")


def test_evgrid_serve_answers_portals_over_https_and_stops_cleanly(tmp_path: Path, examples: Path) -> None:
    url = f"sqlite:///{tmp_path / 'evgrid.db'}"
    seed_store(url, examples)
    billing, billing_url = start_sim("billing", "--port", "0", "--credentials", "evos:pw-evos")
    process, service_url = start_sim(
        "--database-url", url, "--port", "0", "--tls-dir", str(tmp_path / "pki"),
        "--portal", f"{PORTAL[0]}:{PORTAL[1]}:C-1001:UP-1001",
        "--billing-url", billing_url.rsplit("/", 1)[0], "--billing-credentials", "evos:pw-evos",
        # The core's clock 40 minutes into the requests' night, in real time: runs on any date.
        "--planning-start", NIGHT.isoformat(), "--speed", "1", "--start", (NIGHT + timedelta(minutes=40)).isoformat(),
        command="serve")
    try:
        base = service_url.rsplit("/", 1)[0]
        assert base.startswith("https://")
        ca = tmp_path / "pki" / "ca.pem"
        wsdl = httpx.get(service_url + "?wsdl", verify=client_context(ca), timeout=10)
        assert wsdl.status_code == 200 and base.encode() in wsdl.content

        with ServiceClient("EVOperationSystem", base, credentials=PORTAL, verify=ca) as portal:
            reply = portal.send(request_message("EV-1001", "S-1001", "C-1001", "UP-1001"))
            assert codec.decode(reply).result == "OK"
            # The same portal for another site: refused, nothing stored.
            with pytest.raises(UpstreamFault) as refused:
                portal.send(request_message("EV-1004", "S-1004", "C-1004", "UP-1004", message_id="other"))
            assert refused.value.code.startswith("7.")
        assert stop_sim(process) == 0  # SIGTERM: a clean stop
    finally:
        if process.poll() is None:
            stop_sim(process, kill=True)
        stop_sim(billing)
    engine = make_engine(url)
    with session_factory(engine)() as db:
        sessions = db.scalars(select(m.ChargingSession)).all()
        assert [(s.ev_id, s.state) for s in sessions] == [("EV-1001", "scheduled")]
    engine.dispose()
