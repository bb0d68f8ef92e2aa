"""The reference Customer Billing System: bills each charging session once, in Decimal.

Operations (:data:`evgrid.mappings.services.CUSTOMER_BILLING`):

- ``create ChargingConsumption`` (step 4.1): priced one of two ways, each rounded once
  per charge line to the cent.

  - From the meter data: with a meter data management client (``mdm``) and a consumption
    that names its ``UsagePoint``, one ``get MeterReadings`` asks MDM for the 15-minute
    intervals (IEC 61968-9, ``codes.INTERVAL_15MIN_WH``, each stamped with its end) of
    that usage point and meter from ``floor_interval(start)`` to ``ceil_interval(end)``;
    those ending in ``(floor(start), ceil(end)]`` are priced each at the tariff window in
    force in it (:func:`evgrid.operations.rates.price_intervals`), one Charge per rate
    with the intervals it prices and how many of them MDM estimated. A pause costs
    nothing: its intervals carry no energy. The intervals must add up to the metered
    ``consumedEnergy``.
  - By time: without an MDM client, or for a consumption without ``UsagePoint`` (a
    sender older than the metered intervals), the energy is spread over the tariff
    windows in proportion to time (:func:`evgrid.operations.rates.split_energy`, every
    Wh kept) and priced per window (:func:`evgrid.operations.rates.price`).

  The reply is OK with the BillingInformation; the same BillingInformation is queued, in
  the same transaction, for the EV Operation System (``created BillingInformation``, step
  4.1.1) and forwarded by an outbox worker with retries, so billing and the operation
  system may each be down for a while without losing or doubling a bill.
- ``created ThirdPartyCharging`` (step 3.1.1): recorded (EV, owner and host accounts).

Each MessageID is applied once (the Router's journal). A second consumption for a session
already billed, under another MessageID, gets the bill already made: one bill per session.

Failures of the metered path (61968-100 codes):

- MDM's complete intervals do not add up to ``consumedEnergy``, or add up to more:
  :class:`~evgrid.errors.MeterDataMismatch` (6.6) with both figures; nothing billed. It
  is journaled like any refusal: the sender gives up and its operator sees the reason.
- the tariff windows leave a metered interval unpriced: :class:`~evgrid.errors.InvalidParameter` (2.6).
- MDM unreachable, failing, answering what billing cannot read, or not holding every
  interval of the session yet (less energy than metered: the readings may still be on
  their way, they travel to MDM on another queue): :class:`~evgrid.errors.UpstreamFault`
  (5.1), nothing stored, and the reply is *not* journaled under the MessageID, so the
  sender's retry of the same message is billed once MDM can answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
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
from evgrid.cim.generated import get_meter_readings as gmr
from evgrid.cim.generated.message import RequestMessage, RequestType
from evgrid.errors import AdapterError, InvalidParameter, MeterDataMismatch, UpstreamFault
from evgrid.mappings import codes, writers
from evgrid.mappings.ev_charging import utc, xml_time
from evgrid.mappings.meter_readings import energy_wh, utc_time, wh_factor
from evgrid.messaging.outbox import OutboxWorker, RetryPolicy
from evgrid.messaging.router import Outcome, Route, Router
from evgrid.operations.events import BillInformation
from evgrid.operations.metering import ESTIMATED, Interval, ceil_interval, floor_interval, interval_ends, on_boundary
from evgrid.operations.rates import CENT, ChargeLine, PricedWindow, price, price_intervals, split_energy

log = logging.getLogger(__name__)

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
    windows: tuple[PricedWindow, ...]  # clipped to [start_utc, end_utc]: the split by time
    tariff_windows: tuple[PricedWindow, ...] = ()  # as sent, oldest first: the metered intervals
    usage_point_id: str | None = None  # None: an older sender; priced by time
    meter_id: str | None = None


def consumption_from_cim(message: ev.ChargingConsumption) -> Consumption:
    """The consumption, its tariff windows (as sent, and clipped to its interval) and where it was metered.

    The usage point and meter are None from a sender that does not name them.

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
    usage_point = message.usage_point
    return Consumption(message.charging_session.m_rid, message.charged_account.m_rid, message.consumed_energy,
                       start, end, message.tariff.currency, tuple(inside), tuple(all_windows),
                       usage_point.m_rid if usage_point else None,
                       usage_point.meter.m_rid if usage_point and usage_point.meter else None)


