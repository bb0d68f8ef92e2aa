"""The reference Customer Billing System: bills each charging session once, in Decimal.

Operations (:data:`evgrid.mappings.services.CUSTOMER_BILLING`):

- ``create ChargingConsumption`` (step 4.1): the session's energy is spread over the
  tariff windows the message carries, in proportion to time
  (:func:`evgrid.operations.rates.split_energy`, every Wh kept), priced per window and
  rounded once per charge line to the cent (:func:`evgrid.operations.rates.price`). The
  reply is OK with the BillingInformation; the same BillingInformation is queued, in the
  same transaction, for the EV Operation System (``created BillingInformation``, step
  4.1.1) and forwarded by an outbox worker with retries, so billing and the operation
  system may each be down for a while without losing or doubling a bill.
- ``created ThirdPartyCharging`` (step 3.1.1): recorded (EV, owner and host accounts).

Each MessageID is applied once (the Router's journal). A second consumption for a session
already billed, under another MessageID, gets the bill already made: one bill per session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from lxml import etree

from evgrid.adapters.soap.client import ServiceClient, soap_deliverer
from evgrid.adapters.soap.security import Principal
from evgrid.adapters.store.sqlite_store import MEMORY, SqliteOutbox, SqliteStore, SqliteUnitOfWork, utc_text
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec, Header, Inbound
from evgrid.cim.generated import ev_charging as ev
from evgrid.errors import InvalidParameter
from evgrid.mappings.ev_charging import bill_to_cim, utc
from evgrid.messaging.outbox import OutboxWorker, RetryPolicy
from evgrid.messaging.router import Outcome, Route, Router
from evgrid.operations.events import BillInformation
from evgrid.operations.rates import CENT, ChargeLine, PricedWindow, price, split_energy

SOURCE = "evgrid-billing"
EVOS = "evos"  # the outbox destination of the EV Operation System

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bills (
    bill_id TEXT PRIMARY KEY, session_id TEXT NOT NULL UNIQUE, account_id TEXT NOT NULL, currency TEXT NOT NULL,
    energy_wh INTEGER NOT NULL, amount TEXT NOT NULL, issued_at TEXT NOT NULL, message_id TEXT, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS third_party (
    session_id TEXT PRIMARY KEY, ev_id TEXT NOT NULL, owner_account TEXT NOT NULL, host_account TEXT NOT NULL,
    host_usage_point TEXT NOT NULL, message_id TEXT);
"""


@dataclass(frozen=True, slots=True)
class Consumption:
    """Step 4.1 as billing reads it: energy, interval, account and the priced windows."""

    session_id: str
    account_id: str
    energy_wh: int
    start_utc: datetime
    end_utc: datetime
    currency: str
    windows: tuple[PricedWindow, ...]


def consumption_from_cim(message: ev.ChargingConsumption) -> Consumption:
    """The consumption, with the tariff's windows clipped to the session's interval.

    Raises:
        InvalidParameter: the windows leave part of the interval unpriced (the energy
            spread over them would then be charged at the wrong price).
    """
    start = utc(message.interval.start, "ChargingConsumption/interval/start")
    end = utc(message.interval.end, "ChargingConsumption/interval/end")
    if end < start:
        raise InvalidParameter("the consumption interval ends before it starts")
    all_windows = sorted(
        (PricedWindow(w.sequence_number or n, w.label or f"interval {w.sequence_number or n}",
                      utc(w.start_time, "TimeTariffInterval/startTime"), utc(w.end_time, "TimeTariffInterval/endTime"),
                      w.price, False)
         for n, w in enumerate(message.tariff.time_tariff_interval, start=1)),
        key=lambda w: w.start_utc)
    if end == start:  # nothing to spread: the window in force at the start prices it
        inside = [w for w in all_windows if w.start_utc <= start < w.end_utc][:1]
    else:
        inside = [PricedWindow(w.sequence, w.label, max(w.start_utc, start), min(w.end_utc, end), w.price_per_kwh,
                               w.ev_night) for w in all_windows if w.start_utc < end and w.end_utc > start]
    covered = start
    for window in inside:
        if window.start_utc > covered:
            break
        covered = max(covered, window.end_utc)
    if not inside or covered < end:
        raise InvalidParameter(f"the tariff's intervals do not cover {start.isoformat()} to {end.isoformat()}")
    return Consumption(message.charging_session.m_rid, message.charged_account.m_rid, message.consumed_energy,
                       start, end, message.tariff.currency, tuple(inside))


