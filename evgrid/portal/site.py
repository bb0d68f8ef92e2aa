"""One site's Customer Communication Portal: the use-case steps on the customer's side.

The portal sits between its station and meter (IEC 61850, behind :class:`StationPort`
and :class:`MeterPort`) and the utility's EV Operation System (behind :class:`Uplink`,
store-and-forward). It follows one EV's visit at a time:

- the EV plugs in and identifies itself (1.1.1): the portal adds its customer id and
  location and requests charging (1.1.2);
- the reply confirms the requirements (2.1.1 / 3.1.3) and the allotment gives the slots
  (2.2.1 / 3.2.1);
- at the start the utility orders the contactor closed (2.3 / 3.3): the portal reads the
  meter register first (2.3.1), then closes; within the slots it follows the allotted
  power (:meth:`SitePortal.power_limit_due`);
- the EV opens the contactor when full (2.3.2), or the utility orders it open at the end
  of the allotment, or the EV leaves: the portal reads the register again (2.3.3) and
  reports completion (2.3.4); at a third-party site it also assigns the usage to the EV
  owner (3.3.5);
- the bill information for the EV owner arrives later at the owner's own portal (4.1.1).

While it charges, the portal also reads the register at every 15-minute boundary and
sends each *span* between two reads with the interval it closes (IEC 61968-9 interval
data; the rules are :mod:`evgrid.operations.metering`): a boundary read is stamped with
the boundary itself, and a span that touches more than one interval (a read was missed:
the IED was away, a read failed) goes without intervals, a gap that meter data
management estimates. A read never produces a value it cannot prove: a register below
the last read is not sent (see :meth:`SitePortal.read_boundary`).

Reading the register before closing and after opening makes the meter delta exactly
the session's energy. An IED restart opens the contactor (fail-safe): the portal does
not take that for the end of the session but closes it again once the IED is back
(:meth:`SitePortal.connection_lost`, :meth:`SitePortal.reconnected`).

All methods are thread-safe (reports arrive on the IEC 61850 I/O thread, orders on the
SOAP server's threads).
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from evgrid.errors import AdapterError, InvalidParameter, UnknownReference, WriteRejected
from evgrid.operations.metering import Interval, Register, floor_interval, interval_ends
from evgrid.operations.ports import Clock
from evgrid.portal.model import Allotted, Bill, Completed, Confirmed, EvView, PlugIn, Site, SwitchOrder

log = logging.getLogger(__name__)

PLUGGED_IN = "plugged-in"
CHARGING_COMPLETE = "charging-complete"
UNPLUGGED = "unplugged"
# How late after a boundary a stop order may still read it (the order and the boundary read
# race: both come at the end of a slot).
BOUNDARY_READ_LATENESS = timedelta(minutes=1)
# An EV that reports no departure is assumed to stay this long (a plausible overnight stay).
DEFAULT_STAY = timedelta(hours=12)
START, END = "start", "end"  # the tags of a session's first and last span (a boundary's is its time)
_AFTER = timedelta(microseconds=1)


class StationPort(Protocol):
    """The site's charging station (IEC 61850 CSWI/XCBR, DESE)."""

    def close_contactor(self) -> None: ...

    def open_contactor(self) -> None: ...

    def contactor_closed(self) -> bool: ...

    def set_power_limit(self, kw: float) -> None: ...


class MeterPort(Protocol):
    """The site's meter (IEC 61850 MMTR)."""

    def register_wh(self) -> int: ...


class Uplink(Protocol):
    """Messages to the EV Operation System; each is stored before it is sent, and sent once."""

    def request_charging(self, site: Site, plug: PlugIn) -> None: ...

    def report_readings(self, site: Site, session_id: str, tag: str, registers: Sequence[Register],
                        intervals: Sequence[Interval]) -> None:
        """2.3.1 / 2.3.3 and each boundary: register reads and the intervals between them.

        ``tag`` is ``start``, ``end`` or the boundary as ``%Y%m%dT%H%M``: with the session it
        names the message, so a span is stored and sent once.
        """

    def report_completion(self, site: Site, done: Completed) -> None: ...

    def report_event(self, site: Site, event: str, ev_id: str, at_utc: datetime, mrid: str) -> None: ...

    def assign_usage(self, site: Site, done: Completed, owner_account_id: str,
                     owner_customer_id: str | None) -> None: ...


