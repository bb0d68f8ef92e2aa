"""Store-and-forward from the operation system's outbox to billing (and on), on loopback.

Real servers only: the EV Operation System behind its SOAP endpoint, the reference billing
in a thread or as ``python -m evgrid sim billing`` (killed and restarted), the outbox
worker on the operation system's SQLite store.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from evgrid.adapters.soap.client import SOAP_DESTINATIONS, ServiceClient, soap_deliverer
from evgrid.adapters.soap.evos import evos_endpoint
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
from evgrid.adapters.soap.server import endpoint_for, make_app, serve_in_thread
from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import make_engine, session_factory, upgrade
from evgrid.adapters.store.outbox import SqlOutboxStore
from evgrid.apps.evos.system import operation_system
from evgrid.apps.services.billing import BillingSystem
from evgrid.apps.services.mdm import MeterDataManagement
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.generated import ev_charging as ev
from evgrid.mappings import examples as catalog_examples
from evgrid.messaging.outbox import Due, OutboxWorker, RetryPolicy
from evgrid.scheduler.partitions import RollingHorizon
from tests.conftest import free_port
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import NIGHT, completion, event_message, register, request_message
from tests.integration.test_soap_client import span_fixture, start_sim, stop_sim

EV = "{" + ns.EV_CHARGING + "}"
USER, PASSWORD = "evos", "evos-secret"
BILLING_USER, BILLING_PASSWORD = "billing", "billing-secret"
T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
codec = Codec()


def poll(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Wait until ``condition()`` holds; fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(0.01)


@dataclass
class Store:
    """The operation system's store: its URL and session factory."""

    url: str
    sessions: sessionmaker[Session]

    def rows(self) -> list[m.OutboxMessage]:
        with self.sessions() as db:
            return list(db.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id)))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'evos.db'}"
    engine = make_engine(url)
    upgrade(engine)
    yield Store(url, session_factory(engine))
    engine.dispose()


def consumption_message(session_id: str, *, covered: bool = True) -> bytes:
    """Step 4.1 for ``session_id`` (the example home session: 24 kWh at the EV night rate)."""
    payload = replace(catalog_examples.charging_consumption(), charging_session=ev.Reference(m_rid=session_id))
    if not covered:  # the tariff's windows end before the session does: billing refuses it (2.6)
        payload = replace(payload, tariff=replace(payload.tariff, time_tariff_interval=payload.tariff.time_tariff_interval[:1]))
    return codec.dump(env.request(env.Verb.CREATE, "ChargingConsumption", payload, source="evgrid-evos",
                                  message_id=f"ChargingConsumption:{session_id}"))


def queue(store: Store, destination: str, body: bytes, at: datetime = T0) -> None:
    header = codec.decode(body).header
    with store.sessions() as db:
        db.add(m.OutboxMessage(message_id=header.message_id, destination=destination, verb=header.verb.value,
                               noun=header.noun, body=body, status="pending", attempts=0, next_attempt_at=at,
                               created_at=at))
        db.commit()


def billing_client(url: str) -> ServiceClient:
    return ServiceClient("CustomerBilling", url, credentials=(USER, PASSWORD), timeout_s=5.0)


def utility_credentials() -> Credentials:
    credentials = Credentials()
    credentials.add(Principal(USER, PrincipalKind.UTILITY), PASSWORD)
    return credentials


