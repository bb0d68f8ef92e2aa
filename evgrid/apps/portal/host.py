"""Runs the site portals of one IEC 61850 gateway: one MMS connection, one CIM endpoint.

An IED created from Python accepts at most 5 MMS clients (without TLS), and the binding
stalls when several threads of one process use it, so the portals of one gateway share
one :class:`~evgrid.adapters.iec61850.client.IedClient` (one connection, one I/O
thread). Each portal still acts as its own site towards the utility: its messages carry
the site's customer and location and go out with the site's own credentials.

Threads, and why none can deadlock: the IEC 61850 I/O thread only decodes reports and
queues them for the events thread (:mod:`evgrid.apps.portal.threads`), because
portals wait for it and it must never wait for a portal; slot boundaries have their own
thread (it reads the meters at 15-minute boundaries, then writes the new slot's power);
the SOAP server's threads apply the utility's orders (CustomerPortal service);
the outbox threads deliver the portals' messages to the EV Operation System, in order
per site, retried until they arrive (store-and-forward in SQLite), and read the reply to
a charging request back into its portal.

The portal's messages are idempotent by MessageID (``ChargingRequest:<request>``,
``MeterReadings:<session>:start``, ``MeterReadings:<session>:<boundary %Y%m%dT%H%M>``, ...),
so a retry after a lost reply changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from evgrid.adapters.iec61850.client import IedClient
from evgrid.adapters.iec61850.devices import EvState, MeterDevice, StationDevice
from evgrid.adapters.iec61850.session import ConnectionEvent
from evgrid.adapters.soap.client import ServiceClient
from evgrid.adapters.store.sqlite_store import MEMORY, SqliteOutbox, SqliteStore, utc_text
from evgrid.apps.portal import inbound as read
from evgrid.apps.portal.threads import Events, SlotBoundaries
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec, Header, Inbound
from evgrid.errors import AdapterError, UnknownReference
from evgrid.mappings import codes
from evgrid.mappings import portal_writers as writers
from evgrid.messaging.outbox import OutboxItem, OutboxWorker
from evgrid.messaging.router import Outcome, Route, Router
from evgrid.operations.metering import Interval, Register
from evgrid.operations.ports import Clock
from evgrid.portal.model import Bill, Completed, EvView, PlugIn, Site
from evgrid.portal.site import CHARGING_COMPLETE, PLUGGED_IN, UNPLUGGED, SitePortal

log = logging.getLogger(__name__)

EVOS = "evos"
SOURCE = "evgrid-portal"
# Three-phase 230 V: the EV's maximum current (DEEV) as power.
PHASES, VOLTAGE_V = 3, 230.0
_EVENTS = {PLUGGED_IN: (codes.EV_PLUGGED_IN, "EV plugged in"),
           CHARGING_COMPLETE: (codes.EV_CHARGING_COMPLETE, "EV opened the contactor: full"),
           UNPLUGGED: (codes.EV_UNPLUGGED, "EV left before charging started")}
_BILLS_SCHEMA = """
CREATE TABLE IF NOT EXISTS bills (
    bill_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, account_id TEXT NOT NULL, station_id TEXT NOT NULL,
    energy_wh INTEGER NOT NULL, amount TEXT NOT NULL, currency TEXT NOT NULL, issued_at TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class SiteBinding:
    """A site, where its devices are in the gateway, and its credential at the utility."""

    site: Site
    station_ld: str
    meter_ld: str
    user: str
    password: str


class _StationAdapter:
    """The portal's StationPort on a gateway's station logical device."""

    def __init__(self, device: StationDevice) -> None:
        self._device = device

    def close_contactor(self) -> None:
        self._device.close_contactor()

    def open_contactor(self) -> None:
        self._device.open_contactor()

    def contactor_closed(self) -> bool:
        return self._device.contactor_closed()

    def set_power_limit(self, kw: float) -> None:
        self._device.set_power_limit(kw)


class _MeterAdapter:
    def __init__(self, device: MeterDevice) -> None:
        self._device = device

    def register_wh(self) -> int:
        return self._device.read_total_wh()


def ev_view(state: EvState) -> EvView:
    """The portal's view of what DEAO/DEEV report."""
    return EvView(plugged_in=state.plugged_in, ev_id=state.ev_id, energy_wh=int(state.energy_wh),
                  departure_utc=state.departure, max_power_kw=state.max_current_a * PHASES * VOLTAGE_V / 1000)


class OutboxUplink:
    """The portals' Uplink: each message written (:mod:`~evgrid.mappings.portal_writers`) into the outbox.

    The destination is ``evos:<station>``: one queue per site, delivered in order.
    """

    def __init__(self, store: SqliteStore, wake: Callable[[], None]) -> None:
        self._store = store
        self._wake = wake

    def request_charging(self, site: Site, plug: PlugIn) -> None:
        message_id = f"ChargingRequest:{plug.request_mrid}"
        self._queue(site, message_id, writers.charging_request(site, plug, message_id))

    def report_readings(self, site: Site, session_id: str, tag: str, registers: Sequence[Register],
                        intervals: Sequence[Interval]) -> None:
        message_id = f"MeterReadings:{session_id}:{tag}"
        self._queue(site, message_id, writers.readings(site, registers, intervals, message_id))

    def report_event(self, site: Site, event: str, ev_id: str, at_utc: datetime, mrid: str) -> None:
        code, reason = _EVENTS[event]
        message_id = f"EndDeviceEvents:{mrid}"
        self._queue(site, message_id, writers.device_event(site, code, ev_id, at_utc, mrid, reason, message_id))

    def report_completion(self, site: Site, done: Completed) -> None:
        message_id = f"ChargingCompletion:{done.session_id}"
        self._queue(site, message_id, writers.completion(site, done, message_id))

    def assign_usage(self, site: Site, done: Completed, owner_account_id: str,
                     owner_customer_id: str | None) -> None:
        message_id = f"UsageAssignment:{done.session_id}"
        self._queue(site, message_id, writers.usage_assignment(site, done, owner_account_id, owner_customer_id,
                                                               message_id))

    def _queue(self, site: Site, message_id: str, body: bytes) -> None:
        with self._store.lock:
            self._store.write("INSERT OR IGNORE INTO outbox (message_id, destination, body, next_attempt_at) "
                              "VALUES (?, ?, ?, ?)", message_id, f"{EVOS}:{site.station_id}", body,
                              utc_text(datetime.now(UTC)))
        self._wake()


class _PortalOutbox(SqliteOutbox):
    """The outbox, reading the reply to each charging request back into its portal."""

    def __init__(self, store: SqliteStore, host: PortalHost) -> None:
        super().__init__(store)
        self._host = host

    def delivered(self, item: OutboxItem, reply: bytes, at: datetime) -> None:
        super().delivered(item, reply, at)
        if item.message_id.startswith("ChargingRequest:"):
            self._host.request_answered(item.destination, reply)

    def give_up(self, item: OutboxItem, error: str) -> None:
        super().give_up(item, error)
        if item.message_id.startswith("ChargingRequest:"):
            self._host.request_refused(item.destination, item.message_id.split(":", 1)[1], error)


class PortalHost:
    """The portals of one gateway IED, their CIM endpoint and their uplink."""

    def __init__(self, bindings: Sequence[SiteBinding], ied: IedClient, evos: ServiceClient | None, clock: Clock,
                 *, database: str | Path = MEMORY, codec: Codec | None = None, slot_origin: datetime | None = None,
                 ) -> None:
        self.codec = codec or Codec()
        self.ied = ied
        self.clock = clock
        self.store = SqliteStore(database, _BILLS_SCHEMA)
        self._evos = evos
        self._credentials = {b.site.station_id: (b.user, b.password) for b in bindings}
        self._by_ld = {b.station_ld: b for b in bindings}
        # One destination per site (in order within it); sites are served 8 at a time.
        self._worker = OutboxWorker(_PortalOutbox(self.store, self), {f"{EVOS}:*": self._deliver}, codec=self.codec,
                                    concurrency=8)
        uplink = OutboxUplink(self.store, self._worker.wake)
        self.portals: dict[str, SitePortal] = {}
        self._stations: dict[str, StationDevice] = {}
        for binding in bindings:
            station = StationDevice(ied, binding.station_ld)
            self._stations[binding.site.station_id] = station
            self.portals[binding.site.station_id] = SitePortal(
                binding.site, _StationAdapter(station), _MeterAdapter(MeterDevice(ied, binding.meter_ld)),
                uplink, clock)
        self._events = Events()
        self._slots = SlotBoundaries(self.slot_boundary, clock, slot_origin or datetime(2000, 1, 1, tzinfo=UTC))
        self.router = Router(self._routes(), codec=self.codec, source=SOURCE)

    def close(self) -> None:
        """Close the client of the operation system (the IED and the store close with :meth:`running`)."""
        if self._evos is not None:
            self._evos.close()

    # --- running ---------------------------------------------------------------------
    @contextmanager
    def running(self, outbox_interval_s: float = 0.5) -> Iterator[PortalHost]:
        """Connect to the gateway, subscribe every site's reports, deliver and serve until the block ends."""
        self._events.start()
        self._slots.start()
        try:
            self.ied.on_connection(lambda event: self._events.post(lambda: self._connection(event)))
            self.ied.connect()
            # Every control handle now, before any report is enabled: created lazily, each
            # first start would pause the whole gateway's reports (about 1 s at 250 stations).
            self.ied.prepare_controls([ref for station in self._stations.values() for ref in station.control_refs()])
            with self.ied.subscribing():
                for station_id, station in self._stations.items():
                    portal = self.portals[station_id]
                    station.on_ev_state(lambda state, p=portal: self._events.post(lambda: p.ev_changed(ev_view(state))))
                    station.on_switch(lambda sw, p=portal: self._events.post(lambda: p.contactor_changed(sw.closed)))
            with self._worker.running(outbox_interval_s):
                yield self
        finally:
            self._slots.stop()
            self._events.stop()
            self.ied.close()
            self.store.close()

    def _connection(self, event: ConnectionEvent) -> None:
        log.warning("gateway IED %s:%d: connection %s", self.ied.host, self.ied.port, event.value)
        if event is ConnectionEvent.LOST:
            for portal in self.portals.values():
                portal.connection_lost()
            return
        for station_id, station in self._stations.items():
            try:
                self.portals[station_id].reconnected(ev_view(station.read_ev()))
            except AdapterError as error:
                log.warning("site %s: not resumed after reconnect: %s", station_id, error.reason)

    def slot_boundary(self) -> None:
        """Each tick of the boundary thread: power decreases, the registers due, then power increases.

        The grid comes first: the decreases go out before anything else (the reads of a
        gateway's stations take a few ms each on its one MMS connection, simulated minutes
        at the demo's speed, and a transformer must not carry the old slot's power that
        long). The reads come before the increases, which keeps most of the new slot's
        energy out of the interval that just ended; the totals are exact either way. A
        failed read is a gap in that session's intervals, nothing more.
        """
        now = self.clock.now()
        self.apply_power_limits(decreases=True, increases=False)
        for station_id, portal in self._charging():
            try:
                portal.read_boundary(now)
            except AdapterError as error:
                log.warning("site %s: register not read at the boundary (a gap): %s", station_id, error.reason)
        self.apply_power_limits(decreases=False, increases=True)

    def apply_power_limits(self, *, decreases: bool = True, increases: bool = True) -> None:
        """At a slot boundary: each charging session's allotted power, decreases first."""
        now = self.clock.now()
        changes = []
        for station_id, portal in self._charging():
            due = portal.power_limit_due(now)
            if due is not None:
                current = portal.visit.limit_kw if portal.visit and portal.visit.limit_kw is not None else 0.0
                if (due < current and decreases) or (due >= current and increases):
                    changes.append((due - current, station_id, due))
        for _, station_id, kw in sorted(changes):
            try:
                self.portals[station_id].apply_power_limit(kw)
            except AdapterError as error:
                log.warning("site %s: power limit %.3f kW not applied: %s", station_id, kw, error.reason)

    def _charging(self) -> list[tuple[str, SitePortal]]:
        # The boundary thread ticks every second: only charging sessions have a read or a
        # power limit due, and a gateway's other hundred portals need not be asked each time.
        return [(station_id, portal) for station_id, portal in self.portals.items() if portal.charging]

    # --- uplink ----------------------------------------------------------------------
    def _deliver(self, destination: str, body: bytes) -> bytes:
        if self._evos is None:
            raise UnknownReference("no EV Operation System is configured", mrid=EVOS)
        station_id = destination.split(":", 1)[1]
        return self._evos.send(body, as_user=self._credentials[station_id])

    def request_answered(self, destination: str, reply: bytes) -> None:
        """The reply to a charging request: confirmation, charging type and allotment into the portal."""
        portal = self.portals.get(destination.split(":", 1)[1])
        inbound = self.codec.decode(reply)
        if portal is None or inbound.payload is None:
            return
        found: dict[str, etree._Element] = {}
        for element in inbound.payload.getparent():
            if element.tag in (read.CONFIRMATION, read.CHARGING_TYPE, read.ALLOTMENT):
                found[element.tag] = element
        confirmation = found.get(read.CONFIRMATION)
        if confirmation is not None:
            portal.confirmed(read.confirmation(confirmation, found.get(read.CHARGING_TYPE)))
        allotment = found.get(read.ALLOTMENT)
        if allotment is not None:
            portal.allotted(read.allotment(allotment))

    def request_refused(self, destination: str, request_mrid: str, reason: str) -> None:
        """The utility refused a charging request for good."""
        portal = self.portals.get(destination.split(":", 1)[1])
        if portal is not None:
            portal.refused(request_mrid, reason)

    # --- the CustomerPortal service ---------------------------------------------------------
    def _routes(self) -> dict[tuple[env.Verb, str], Route]:
        # Each payload is read off the validated tree (:mod:`.inbound`), not bound to generated classes.
        return {
            (env.Verb.CREATED, "TimeSlotAllotment"): Route(
                ns.qname(ns.EV_CHARGING, "TimeSlotAllotment"), read.allotment, self._allotted,
                None, "2.2.1 / 3.2.1: the start time and slots"),
            (env.Verb.CREATE, "EndDeviceControls"): Route(
                ns.qname(ns.END_DEVICE_CONTROLS, "EndDeviceControls"), read.switch_orders, self._switch,
                None, "2.3 / 3.3: close or open the station's contactor"),
            (env.Verb.CREATED, "BillingInformation"): Route(
                ns.qname(ns.EV_CHARGING, "BillingInformation"), read.bill, self._billed,
                None, "4.1.1: bill information for the EV owner"),
        }

    def _portal(self, station_id: str) -> SitePortal:
        portal = self.portals.get(station_id)
        if portal is None:
            raise UnknownReference(f"station {station_id} is not served by this portal host", mrid=station_id)
        return portal

    def _allotted(self, allotted: object, header: Header, uow: object) -> Outcome:
        self._portal(allotted.station_id).allotted(allotted)  # type: ignore[attr-defined]
        return Outcome()

    def _switch(self, orders: tuple, header: Header, uow: object) -> Outcome:
        for order in orders:
            self._portal(order.station_id).switch(order)
        return Outcome()

    def _billed(self, bill: Bill, header: Header, uow: object) -> Outcome:
        # Bills go to the owner's portal: find the site by the account it bills.
        station_id = self.station_of_account(bill.account_id)
        self.store.write("INSERT OR IGNORE INTO bills (bill_id, session_id, account_id, station_id, energy_wh, "
                         "amount, currency, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", bill.bill_id,
                         bill.session_id, bill.account_id, station_id, bill.energy_wh, str(bill.amount),
                         bill.currency, utc_text(bill.issued_utc))
        self._portal(station_id).billed(bill)
        return Outcome()

    def station_of_account(self, account_id: str) -> str:
        """The station of the site whose customer holds ``account_id``."""
        for station_id, portal in self.portals.items():
            if portal.site.account_id == account_id:
                return station_id
        raise UnknownReference(f"account {account_id} has no site at this portal host", mrid=account_id)

    def handle(self, message: bytes, principal: object = None) -> bytes:
        """Answer one CustomerPortal message (the SOAP endpoint's callback)."""
        return self.router.handle(message, sender=getattr(principal, "user", None))

    def handle_inbound(self, inbound: Inbound, principal: object, checked: object = None) -> bytes:
        """The SOAP endpoint's callback: the message the server decoded and validated, not decoded again."""
        return self.router.handle_inbound(inbound, sender=getattr(principal, "user", None))

    def bills(self) -> list[dict[str, object]]:
        """Every bill this host's portals received (4.1.1)."""
        return [dict(row) for row in self.store.query("SELECT * FROM bills ORDER BY bill_id")]

    def outbox_pending(self) -> int:
        """Messages to the utility not delivered yet."""
        return int(self.store.query("SELECT count(*) FROM outbox WHERE status = 'pending'")[0][0])
