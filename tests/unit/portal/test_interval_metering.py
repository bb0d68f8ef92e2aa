"""Interval metering at the site: a register read at start, at every 15-minute boundary and at the end.

Against the fakes of test_site.py. The host's boundary thread is played by :func:`charge`:
every few seconds of simulated time the register grows at the station's power, then the
portal is asked for its boundary read and, after it, the new slot's power is written.
Every span sent is checked with the operation system's own rules (:func:`metering.spans`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evgrid.apps.portal.threads import SlotBoundaries
from evgrid.errors import DeviceUnreachable
from evgrid.operations import metering
from evgrid.operations.metering import Interval, Register
from evgrid.portal.model import Allotted, Confirmed, SwitchOrder
from evgrid.portal.site import SitePortal
from tests.unit.portal.test_site import SITE, Clock, Meter, Station, Uplink, plugged

DAY = datetime(2026, 11, 26, tzinfo=UTC)
STEP = timedelta(seconds=7)  # 8 minutes is no whole number of steps: reads come a few seconds late


def at(hour: int, minute: int, second: float = 0.0) -> datetime:
    return DAY.replace(hour=hour, minute=minute) + timedelta(seconds=second)


class FlakyMeter(Meter):
    """A meter whose reads fail at the moments given (the IED did not answer)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.fail_from: datetime | None = None
        self.fail_until: datetime | None = None
        self.reads: list[datetime] = []
        self.flow_wh = 0.0  # the energy charged, exact: the register counts its whole Wh

    def register_wh(self) -> int:
        self.reads.append(self.clock.now())
        if self.fail_from is not None and self.fail_until is not None and (
                self.fail_from <= self.clock.now() < self.fail_until):
            raise DeviceUnreachable("no answer within 4.0 s")
        return self.wh


Parts = tuple[SitePortal, Station, FlakyMeter, Uplink, Clock]


@pytest.fixture
def parts() -> Parts:
    station, uplink, clock = Station(), Uplink(), Clock()
    meter = FlakyMeter(clock)
    return SitePortal(SITE, station, meter, uplink, clock), station, meter, uplink, clock


def start(parts: Parts, moment: datetime) -> str:
    """Plugged in half an hour before ``moment``, slots 22:00-23:00 at 7.4 kW and 23:00-23:45 at 3.7 kW."""
    portal, _, _, _, clock = parts
    clock.moment = moment - timedelta(minutes=30)
    portal.ev_changed(plugged())
    request = portal.visit.plug.request_mrid
    session = f"S-{request}"
    portal.confirmed(Confirmed(request, session, False, 20_000, 20_000, "A-1", "C-1"))
    portal.allotted(Allotted(session, "S-1", ((at(22, 0), at(23, 0), 7.4), (at(23, 0), at(23, 45), 3.7)), 9_000))
    clock.moment = moment
    portal.switch(SwitchOrder("S-1", True, session, None))
    return session


def charge(parts: Parts, until: datetime) -> None:
    """Simulated time runs to ``until``: energy at the station's power, the host's boundary calls."""
    portal, station, meter, _, clock = parts
    while clock.moment + STEP <= until:
        clock.moment += STEP
        if station.closed and station.limits:
            before = meter.flow_wh
            meter.flow_wh += station.limits[-1] * STEP.total_seconds() / 3.6  # kW x s -> Wh
            meter.wh += int(meter.flow_wh) - int(before)
        portal.read_boundary(clock.moment)  # first the read, then the new slot's power
        due = portal.power_limit_due(clock.moment)
        if due is not None:
            portal.apply_power_limit(due)


def stop(parts: Parts, moment: datetime, session: str) -> None:
    portal, _, _, _, clock = parts
    clock.moment = moment
    portal.switch(SwitchOrder("S-1", False, session, None))