def compute_bill(consumption: Consumption, now: datetime,
                 intervals: Sequence[Interval] | None = None) -> BillInformation:
    """The bill: charge lines per rate (cent-rounded Decimal) and their sum.

    ``intervals``: the session's metered 15-minute intervals (:func:`session_intervals`),
    each priced at the window in force in it; None: the energy is split by time over the
    windows (no meter data).

    Raises:
        InvalidParameter: the tariff's windows leave a metered interval unpriced.
    """
    if intervals is None:
        lines = price(split_energy(consumption.energy_wh, consumption.start_utc, consumption.end_utc,
                                   list(consumption.windows)))
    else:
        try:
            lines = price_intervals(list(intervals), list(consumption.tariff_windows))
        except ValueError as exc:
            raise InvalidParameter(f"the tariff's intervals do not price every metered interval of session "
                                   f"{consumption.session_id}: {exc}") from None
    if not lines:  # no energy: still one (zero) line, the schema wants at least one Charge
        first = consumption.windows[0]
        lines = [ChargeLine(first.label, 0, first.price_per_kwh, Decimal(0).quantize(CENT))]
    amount = sum((line.amount for line in lines), Decimal(0))
    return BillInformation(f"BILL-{consumption.session_id}", consumption.session_id, consumption.account_id,
                           consumption.currency, tuple(lines), consumption.energy_wh, amount, now)


# ------------------------------------------------------------------ meter data management
def meter_readings_request(usage_point_id: str, meter_id: str | None, start_utc: datetime,
                           end_utc: datetime) -> RequestMessage:
    """``get MeterReadings``: the 15-minute Wh intervals of a usage point (and meter) in [start, end].

    IEC 61968-9 GetMeterReadings in the Request: UsagePoint, EndDevice (the meter),
    ReadingType and TimeSchedule/scheduleInterval, whose ends MDM includes.
    """
    selection = gmr.GetMeterReadings(
        usage_point=[gmr.UsagePoint(m_rid=usage_point_id)],
        end_device=[gmr.EndDevice(m_rid=meter_id)] if meter_id else [],
        reading_type=[gmr.ReadingType(m_rid=codes.INTERVAL_15MIN_WH)],
        time_schedule=[gmr.TimeSchedule(schedule_interval=gmr.DateTimeInterval(
            start=xml_time(start_utc), end=xml_time(end_utc)))])
    return RequestMessage(header=env.header(env.Verb.GET, "MeterReadings", source=SOURCE),
                          request=RequestType(other_element=[selection]))


_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_OPEN = ('<?xml version="1.0" encoding="UTF-8"?>\n<msg:RequestMessage'
         + "".join(f' xmlns:{prefix}="{uri}"' for prefix, uri in ns.PREFIXES.items()) + ">")
_INTERVAL_TYPE = f"<gmr:ReadingType><gmr:mRID>{codes.INTERVAL_15MIN_WH.translate(_TEXT)}</gmr:mRID></gmr:ReadingType>"


def _mrid(prefix: str, mrid: str) -> str:
    return f"<{prefix}:mRID>{mrid.translate(_TEXT)}</{prefix}:mRID>" if mrid else f"<{prefix}:mRID/>"