class Collector:
    """An in-process deliverer (a portal, the scheduler): keeps what it gets, answers OK."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []

    def __call__(self, destination: str, body: bytes) -> bytes:
        self.received.append((destination, body))
        header = codec.decode(body).header
        return codec.dump(env.reply_ok(header.noun, source="test", correlation_id=header.message_id))


# ------------------------------------------------------------------------- 4.1 -> 4.1.1
def test_uc_4_1_billing_charges_in_decimal_and_the_bill_reaches_the_owner(tmp_path: Path, examples: Path) -> None:
    class Clock:
        moment = NIGHT + timedelta(minutes=40)

        def now(self) -> datetime:
            return self.moment

    url = f"sqlite:///{tmp_path / 'evos.db'}"
    seed_store(url, examples)
    clock = Clock()
    system = operation_system(url, horizon=RollingHorizon(NIGHT), clock=clock)

    # A home session from 22:30 to 23:30 Amsterdam time: half at the day rate, half at night.
    assert b"<msg:Result>OK<" in system.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001"))
    start, end = datetime(2026, 11, 26, 21, 30, tzinfo=UTC), datetime(2026, 11, 26, 22, 30, tzinfo=UTC)
    clock.moment = start
    system.router.handle(event_message("MeterReadings", register("M-1001", start, 1_000_000), "r1"))
    with system.sessions() as db:
        (session_id,) = db.scalars(select(m.ChargingSession.session_id))
    clock.moment = end
    done = completion(session_id, "S-1001", "EV-1001", "M-1001", start, end, 1_000_000, 1_010_000)
    assert b"<msg:Result>OK<" in system.router.handle(event_message("ChargingCompletion", done, "c1"))

    evos_credentials = Credentials()
    evos_credentials.add(Principal(BILLING_USER, PrincipalKind.BILLING), BILLING_PASSWORD)
    portals, scheduler = Collector(), Collector()
    with serve_in_thread(make_app([evos_endpoint(system)], evos_credentials)) as evos_url, \
            ServiceClient("EVOperationSystem", evos_url, credentials=(BILLING_USER, BILLING_PASSWORD)) as evos, \
            billing_client_for(tmp_path / "billing.db", evos) as (billing, billing_url), \
            billing_client(billing_url) as to_billing:
        worker = OutboxWorker(SqlOutboxStore(system.sessions), {  # type: ignore[arg-type]
            "billing": soap_deliverer(to_billing), "portal:*": portals, "scheduler": scheduler})
        assert worker.deliver_due(end) == 2  # the slot to the portal, the consumption to billing

        def acknowledged() -> bool:
            with system.sessions() as db:
                return db.get(m.ChargingSession, session_id).state == "acknowledged"

        def forwarded_and_recorded() -> bool:
            return [r[0] for r in billing.store.query("SELECT status FROM outbox")] == ["delivered"]

        poll(acknowledged)  # billing's forwarder delivered CreatedBillingInformation (4.1.1)
        poll(forwarded_and_recorded)  # ... and recorded the operation system's reply
        assert worker.deliver_due(end) == 2  # the bill to the owner's portal, the acknowledgment (4.1.2)
        forwarded = billing.store.query("SELECT status, attempts, reply FROM outbox")

    expected = Decimal("5.000") * Decimal("0.28") + Decimal("5.000") * Decimal("0.09")  # 5 kWh each side
    with system.sessions() as db:
        bill = db.scalars(select(m.Bill)).one()
        assert (bill.energy_wh, bill.amount, bill.account_id) == (10_000, expected, "A-1001")
        audit = db.scalars(select(m.AuditEntry).where(m.AuditEntry.subject == f"ChargingConsumption:{session_id}")).one()
    # The reply recorded with the delivery carries billing's BillingInformation.
    reply = etree.fromstring(audit.detail["reply"].encode())
    assert Decimal(reply.findtext(f".//{EV}BillingInformation/{EV}totalAmount")) == Decimal("1.85")
    assert [(status, attempts) for status, attempts, _ in forwarded] == [("delivered", 1)]
    (destination, body), = [(d, b) for d, b in portals.received if b"BillingInformation" in b]
    assert destination == "portal:P-1001"
    lines = {c.findtext(f"{EV}kind"): (c.findtext(f"{EV}energy"), Decimal(c.findtext(f"{EV}amount")))
             for c in etree.fromstring(body).iter(f"{EV}Charge")}
    assert lines == {"day": ("5000", Decimal("1.40")), "EV night": ("5000", Decimal("0.45"))}
    assert [codec.decode(b).header.noun for _, b in scheduler.received] == ["ChargingAcknowledgment"]
    system.close()


class billing_client_for:  # noqa: N801 - reads as a context manager
    """A BillingSystem on ``database`` served in a thread, forwarding to ``evos``."""

    def __init__(self, database: Path, evos: ServiceClient | None) -> None:
        self.billing = BillingSystem(database, evos=evos, policy=RetryPolicy(base_s=0.05, cap_s=0.2))

    def __enter__(self) -> tuple[BillingSystem, str]:
        app = make_app([endpoint_for("CustomerBilling", self.billing.handle)], utility_credentials())
        self._serving = serve_in_thread(app)
        url = self._serving.__enter__()
        self._forwarding = self.billing.forwarding(interval_s=0.05)
        self._forwarding.__enter__()
        return self.billing, url

    def __exit__(self, *exc: object) -> None:
        self._forwarding.__exit__(None, None, None)
        self._serving.__exit__(None, None, None)
        self.billing.close()


# -------------------------------------------------------------------- billing down for a while
def billing_db_rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(database)) as connection:
        return list(connection.execute(sql))


def test_billing_down_for_a_while_then_every_message_is_delivered_exactly_once(store: Store, tmp_path: Path) -> None:
    sessions = [f"S-{n:04d}" for n in range(6)]
    for session_id in sessions:
        queue(store, "billing", consumption_message(session_id))
    port, database = free_port(), tmp_path / "billing.db"
    base_url = f"http://127.0.0.1:{port}"
    policy = RetryPolicy(max_attempts=50, base_s=1.0, cap_s=60.0, lease_s=30.0)

    def worker(batch: int = 200) -> tuple[OutboxWorker, ServiceClient]:
        # A new worker, client and engine each time: a restarted delivering process.
        to_billing = billing_client(base_url)
        engine = make_engine(store.url)
        return OutboxWorker(SqlOutboxStore(session_factory(engine)), {"billing": soap_deliverer(to_billing)},
                            policy=replace(policy, batch=batch), rng=random.Random(5)), to_billing

    first, client = worker()
    assert first.deliver_due(T0) == 0  # billing is down: the oldest message waits, the others behind it
    rows = store.rows()
    assert [r.attempts for r in rows] == [1, 0, 0, 0, 0, 0] and {r.status for r in rows} == {"pending"}
    assert rows[0].last_error.startswith("4.1") and rows[0].next_attempt_at <= T0 + timedelta(seconds=1)
    client.close()

    # The operation system is down too: billing keeps its bills for it in its own outbox.
    sim_args = ("billing", "--port", str(port), "--credentials", f"{USER}:{PASSWORD}", "--database", str(database),
                "--evos-url", f"http://127.0.0.1:{free_port()}", "--evos-credentials", "billing:secret")
    billing, _ = start_sim(*sim_args)
    second, client = worker(batch=3)
    assert second.deliver_due(T0 + timedelta(minutes=10)) == 3
    # The fourth is claimed and sent, then its worker dies before recording the reply.
    fourth = second.store.pending(1, due=Due(("billing",), T0 + timedelta(minutes=10), timedelta(minutes=5)))[0]
    assert second.store.claim(fourth, T0 + timedelta(minutes=10, seconds=30))
    lost_reply = client.send(fourth.body)
    client.close()
    stop_sim(billing, kill=True)  # billing crashes, with the fourth applied

    third, client = worker()
    assert third.deliver_due(T0 + timedelta(minutes=20)) == 0
    assert store.rows()[3].last_error.startswith("4.1")
    client.close()

    billing, _ = start_sim(*sim_args)
    try:
        fourth_worker, client = worker()
        assert fourth_worker.deliver_due(T0 + timedelta(hours=1)) == 3
        client.close()
    finally:
        stop_sim(billing)

    rows = store.rows()
    assert [r.status for r in rows] == ["delivered"] * 6
    expected = sorted(f"ChargingConsumption:{s}" for s in sessions)
    # Billing applied every MessageID once, the fourth too although it arrived twice.
    assert sorted(r[0] for r in billing_db_rows(database, "SELECT message_id FROM inbound")) == expected
    assert sorted(r[0] for r in billing_db_rows(database, "SELECT message_id FROM bills")) == expected
    assert billing_db_rows(database, "SELECT destination, status, count(*) FROM outbox GROUP BY 1, 2") == [
        ("evos", "pending", 6)]
    with store.sessions() as db:
        recorded = db.scalars(select(m.AuditEntry).where(m.AuditEntry.subject == fourth.message_id)).one()
    assert recorded.detail["reply"].encode() == lost_reply  # the replay got the first reply


def test_a_claimed_message_whose_worker_died_is_retried_after_the_lease(store: Store, tmp_path: Path) -> None:
    for session_id in ("S-A", "S-B"):
        queue(store, "billing", consumption_message(session_id))
    policy = RetryPolicy(lease_s=60.0)
    with billing_client_for(tmp_path / "billing.db", None) as (billing, url), billing_client(url) as to_billing:
        dead = OutboxWorker(SqlOutboxStore(store.sessions), {"billing": soap_deliverer(to_billing)}, policy=policy)
        first = dead.store.pending(1, due=Due(("billing",), T0, timedelta(minutes=5)))[0]
        assert dead.store.claim(first, T0 + timedelta(seconds=60))  # then it dies

        engine = make_engine(store.url)
        restarted = OutboxWorker(SqlOutboxStore(session_factory(engine)), {"billing": soap_deliverer(to_billing)},
                                 policy=policy)
        assert restarted.deliver_due(T0 + timedelta(seconds=30)) == 0  # still leased: the order holds
        assert billing.bill_count() == 0
        assert restarted.deliver_due(T0 + timedelta(seconds=61)) == 2
        assert billing.bill_count() == 2
        engine.dispose()
    assert [(r.status, r.attempts) for r in store.rows()] == [("delivered", 2), ("delivered", 1)]


# ------------------------------------------------------------------------ retries, giving up
def test_backoff_is_exponential_with_full_jitter_then_the_message_fails(store: Store) -> None:
    queue(store, "billing", consumption_message("S-1"))
    queue(store, "billing", consumption_message("S-2"))
    policy = RetryPolicy(max_attempts=5, base_s=2.0, cap_s=10.0)
    with billing_client(f"http://127.0.0.1:{free_port()}") as nowhere:
        worker = OutboxWorker(SqlOutboxStore(store.sessions), {"billing": soap_deliverer(nowhere)},
                              policy=policy, rng=random.Random(11))
        now, waits = T0, []
        for _ in range(4):
            assert worker.deliver_due(now) == 0
            first, second = store.rows()
            assert second.attempts == 0  # nothing overtakes the oldest pending message
            waits.append((first.next_attempt_at - now).total_seconds())
            now = first.next_attempt_at
        worker.deliver_due(now)  # the fifth attempt fails too: given up
        first, second = store.rows()
    assert all(0 <= wait <= limit for wait, limit in zip(waits, [2, 4, 8, 10], strict=True))
    assert len(set(waits)) == 4  # jittered, not a fixed schedule
    assert (first.status, first.attempts) == ("failed", 5) and "after 5 attempts: 4.1" in first.last_error
    assert (second.status, second.attempts) == ("pending", 1)  # now it is the oldest: its turn came


def test_a_message_the_receiver_refuses_fails_at_once_and_the_next_goes(store: Store, tmp_path: Path) -> None:
    queue(store, "billing", consumption_message("S-BAD", covered=False))
    queue(store, "billing", consumption_message("S-GOOD"))
    with billing_client_for(tmp_path / "billing.db", None) as (billing, url), billing_client(url) as to_billing:
        worker = OutboxWorker(SqlOutboxStore(store.sessions), {"billing": soap_deliverer(to_billing)})
        assert worker.deliver_due(T0) == 1
        assert billing.bill_count() == 1
    bad, good = store.rows()
    assert (bad.status, bad.attempts) == ("failed", 1) and bad.last_error.startswith("2.6")
    assert good.status == "delivered"


def test_meter_readings_go_to_the_mdm_and_unknown_destinations_wait(store: Store) -> None:
    now = datetime.now(UTC)  # the thread runner delivers on the wall clock
    queue(store, "mdm", span_fixture("MeterReadings_created_envelope.xml"), now)  # a whole span: MDM validates
    queue(store, "portal:P-9", consumption_message("S-PORTAL"), now)  # no deliverer here: left pending
    mdm = MeterDataManagement()
    app = make_app([endpoint_for("MeterDataManagement", mdm.handle)], utility_credentials())
    with serve_in_thread(app) as url, \
            ServiceClient(SOAP_DESTINATIONS["mdm"], url, credentials=(USER, PASSWORD)) as to_mdm:
        worker = OutboxWorker(SqlOutboxStore(store.sessions), {"mdm": soap_deliverer(to_mdm)})
        with worker.running(interval_s=0.05):
            poll(lambda: store.rows()[0].status == "delivered")
    assert mdm.count() == 3  # the span's two register reads and its interval
    assert [(r.destination, r.status, r.attempts) for r in store.rows()][1] == ("portal:P-9", "pending", 0)
    mdm.close()


def test_undeliverable_and_waiting_destinations_do_not_starve_the_others(store_url: str) -> None:
    engine = make_engine(store_url)
    upgrade(engine)
    store = Store(store_url, session_factory(engine))
    for n in range(250):  # more than a batch, to portals this worker has no deliverer for
        queue(store, f"portal:P_{n:04d}", consumption_message(f"S-P{n}"))
    queue(store, "mdm", consumption_message("S-WAIT"), T0 + timedelta(seconds=30))  # waiting out a backoff
    queue(store, "mdm", consumption_message("S-BEHIND"))  # due, but behind it: keeps its place
    queue(store, "billing", consumption_message("S-BILL"))
    sent: list[tuple[str, str]] = []

    def deliver(destination: str, body: bytes) -> bytes:
        header = codec.decode(body).header
        sent.append((destination, header.message_id))
        return codec.dump(env.reply_ok(header.noun, source="test", correlation_id=header.message_id))

    worker = OutboxWorker(SqlOutboxStore(store.sessions), {"billing": deliver, "mdm": deliver},
                          policy=RetryPolicy(batch=200))
    try:
        assert worker.deliver_due(T0) == 1
        assert sent == [("billing", "ChargingConsumption:S-BILL")]
        assert worker.deliver_due(T0 + timedelta(seconds=31)) == 2  # the backoff over: in order
        assert sent[1:] == [("mdm", "ChargingConsumption:S-WAIT"), ("mdm", "ChargingConsumption:S-BEHIND")]
    finally:
        engine.dispose()