def checked(uplink: Uplink) -> list[metering.Span]:
    """Every register and interval sent, validated by the rules the operation system applies."""
    registers = {read.at_utc: read for _, _, reads, _ in uplink.spans for read in reads}
    for _, _, reads, _ in uplink.spans:
        for read in reads:
            assert registers[read.at_utc] == read, f"two values for the read at {read.at_utc}"
    intervals = [interval for _, _, _, found in uplink.spans for interval in found]
    return metering.spans(registers.values(), intervals)


def test_a_session_from_22_07_to_23_41_sends_a_span_at_every_boundary(parts: Parts) -> None:
    portal, station, meter, uplink, _ = parts
    session = start(parts, at(22, 7))
    charge(parts, at(23, 41))
    stop(parts, at(23, 41), session)
    tags = [tag for _, tag, _, _ in uplink.spans]
    assert tags == ["start", "20261126T2215", "20261126T2230", "20261126T2245", "20261126T2300",
                    "20261126T2315", "20261126T2330", "end"]
    assert {sid for sid, _, _, _ in uplink.spans} == {session}
    (_, _, (first,), none) = uplink.spans[0]
    assert first == Register(at(22, 7), 1_000_000) and none == ()
    ends = []
    for (_, tag, (previous, read), intervals), (_, _, earlier, _) in zip(uplink.spans[1:], uplink.spans, strict=False):
        assert previous == earlier[-1]  # each span starts where the last one ended
        (interval,) = intervals
        assert interval.wh == read.wh - previous.wh > 0 and not interval.estimated
        ends.append(interval.end_utc)
        if tag != "end":  # a boundary read is stamped with its boundary, though taken seconds later
            assert read.at_utc == interval.end_utc == datetime.strptime(tag, "%Y%m%dT%H%M").replace(tzinfo=UTC)
    assert ends == [at(22, 15), at(22, 30), at(22, 45), at(23, 0), at(23, 15), at(23, 30), at(23, 45)]
    end = uplink.spans[-1][2][-1]
    assert end == Register(at(23, 41), meter.wh)
    assert sum(i.wh for _, _, _, found in uplink.spans for i in found) == meter.wh - 1_000_000
    done = portal.finished[-1]
    assert (done.start_register_wh, done.end_register_wh) == (1_000_000, meter.wh)
    # The hour at 7.4 kW, then 3.7 kW: the power of the new slot is written after the 23:00 read.
    intervals = {interval.end_utc: interval.wh for _, _, _, found in uplink.spans for interval in found}
    assert intervals[at(22, 45)] == pytest.approx(1_850, abs=15)
    assert intervals[at(23, 15)] == pytest.approx(925, abs=15)
    assert station.limits[:2] == [7.4, 3.7]
    spans = checked(uplink)
    assert len(spans) == 7 and not any(span.gap for span in spans)


def test_a_boundary_read_is_stamped_with_the_boundary_when_the_clock_is_past_it(parts: Parts) -> None:
    portal, _, meter, uplink, clock = parts
    start(parts, at(22, 7))
    meter.wh += 900
    clock.moment = at(22, 15, 4.2)
    portal.read_boundary(clock.moment)
    meter.wh += 15
    portal.read_boundary(at(22, 15, 5.0))  # the thread's next tick: the boundary was read
    _, tag, (previous, read), (interval,) = uplink.spans[-1]
    assert tag == "20261126T2215" and len(uplink.spans) == 2
    assert (previous, read, interval) == (Register(at(22, 7), 1_000_000), Register(at(22, 15), 1_000_900),
                                          Interval(at(22, 15), 900))