def meter_readings_get(usage_point_id: str, meter_id: str | None, start_utc: datetime, end_utc: datetime, *,
                       message_id: str | None = None, timestamp: datetime | None = None) -> bytes:
    """``codec.dump(meter_readings_request(...))``, written directly (xsdata takes a millisecond for it).

    ``message_id`` and ``timestamp`` as :func:`evgrid.cim.envelope.header` fills them in
    when not given (a new UUID, now).
    """
    text = (_OPEN + "<msg:Header><msg:Verb>get</msg:Verb><msg:Noun>MeterReadings</msg:Noun>"
            f"<msg:Timestamp>{writers.xml_datetime(timestamp or datetime.now(UTC))}</msg:Timestamp>"
            f"<msg:Source>{SOURCE}</msg:Source>"
            f"<msg:MessageID>{(message_id or env.new_message_id()).translate(_TEXT)}</msg:MessageID></msg:Header>"
            "<msg:Request><gmr:GetMeterReadings>"
            + (f"<gmr:EndDevice>{_mrid('gmr', meter_id)}</gmr:EndDevice>" if meter_id else "")
            + _INTERVAL_TYPE + "<gmr:TimeSchedule><gmr:scheduleInterval>"
            f"<gmr:end>{writers.xml_datetime(end_utc)}</gmr:end><gmr:start>{writers.xml_datetime(start_utc)}</gmr:start>"
            "</gmr:scheduleInterval></gmr:TimeSchedule>"
            f"<gmr:UsagePoint>{_mrid('gmr', usage_point_id)}</gmr:UsagePoint>"
            "</gmr:GetMeterReadings></msg:Request></msg:RequestMessage>")
    return text.encode()  # its mRIDs come from a parsed message: nothing XML cannot carry


_MR = "{" + ns.METER_READINGS + "}"
_ESTIMATED_PATH = f"{_MR}ReadingQualities/{_MR}ReadingQualityType"


def intervals_of(payload: etree._Element | None) -> list[Interval]:
    """The Wh intervals (``codes.INTERVAL_15MIN_WH``) of a validated MeterReadings, oldest first.

    An interval is estimated when one of its ReadingQualities is :data:`~evgrid.operations.metering.ESTIMATED`.

    Raises:
        MappingError: a value that is not whole Wh, a timeStamp without a time zone.
        UpstreamFault: an interval off a 15-minute boundary, or given twice.
    """
    found: dict[datetime, Interval] = {}
    if payload is None:
        return []
    factor = wh_factor(codes.INTERVAL_15MIN_WH)
    for block in payload.iterfind(f"{_MR}MeterReading/{_MR}IntervalBlocks"):
        reading_type = block.find(f"{_MR}ReadingType")
        if reading_type is None or reading_type.get("ref") != codes.INTERVAL_15MIN_WH:
            continue
        for reading in block.iterchildren(f"{_MR}IntervalReadings"):
            end = utc_time(reading.findtext(f"{_MR}timeStamp"))
            if not on_boundary(end) or end in found:
                raise UpstreamFault(f"interval {end.isoformat()} is "
                                    f"{'given twice' if end in found else 'off a 15-minute boundary'}")
            estimated = any(quality.get("ref") == ESTIMATED for quality in reading.iterfind(_ESTIMATED_PATH))
            found[end] = Interval(end, energy_wh(reading.findtext(f"{_MR}value"), factor), estimated)
    return [found[end] for end in sorted(found)]


def session_intervals(consumption: Consumption, mdm: ServiceClient, codec: Codec) -> list[Interval]:
    """MDM's intervals of the session, ``(floor(start), ceil(end)]``, checked against ``consumedEnergy``.

    One ``get MeterReadings`` round trip.

    Raises:
        UpstreamFault: (5.1) MDM is unreachable, failed, answered what cannot be read, or
            lacks intervals of the session while they add up to less than was metered
            (they may still be on their way): worth sending again later.
        MeterDataMismatch: (6.6) the intervals add up to another total than ``consumedEnergy``.
    """
    assert consumption.usage_point_id is not None
    start, end = floor_interval(consumption.start_utc), ceil_interval(consumption.end_utc)
    where = f"usage point {consumption.usage_point_id}" + (f", meter {consumption.meter_id}"
                                                            if consumption.meter_id else "")
    request = meter_readings_get(consumption.usage_point_id, consumption.meter_id, start, end)
    try:
        reply = codec.decode(mdm.send(request))  # the client checked it is an OK reply
        intervals = [i for i in intervals_of(reply.payload) if start < i.end_utc <= end]
    except AdapterError as exc:
        # Whatever MDM answered, or failed to: billing could not read the meter data, the
        # message itself is fine. 5.1, so that the sender tries it again later.
        raise UpstreamFault(f"meter data management could not give the 15-minute intervals of {where} "
                            f"(code {exc.code}: {exc.reason}); nothing was billed: send it again later",
                            details=exc.code) from exc
    metered = consumption.energy_wh
    total = sum(i.wh for i in intervals)
    expected = interval_ends(consumption.start_utc, consumption.end_utc)
    if total < metered and len(intervals) < len(expected):
        raise UpstreamFault(f"meter data management has {len(intervals)} of the {len(expected)} 15-minute "
                            f"intervals of session {consumption.session_id} at {where} yet, {total} Wh of "
                            f"the {metered} Wh metered; nothing was billed: send it again later")
    if total != metered:
        raise MeterDataMismatch(f"session {consumption.session_id}: the 15-minute intervals of {where} from "
                                f"meter data management add up to {total} Wh, the consumption says {metered} Wh "
                                f"(consumedEnergy); nothing was billed", details=f"{total} != {metered}")
    return intervals