class Phase(enum.Enum):
    """Where one EV's visit stands."""

    REQUESTED = "requested"  # 1.1.2 sent
    SCHEDULED = "scheduled"  # confirmed; waiting for the start order
    CHARGING = "charging"  # contactor closed, start register read
    FINISHED = "finished"  # completion reported


@dataclass(slots=True)
class Visit:
    """One EV at the station, from plug-in to completion."""

    plug: PlugIn
    phase: Phase = Phase.REQUESTED
    confirmed: Confirmed | None = None
    allotted: Allotted | None = None
    started_utc: datetime | None = None
    start_register_wh: int | None = None
    last_read: Register | None = None  # the latest register read sent: where the next span begins
    tried_boundary: datetime | None = None  # the latest boundary a read was attempted at (once each)
    interrupted: bool = False  # the IED connection dropped while charging
    left: bool = False  # the EV has been unplugged
    limit_kw: float | None = None  # the power limit last written to the station
    completed: Completed | None = None
    notes: list[str] = field(default_factory=list)

    ordered_session_id: str | None = None  # from a start order that overtook the reply

    @property
    def session_id(self) -> str | None:
        """The utility's session id, once the request was confirmed, allotted or started."""
        if self.confirmed is not None:
            return self.confirmed.session_id
        if self.allotted is not None:
            return self.allotted.session_id
        return self.ordered_session_id