def test_no_boundary_read_before_the_start_read(parts: Parts) -> None:
    portal, _, meter, uplink, clock = parts
    clock.moment = at(21, 50)
    portal.ev_changed(plugged())
    portal.read_boundary(at(22, 0, 3))  # scheduled, not charging: nothing to read
    assert uplink.spans == [] and meter.reads == []
    session = f"S-{portal.visit.plug.request_mrid}"
    portal.allotted(Allotted(session, "S-1", ((at(22, 15), at(23, 0), 7.4),), 5_000))
    clock.moment = at(22, 15)  # the start on the boundary itself: the start read is that boundary's
    portal.switch(SwitchOrder("S-1", True, session, None))
    portal.read_boundary(at(22, 15, 0.5))
    assert [tag for _, tag, _, _ in uplink.spans] == ["start"] and len(meter.reads) == 1
    meter.wh += 1_850
    portal.read_boundary(at(22, 30, 1))
    assert uplink.spans[-1][1:] == ("20261126T2230", (Register(at(22, 15), 1_000_000),
                                                      Register(at(22, 30), 1_001_850)),
                                    (Interval(at(22, 30), 1_850),))


def test_boundaries_missed_while_the_ied_is_away_are_a_gap(parts: Parts) -> None:
    portal, station, meter, uplink, clock = parts
    session = start(parts, at(22, 7))
    charge(parts, at(22, 20))
    portal.connection_lost()
    station.closed = False  # the IED restarts with its contactor open
    meter.fail_from, meter.fail_until = at(22, 20), at(22, 50)  # every read fails meanwhile
    portal.contactor_changed(False)
    charge(parts, at(22, 50))  # 22:30 and 22:45 pass: no read is even tried
    assert all(not at(22, 20) <= moment < at(22, 50) for moment in meter.reads)
    clock.moment = at(22, 50)
    portal.reconnected(plugged())
    assert station.closed
    charge(parts, at(23, 5))
    stop(parts, at(23, 5), session)
    tags = [tag for _, tag, _, _ in uplink.spans]
    assert tags == ["start", "20261126T2215", "20261126T2300", "end"]
    _, _, (previous, read), intervals = uplink.spans[2]
    assert (previous.at_utc, read.at_utc, intervals) == (at(22, 15), at(23, 0), ())  # registers only
    spans = checked(uplink)
    assert [span.gap for span in spans] == [False, True, False]
    assert sum(span.wh for span in spans) == meter.wh - 1_000_000
    # Meter data management fills the gap: 22:30, 22:45 and 23:00, every Wh kept.
    estimated = metering.estimate(spans[1])
    assert [i.end_utc for i in estimated] == [at(22, 30), at(22, 45), at(23, 0)]
    assert sum(i.wh for i in estimated) == spans[1].wh


def test_a_failed_read_is_not_retried_later_its_interval_is_a_gap(parts: Parts) -> None:
    portal, _, meter, uplink, clock = parts
    session = start(parts, at(22, 7))
    meter.fail_from, meter.fail_until = at(22, 30), at(22, 30, 5)
    charge(parts, at(22, 30))
    clock.moment = at(22, 30, 1)
    with pytest.raises(DeviceUnreachable):
        portal.read_boundary(clock.moment)  # the host logs it and goes on with the power limits
    charge(parts, at(22, 50))  # reads work again, but a read at 22:30:08 is no read at 22:30
    charge(parts, at(23, 3))
    stop(parts, at(23, 3), session)
    assert [tag for _, tag, _, _ in uplink.spans] == ["start", "20261126T2215", "20261126T2245",
                                                      "20261126T2300", "end"]
    assert uplink.spans[2][2][0].at_utc == at(22, 15) and uplink.spans[2][3] == ()
    assert [span.gap for span in checked(uplink)] == [False, True, False, False]


def test_a_register_below_the_last_read_is_never_sent(parts: Parts) -> None:
    portal, _, meter, uplink, clock = parts
    session = start(parts, at(22, 7))
    charge(parts, at(22, 16))
    last = uplink.spans[-1][2][-1]
    meter.wh = last.wh - 40  # the device lost part of its count
    clock.moment = at(22, 30, 2)
    portal.read_boundary(clock.moment)
    assert uplink.spans[-1][2][-1] == last  # nothing sent
    charge(parts, at(22, 46))  # it counts on, past the last read
    stop(parts, at(22, 50), session)
    assert [tag for _, tag, _, _ in uplink.spans] == ["start", "20261126T2215", "20261126T2245", "end"]
    assert uplink.spans[2][2][0] == last and uplink.spans[2][3] == ()  # 22:15 -> 22:45: a gap
    sent = [read.wh for _, _, reads, _ in uplink.spans for read in reads]
    assert sent == sorted(sent)
    checked(uplink)


