"""`evgrid serve` on a shared accelerated clock, delivering to portal hosts and the scheduler.

Processes on loopback: `evgrid sim billing` (forwarding bills to the operation system),
`evgrid serve` with ``--speed/--start/--epoch`` and ``--portals``, and a stub
CustomerPortal SOAP service in this process (our WSGI server). The home session's start
job fires when simulated time reaches its slot, the EndDeviceControls reaches the stub,
and after billing the ChargingAcknowledgment (4.1.2) is delivered in process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from evgrid.adapters.soap.client import ServiceClient
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
from evgrid.adapters.soap.server import endpoint_for, make_app, serve_in_thread
from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import make_engine, session_factory
from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.cim.generated import ev_charging as ev
from evgrid.clock import AcceleratedClock
from evgrid.mappings import examples
from evgrid.mappings.ev_charging import xml_time
from tests.conftest import free_port
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import completion, event_message, register
from tests.integration.test_soap_client import start_sim, stop_sim

PORTAL = ("portal-1001", "pw-1001")
EVOS_AT_PORTALS = ("evos", "pw-portals")
SPEED = 1200.0  # an hour in three seconds
START = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)  # 22:00 in Amsterdam; the EV night rate begins at 23:00
codec = Codec()


class StubPortal:
    """A CustomerPortal host: keeps what it gets (noun, destination premise, wall time), answers OK."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes, float]] = []
        self._lock = threading.Lock()

    def handle(self, envelope: bytes, principal: Principal | None) -> bytes:
        assert principal is not None and principal.user == EVOS_AT_PORTALS[0]
        header = codec.decode(envelope).header
        with self._lock:
            self.received.append((header.noun, envelope, time.time()))
        return codec.dump(env.reply_ok(header.noun, source="stub-portal", correlation_id=header.message_id))

    def nouns(self) -> list[str]:
        with self._lock:
            return [noun for noun, _, _ in self.received]

    def first(self, noun: str) -> tuple[bytes, float]:
        with self._lock:
            return next((body, at) for n, body, at in self.received if n == noun)


def poll(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s} s")
        time.sleep(0.02)


def charging_request(plugged_in: datetime, departure: datetime) -> bytes:
    payload = replace(
        examples.charging_request(False), m_rid="R-EV-1001", created_date_time=xml_time(plugged_in),
        electric_vehicle=ev.ElectricVehicle(m_rid="EV-1001"), charging_station=ev.ChargingStation(m_rid="S-1001"),
        customer=ev.Customer(m_rid="C-1001"), usage_point=ev.UsagePoint(m_rid="UP-1001"),
        requested_energy=3_000, departure_time=xml_time(departure))
    return codec.dump(env.request(env.Verb.CREATE, "ChargingRequest", payload, source="portal",
                                  message_id="M-EV-1001"))


def portal_host(stub: StubPortal) -> AbstractContextManager[str]:
    credentials = Credentials()
    credentials.add(Principal(EVOS_AT_PORTALS[0], PrincipalKind.UTILITY), EVOS_AT_PORTALS[1])
    return serve_in_thread(make_app([endpoint_for("CustomerPortal", stub.handle)], credentials,
                                    source="stub-portal"))