class SitePortal:
    """The Customer Communication Portal of one site."""

    def __init__(self, site: Site, station: StationPort, meter: MeterPort, uplink: Uplink, clock: Clock) -> None:
        self.site = site
        self._station = station
        self._meter = meter
        self._uplink = uplink
        self._clock = clock
        self._lock = threading.RLock()
        self.visit: Visit | None = None
        self.finished: list[Completed] = []
        self.bills: dict[str, Bill] = {}

    @property
    def charging(self) -> bool:
        """Whether a session charges now (read without the lock: a moment's view, for a cheap first filter)."""
        visit = self.visit
        return visit is not None and visit.phase is Phase.CHARGING

    # --- the station ---------------------------------------------------------------
    def ev_changed(self, ev: EvView) -> None:
        """Plug-in and identity (1.1.1 -> 1.1.2), or the EV left."""
        with self._lock:
            visit = self.visit
            present = visit if visit is not None and not visit.left else None
            if ev.plugged_in and ev.ev_id:
                if present is not None and present.plug.ev_id == ev.ev_id:
                    return  # the same EV, reported again (full, a general interrogation, a restart)
                if present is not None and present.phase is not Phase.FINISHED:
                    self._end(present, "unplugged")  # another EV: the previous one left unseen
                self._plug_in(ev)
            elif present is not None:
                if present.phase is Phase.CHARGING:
                    self._end(present, "departure")
                elif present.phase is not Phase.FINISHED and self._charged_meanwhile(present):
                    self._charging(present, present.session_id or f"S-{present.plug.request_mrid}")
                    self._end(present, "departure")
                elif present.phase is not Phase.FINISHED:
                    log.warning("site %s: %s left before charging started", self.site.station_id, present.plug.ev_id)
                    present.phase = Phase.FINISHED
                    self._uplink.report_event(self.site, UNPLUGGED, present.plug.ev_id, self._clock.now(),
                                              f"{present.plug.request_mrid}:unplug")
                present.left = True

    def _plug_in(self, ev: EvView) -> None:
        now = self._clock.now()
        departure = ev.departure_utc if ev.departure_utc and ev.departure_utc > now else now + DEFAULT_STAY
        plug = PlugIn(
            request_mrid=f"R-{self.site.station_id}-{now:%Y%m%dT%H%M%S}", ev_id=str(ev.ev_id),
            plugged_in_utc=now, departure_utc=departure, requested_wh=max(int(ev.energy_wh), 1),
            ev_max_power_kw=ev.max_power_kw if ev.max_power_kw > 0 else self.site.station_max_kw,
        )
        self.visit = Visit(plug)
        self._uplink.report_event(self.site, PLUGGED_IN, plug.ev_id, now, f"{plug.request_mrid}:plug")  # 1
        self._uplink.request_charging(self.site, plug)

    def contactor_changed(self, closed: bool) -> None:
        """A contactor report: opened by the EV when full (2.3.2), or by the station on unplug."""
        with self._lock:
            visit = self.visit
            if closed or visit is None or visit.phase is not Phase.CHARGING or visit.interrupted:
                return
            if self._station.contactor_closed():
                return  # an old report: it is closed again now
            self._end(visit, "evFull")

    def connection_lost(self) -> None:
        """The IED connection dropped: an open contactor seen next is not the end of the session."""
        with self._lock:
            if self.visit is not None and self.visit.phase is Phase.CHARGING:
                self.visit.interrupted = True

    def reconnected(self, ev: EvView) -> None:
        """The IED is back: resume a charge its restart interrupted, or finish it."""
        with self._lock:
            visit = self.visit
            if visit is None or not visit.interrupted:
                if visit is None or visit.phase is Phase.FINISHED:
                    self.ev_changed(ev)  # an EV may have plugged in while we were away
                return
            visit.interrupted = False
            if not (ev.plugged_in and ev.ev_id == visit.plug.ev_id):
                self._end(visit, "departure")
                return
            if self._station.contactor_closed():
                return
            now = self._clock.now()
            kw = visit.allotted.limit_at(now) if visit.allotted else self.site.station_max_kw
            try:
                self._station.set_power_limit(kw)
                visit.limit_kw = kw
                self._station.close_contactor()
                visit.notes.append(f"resumed after an IED restart at {now.isoformat()}")
                log.info("site %s: %s resumed after an IED restart", self.site.station_id, visit.session_id)
            except WriteRejected as refused:  # Blocked-by-process: the EV is full
                log.info("site %s: not resumed (%s)", self.site.station_id, refused.reason)
                self._end(visit, "evFull")

    # --- the utility ---------------------------------------------------------------
    def confirmed(self, confirmation: Confirmed) -> None:
        """2.1.1 / 3.1.3: the reply to the request."""
        with self._lock:
            visit = self._visit_for_request(confirmation.request_mrid)
            if visit is None:
                return
            visit.confirmed = confirmation
            if visit.phase is Phase.REQUESTED:
                visit.phase = Phase.SCHEDULED
            elif visit.completed is not None:
                # The start order overtook this reply and the charge is already over: only
                # now is it known whether the usage goes to a visiting EV's owner (3.3.5).
                self._assign_usage(visit.completed, confirmation)

    def refused(self, request_mrid: str, reason: str) -> None:
        """The utility refused the request (unknown EV, closed account ...): nothing to charge."""
        with self._lock:
            visit = self._visit_for_request(request_mrid)
            if visit is not None and visit.phase in (Phase.REQUESTED, Phase.SCHEDULED):
                visit.phase = Phase.FINISHED
                visit.notes.append(f"refused: {reason}")
                log.warning("site %s: request %s refused: %s", self.site.station_id, request_mrid, reason)

    def allotted(self, allotment: Allotted) -> None:
        """2.2.1 / 3.2.1: the start time and slots (from the reply or the TimeSlotAllotment event)."""
        with self._lock:
            visit = self.visit
            expected = f"S-{visit.plug.request_mrid}" if visit else None
            if visit is None or allotment.session_id not in (visit.session_id, expected):
                log.info("site %s: allotment for %s ignored (not the current visit)", self.site.station_id,
                         allotment.session_id)
                return
            visit.allotted = allotment

    def switch(self, order: SwitchOrder) -> None:
        """2.3 / 3.3: the utility's start (close) or stop (open) order for the current session."""
        with self._lock:
            visit = self.visit
            if visit is None or (order.session_id and order.session_id not in (visit.session_id,
                                                                               f"S-{visit.plug.request_mrid}")):
                raise UnknownReference(f"station {self.site.station_id} has no session {order.session_id}",
                                       mrid=order.session_id or self.site.station_id)
            if order.close:
                self._start(visit, order.session_id or visit.session_id or f"S-{visit.plug.request_mrid}")
            elif visit.phase is Phase.CHARGING:
                # A stop at the end of the allotment comes at a boundary, often just before the
                # host's own boundary read: read that boundary first, so that the session's last
                # interval is measured rather than estimated (only just after it: later, the read
                # would hold the next interval's energy too).
                now = self._clock.now()
                try:
                    if now - floor_interval(now) <= BOUNDARY_READ_LATENESS:
                        self.read_boundary(now)
                except AdapterError as error:
                    log.warning("site %s: register not read at the boundary (a gap): %s", self.site.station_id,
                                error.reason)
                try:
                    self._station.open_contactor()
                except WriteRejected:
                    if self._station.contactor_closed():
                        raise
                    self._end(visit, "evFull")  # the EV opened it itself a moment ago (2.3.2)
                    return
                self._end(visit, "stopped")

    def _start(self, visit: Visit, session_id: str) -> None:
        if visit.phase is Phase.CHARGING:
            return  # the same order again
        if visit.phase is Phase.FINISHED:
            raise InvalidParameter(f"session {session_id} at {self.site.station_id} has ended", details=session_id)
        now = self._clock.now()
        # Before its first slot (an early start) this is 0: the slot boundary raises it.
        kw = visit.allotted.limit_at(now) if visit.allotted else self.site.station_max_kw
        if visit.start_register_wh is None:
            # 2.3.1 before closing: nothing flows while the contactor is open, so the delta is
            # exact. Kept for a retried start: a close that timed out may still have happened.
            visit.start_register_wh, visit.started_utc = self._meter.register_wh(), now
            visit.last_read = Register(now, visit.start_register_wh)
        self._station.set_power_limit(kw)
        visit.limit_kw = kw
        try:
            self._station.close_contactor()
        except WriteRejected:
            if not self._station.contactor_closed():
                if not self._charged_meanwhile(visit):
                    raise
                # An earlier close went through, and the EV has filled up since (Blocked-by-process).
                self._charging(visit, session_id)
                self._end(visit, "evFull")
                return
            # Position-reached: an earlier close went through after all.
        self._charging(visit, session_id)

    def _charged_meanwhile(self, visit: Visit) -> bool:
        """Energy flowed since the start register was read (a close we did not see succeed)."""
        return visit.start_register_wh is not None and self._meter.register_wh() > visit.start_register_wh

    def _charging(self, visit: Visit, session_id: str) -> None:
        if visit.session_id is None:
            # The reply has not arrived yet: whether this is a third-party charge is not known
            # until it does (see :meth:`confirmed`).
            visit.ordered_session_id = session_id
        visit.phase = Phase.CHARGING
        assert visit.started_utc is not None and visit.start_register_wh is not None
        self._uplink.report_readings(self.site, session_id, START,
                                     (Register(visit.started_utc, visit.start_register_wh),), ())

    def _end(self, visit: Visit, reason: str) -> None:
        """2.3.3 + 2.3.4 (+ 3.3.5): read the register, report completion (and assign usage)."""
        visit.phase = Phase.FINISHED
        session_id = visit.session_id
        previous = visit.last_read
        if visit.started_utc is None or visit.start_register_wh is None or previous is None or session_id is None:
            return
        now = self._clock.now()
        # Reads are sequential: the end read comes after the last one even when the clock has
        # not moved since (two reads at one instant would make an empty span, refused).
        at = now if now > previous.at_utc else previous.at_utc + _AFTER
        end = self._meter.register_wh()
        measured = end >= previous.wh
        if not measured:
            # A meter reset (exchange) mid-session: the register restarted. Report what can be
            # proved (nothing since the last read) and no interval: the span's energy is unknown.
            log.error("site %s: register went from %d to %d Wh; nothing more reported", self.site.station_id,
                      previous.wh, end)
            end = previous.wh
        done = Completed(session_id, visit.plug.ev_id, visit.started_utc, at, visit.start_register_wh, end, reason)
        visit.completed = done
        self.finished.append(done)
        if reason == "evFull":  # 2.3.2 / 3.3.2
            self._uplink.report_event(self.site, CHARGING_COMPLETE, done.ev_id, now, f"{done.session_id}:full")
        self._report_span(visit, session_id, END, Register(at, end), measured=measured)  # 2.3.3
        self._uplink.report_completion(self.site, done)
        if visit.confirmed is not None:
            self._assign_usage(done, visit.confirmed)

    def _report_span(self, visit: Visit, session_id: str, tag: str, read: Register, *, measured: bool) -> None:
        """Send the span from the last read to ``read``, with its interval when it closes exactly one.

        One interval: the register delta is its energy. More (a boundary read was missed):
        how the delta splits between them is unknown, so none is sent; the span is a gap
        that meter data management estimates.
        """
        previous = visit.last_read
        assert previous is not None
        ends = interval_ends(previous.at_utc, read.at_utc)
        intervals = (Interval(ends[0], read.wh - previous.wh),) if measured and len(ends) == 1 else ()
        self._uplink.report_readings(self.site, session_id, tag, (previous, read), intervals)
        visit.last_read = read

    def _assign_usage(self, done: Completed, confirmed: Confirmed) -> None:
        """3.3.5: at a third-party site, the session's usage goes to the EV owner's account."""
        if not confirmed.third_party:
            return
        if confirmed.owner_account_id is None:
            log.error("site %s: third-party session %s without the owner's account: usage not assigned",
                      self.site.station_id, done.session_id)
            return
        self._uplink.assign_usage(self.site, done, confirmed.owner_account_id, confirmed.owner_customer_id)

    def billed(self, bill: Bill) -> None:
        """4.1.1: bill information for an EV of this site's customer."""
        with self._lock:
            self.bills[bill.bill_id] = bill

    # --- the allotted power within the slots ------------------------------------------
    def power_limit_due(self, now: datetime) -> float | None:
        """The power the charging session may draw now, when it differs from what the station has."""
        with self._lock:
            visit = self.visit
            if visit is None or visit.phase is not Phase.CHARGING or visit.allotted is None or visit.interrupted:
                return None
            due = visit.allotted.limit_at(now)
            return None if due == visit.limit_kw else due

    def read_boundary(self, now: datetime) -> None:
        """At a 15-minute boundary while charging: read the register, send the span since the last read.

        Called by the host before the new slot's power limit is written, so the energy of
        the next slot does not leak into this interval. The read is stamped with the
        boundary itself, not the moment it was taken (a few seconds later): the intervals
        then follow from the stamps alone (:func:`~evgrid.operations.metering.interval_ends`);
        the energy of those seconds, still drawn at the old slot's power, stays in the
        interval that ends at the boundary, and no Wh is lost or counted twice.

        Each boundary is considered once, at the first call after it, and not read while
        the IED connection is down: a read taken long after its boundary (the IED back
        minutes later, a failed read retried) would be a wrong value for it, so a missed
        boundary is left to the next read (a gap, estimated). A register below the last read
        (a meter exchange; a device that lost part of its count) is not sent either: the
        span from the last read runs on to the next read at or above it (a gap as well),
        so no register sent ever goes back.

        Raises:
            AdapterError: the read failed (the boundary is not tried again).
        """
        with self._lock:
            visit = self.visit
            if visit is None or visit.phase is not Phase.CHARGING or visit.last_read is None or visit.session_id is None:
                return
            boundary = floor_interval(now)
            if boundary <= visit.last_read.at_utc or (visit.tried_boundary is not None
                                                      and boundary <= visit.tried_boundary):
                return  # no boundary since the last read, or this one was considered already
            visit.tried_boundary = boundary
            if visit.interrupted:
                return  # the IED is away: this boundary is part of a gap
            wh = self._meter.register_wh()
            if wh < visit.last_read.wh:
                log.error("site %s: register %d Wh at %s is below the last read (%d Wh): not sent",
                          self.site.station_id, wh, boundary.isoformat(), visit.last_read.wh)
                return
            self._report_span(visit, visit.session_id, f"{boundary:%Y%m%dT%H%M}", Register(boundary, wh),
                              measured=True)

    def apply_power_limit(self, kw: float) -> None:
        """Write the allotted power to the station (called by the host at slot boundaries)."""
        with self._lock:
            visit = self.visit
            if visit is not None and visit.phase is Phase.CHARGING and not visit.interrupted:
                self._station.set_power_limit(kw)
                visit.limit_kw = kw

    def _visit_for_request(self, request_mrid: str) -> Visit | None:
        visit = self.visit
        if visit is None or visit.plug.request_mrid != request_mrid:
            log.info("site %s: reply for %s ignored (not the current visit)", self.site.station_id, request_mrid)
            return None
        return visit