def test_a_meter_exchanged_mid_session_reports_nothing_it_cannot_prove(parts: Parts) -> None:
    portal, _, meter, uplink, _ = parts
    session = start(parts, at(22, 7))
    charge(parts, at(22, 16))
    last = uplink.spans[-1][2][-1]
    meter.wh = 12  # a new meter, counting from 0
    charge(parts, at(22, 40))
    stop(parts, at(22, 40), session)
    _, tag, (previous, end), intervals = uplink.spans[-1]
    assert (tag, previous, end, intervals) == ("end", last, Register(at(22, 40), last.wh), ())
    assert portal.finished[-1].end_register_wh == last.wh
    checked(uplink)


def test_an_end_that_spans_missed_boundaries_carries_no_intervals(parts: Parts) -> None:
    _, _, meter, uplink, _ = parts
    session = start(parts, at(22, 7))
    meter.wh += 4_000  # no boundary call at all (the host was stalled)
    stop(parts, at(22, 40), session)
    _, tag, (previous, end), intervals = uplink.spans[-1]
    assert (tag, previous.at_utc, end, intervals) == ("end", at(22, 7), Register(at(22, 40), 1_004_000), ())
    assert [span.gap for span in checked(uplink)] == [True]


def test_an_end_at_the_instant_of_the_last_read_is_stamped_after_it(parts: Parts) -> None:
    portal, _, _, uplink, clock = parts
    session = start(parts, at(22, 7))
    stop(parts, at(22, 7), session)  # a clock that did not move
    (_, _, (previous, end), (interval,)) = uplink.spans[-1]
    assert previous.at_utc < end.at_utc == portal.finished[-1].completed_utc
    assert interval == Interval(at(22, 15), 0)
    checked(uplink)


def test_the_boundary_thread_wakes_at_the_quarter_hour_even_for_slots_counted_from_another_origin() -> None:
    clock = Clock()
    clock.moment = at(22, 14)
    slots_from_2207_30 = SlotBoundaries(lambda: None, clock, at(22, 7, 30))
    assert slots_from_2207_30._wall_seconds_to_next() == 60.0  # 22:15, before the slot at 22:22:30
    clock.moment = at(22, 20)
    assert slots_from_2207_30._wall_seconds_to_next() == 150.0  # the slot at 22:22:30


def test_a_stop_just_after_a_boundary_reads_that_boundary_first(parts: Parts) -> None:
    """The stop at the end of the allotment races the host's boundary read: the stop reads it."""
    _, _, meter, uplink, _ = parts
    session = start(parts, at(22, 7))
    charge(parts, at(22, 29, 55))  # the 22:15 read done; 22:30 not yet
    meter.wh += 40  # 20 s more at 7.4 kW after the boundary
    stop(parts, at(22, 30, 20), session)
    tags = [tag for _, tag, _, _ in uplink.spans]
    assert tags == ["start", "20261126T2215", "20261126T2230", "end"]
    assert [span.gap for span in checked(uplink)] == [False, False, False]
    (_, _, (_, end), (last,)) = uplink.spans[-1]
    assert last == Interval(at(22, 45), 0) and end.at_utc == at(22, 30, 20)


def test_a_stop_long_after_a_missed_boundary_does_not_read_it(parts: Parts) -> None:
    _, _, meter, uplink, _ = parts
    session = start(parts, at(22, 7))
    charge(parts, at(22, 29, 55))
    meter.wh += 400
    stop(parts, at(22, 32), session)  # two minutes late: that read would hold the next interval's energy
    assert [tag for _, tag, _, _ in uplink.spans] == ["start", "20261126T2215", "end"]
    assert [span.gap for span in checked(uplink)] == [False, True]