def compute_bill(consumption: Consumption, now: datetime) -> BillInformation:
    """The bill: charge lines per window label (cent-rounded Decimal) and their sum."""
    lines = price(split_energy(consumption.energy_wh, consumption.start_utc, consumption.end_utc,
                               list(consumption.windows)))
    if not lines:  # no energy: still one (zero) line, the schema wants at least one Charge
        first = consumption.windows[0]
        lines = [ChargeLine(first.label, 0, first.price_per_kwh, Decimal(0).quantize(CENT))]
    amount = sum((line.amount for line in lines), Decimal(0))
    return BillInformation(f"BILL-{consumption.session_id}", consumption.session_id, consumption.account_id,
                           consumption.currency, tuple(lines), consumption.energy_wh, amount, now)


def _third_party(message: ev.ThirdPartyCharging) -> ev.ThirdPartyCharging:
    return message


class BillingSystem:
    """The billing service: store, router and (with ``evos``) the forwarder of bills."""

    def __init__(self, database: str | Path = MEMORY, *, evos: ServiceClient | None = None,
                 codec: Codec | None = None, policy: RetryPolicy | None = None) -> None:
        self.codec = codec or Codec()
        self.store = SqliteStore(database, _SCHEMA)
        routes = {
            (env.Verb.CREATE, "ChargingConsumption"): Route(
                ns.qname(ns.EV_CHARGING, "ChargingConsumption"), consumption_from_cim, self._bill,
                ev.ChargingConsumption, "4.1: consumption and tariff in, bill out and on to the operation system"),
            (env.Verb.CREATED, "ThirdPartyCharging"): Route(
                ns.qname(ns.EV_CHARGING, "ThirdPartyCharging"), _third_party, self._record_third_party,
                ev.ThirdPartyCharging, "3.1.1: a third-party charge recorded"),
        }
        # The router only uses the unit of work's journal, commit and context manager.
        self.router = Router(routes, codec=self.codec, source=SOURCE,
                             unit_of_work=self.store.unit_of_work)  # type: ignore[arg-type]
        self.forwarder: OutboxWorker | None = None
        if evos is not None:
            self.forwarder = OutboxWorker(SqliteOutbox(self.store), {EVOS: soap_deliverer(evos)},
                                          policy=policy, codec=self.codec)
            self.store.after_commit.append(self.forwarder.wake)

    def handle(self, message: bytes, principal: Principal | None = None) -> bytes:
        """Answer one 61968-100 message (the endpoint's callback)."""
        return self.router.handle(message, sender=principal.user if principal else None)

    def handle_inbound(self, inbound: Inbound, principal: Principal | None, checked: object = None) -> bytes:
        """The SOAP endpoint's callback: the message the server decoded and validated, not decoded again."""
        return self.router.handle_inbound(inbound, sender=principal.user if principal else None)

    @contextmanager
    def forwarding(self, interval_s: float = 1.0) -> Iterator[BillingSystem]:
        """Forward queued bills to the operation system in a background thread."""
        if self.forwarder is None:
            yield self
            return
        with self.forwarder.running(interval_s):
            yield self

    def bill_count(self) -> int:
        """How many bills are stored (one per session)."""
        return int(self.store.query("SELECT count(*) FROM bills")[0][0])

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    # ------------------------------------------------------------------ handlers
    def _bill(self, consumption: Consumption, header: Header, uow: SqliteUnitOfWork) -> Outcome:
        row = uow.db.execute("SELECT body FROM bills WHERE session_id = ?", (consumption.session_id,)).fetchone()
        if row is not None:
            stored = self.codec.bind(etree.fromstring(bytes(row["body"])), ev.BillingInformation)
            return Outcome(payload=(stored,))
        bill = compute_bill(consumption, uow.now)
        payload = bill_to_cim(bill)
        uow.db.execute(
            "INSERT INTO bills (bill_id, session_id, account_id, currency, energy_wh, amount, issued_at, message_id, "
            "body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (bill.bill_id, bill.session_id, bill.account_id, bill.currency, bill.energy_wh, str(bill.amount),
             utc_text(bill.issued_utc), header.message_id, etree.tostring(self.codec.to_element(payload))))
        if self.forwarder is not None:
            # 4.1.1, with a MessageID the operation system applies once however often it arrives.
            message_id = f"BillingInformation:{bill.session_id}"
            uow.queue(message_id, EVOS, self.codec.dump(env.event(
                env.Verb.CREATED, "BillingInformation", payload, source=SOURCE, message_id=message_id)))
        return Outcome(payload=(payload,))

    def _record_third_party(self, message: ev.ThirdPartyCharging, header: Header, uow: SqliteUnitOfWork) -> Outcome:
        uow.db.execute(
            "INSERT OR IGNORE INTO third_party (session_id, ev_id, owner_account, host_account, host_usage_point, "
            "message_id) VALUES (?, ?, ?, ?, ?, ?)",
            (message.charging_session.m_rid, message.electric_vehicle.m_rid, message.owner_account.m_rid,
             message.host_account.m_rid, message.host_usage_point.m_rid, header.message_id))
        return Outcome()