_BILL_OPEN = "<ev:BillingInformation>"
_DECLARED = "".join(f' xmlns:{prefix}="{uri}"' for prefix, uri in ns.PREFIXES.items())


def stored_bill(written: str) -> bytes:
    """A bill as the ``bills`` table keeps it: ``etree.tostring(codec.to_element(bill_to_cim(bill)))``.

    That is the written payload with the codec's namespace declarations on its root, in
    ASCII with character references (lxml's default encoding).
    """
    return written.replace(_BILL_OPEN, f"<ev:BillingInformation{_DECLARED}>", 1).encode("ascii", "xmlcharrefreplace")


def _third_party(message: ev.ThirdPartyCharging) -> ev.ThirdPartyCharging:
    return message


class BillingSystem:
    """The billing service: store, router and (with ``evos``) the forwarder of bills."""

    def __init__(self, database: str | Path = MEMORY, *, evos: ServiceClient | None = None,
                 mdm: ServiceClient | None = None, codec: Codec | None = None,
                 policy: RetryPolicy | None = None) -> None:
        """A billing service; ``evos`` forwards its bills, ``mdm`` gives the intervals it prices.

        Without ``evos`` bills are not forwarded; without ``mdm`` (the MeterDataManagement
        service) every consumption is priced by time.
        """
        self.codec = codec or Codec()
        self.mdm = mdm
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
        self.router = Router(routes, codec=self.codec, source=SOURCE, unit_of_work=self.store.unit_of_work)  # type: ignore[arg-type]
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
        intervals = None
        if self.mdm is not None and consumption.usage_point_id:
            # Inside the transaction: one round trip, while billing handles one message at a time anyway.
            intervals = session_intervals(consumption, self.mdm, self.codec)
        bill = compute_bill(consumption, uow.now, intervals)
        # Written directly (evgrid.mappings.writers): the codec's bytes for bill_to_cim(bill), without xsdata.
        payload = writers.bill(bill)
        uow.db.execute(
            "INSERT INTO bills (bill_id, session_id, account_id, currency, energy_wh, amount, issued_at, message_id, "
            "body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (bill.bill_id, bill.session_id, bill.account_id, bill.currency, bill.energy_wh, str(bill.amount),
             utc_text(bill.issued_utc), header.message_id, stored_bill(payload)))
        if self.forwarder is not None:
            # 4.1.1, with a MessageID the operation system applies once however often it arrives.
            message_id = f"BillingInformation:{bill.session_id}"
            uow.queue(message_id, EVOS, writers.message(env.Verb.CREATED, "BillingInformation", payload,
                                                        source=SOURCE, message_id=message_id))
        return Outcome(payload=(writers.Written(payload),))

    def _record_third_party(self, message: ev.ThirdPartyCharging, header: Header, uow: SqliteUnitOfWork) -> Outcome:
        uow.db.execute(
            "INSERT OR IGNORE INTO third_party (session_id, ev_id, owner_account, host_account, host_usage_point, "
            "message_id) VALUES (?, ?, ?, ?, ?, ?)",
            (message.charging_session.m_rid, message.electric_vehicle.m_rid, message.owner_account.m_rid,
             message.host_account.m_rid, message.host_usage_point.m_rid, header.message_id))
        return Outcome()