@pytest.mark.slow
def test_uc_2_3_start_at_slot_on_the_shared_clock_reaches_the_portal_host(tmp_path: Path, examples: Path) -> None:
    url = f"sqlite:///{tmp_path / 'evgrid.db'}"
    seed_store(url, examples)
    stub, other = StubPortal(), StubPortal()
    evos_port = free_port()
    # Simulated time reaches --start 12 s from now: the processes are up by then even on a
    # loaded machine (before it, simulated time is simply earlier: the EV plugs in before 21:00).
    epoch = time.time() + 12.0
    clock = AcceleratedClock(SPEED, START, epoch=epoch)
    with portal_host(stub) as stub_url, portal_host(other) as other_url:
        portals = tmp_path / "portals.csv"
        portals.write_text(
            "user,password,customer_id,usage_point_id,premise_number,portal_url\n"
            f"{PORTAL[0]},{PORTAL[1]},C-1001,UP-1001,P-1001,{stub_url}\n"
            f"portal-1002,pw-1002,C-1002,UP-1002,P-1002,{stub_url}\n"
            f"portal-1003,pw-1003,C-1003,UP-1003,P-1003,{other_url}\n", encoding="utf-8")
        billing, billing_url = start_sim(
            "billing", "--port", "0", "--credentials", "evos:pw-evos", "--evos-url", f"http://127.0.0.1:{evos_port}",
            "--evos-credentials", "billing:pw-billing")
        process = None
        try:
            process, service_url = start_sim(
                "--database-url", url, "--port", str(evos_port), "--portals", str(portals),
                "--portal-credentials", ":".join(EVOS_AT_PORTALS), "--billing-user", "billing:pw-billing",
                "--billing-url", billing_url.rsplit("/", 1)[0], "--billing-credentials", "evos:pw-evos",
                "--speed", str(SPEED), "--start", START.isoformat(), "--epoch", f"{epoch:.6f}", command="serve")
            with ServiceClient("EVOperationSystem", service_url.rsplit("/", 1)[0], credentials=PORTAL) as portal:
                plugged_in = clock.now()
                assert plugged_in < START + timedelta(minutes=45), "the processes took too long to start"
                reply = codec.decode(portal.send(charging_request(plugged_in, START + timedelta(hours=3))))
                assert reply.result == "OK"
                session_id, planned_start = planned(url)
                # Home charging waits for the night rate (23:00 in Amsterdam, 22:00 UTC).
                assert planned_start >= START + timedelta(hours=1)

                poll(lambda: "EndDeviceControls" in stub.nouns(), 30, "the start (2.3) at the portal host")
                _body, received_at = stub.first("EndDeviceControls")
                fired = START + timedelta(seconds=(received_at - epoch) * SPEED)
                # Not before its simulated time, and promptly after it (30 simulated minutes = 1.5 s).
                assert planned_start <= fired <= planned_start + timedelta(minutes=30), (planned_start, fired)
                assert stub.nouns()[:2] == ["TimeSlotAllotment", "EndDeviceControls"]

                # The station closed: the meter's register at start (2.3.1), then the completion (2.3.4).
                ended = planned_start + timedelta(minutes=25)
                portal.send(event_message("MeterReadings", register("M-1001", planned_start, 1_000_000), "r1"))
                done = completion(session_id, "S-1001", "EV-1001", "M-1001", planned_start, ended,
                                  1_000_000, 1_003_000)
                portal.send(event_message("ChargingCompletion", done, "c1"))

                # Billing (4.1) bills and forwards the bill (4.1.1): the owner's portal gets it,
                # the scheduler its acknowledgment (4.1.2).
                poll(lambda: "BillingInformation" in stub.nouns(), 30, "the bill at the owner's portal")
                poll(lambda: outbox(url).get(("scheduler", "ChargingAcknowledgment")) == "delivered", 30,
                     "the acknowledgment delivered to the scheduler")
            assert stop_sim(process) == 0
        finally:
            if process is not None and process.poll() is None:
                stop_sim(process, kill=True)
            stop_sim(billing)
    assert other.received == []  # P-1003's host: nothing was for it
    rows = outbox(url)
    assert rows[("billing", "ChargingConsumption")] == "delivered"
    assert rows[("portal:P-1001", "BillingInformation")] == "delivered"
    assert set(rows.values()) == {"delivered"}
    engine = make_engine(url)
    with session_factory(engine)() as db:
        assert db.get(m.ChargingSession, session_id).state == "acknowledged"
    engine.dispose()


def planned(url: str) -> tuple[str, datetime]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            (row,) = db.scalars(select(m.ChargingSession)).all()
            assert row.planned_start is not None
            return row.session_id, row.planned_start
    finally:
        engine.dispose()


def outbox(url: str) -> dict[tuple[str, str], str]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            return {(r.destination, r.noun): r.status for r in db.scalars(select(m.OutboxMessage))}
    finally:
        engine.dispose()
