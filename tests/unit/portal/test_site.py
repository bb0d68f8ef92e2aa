"""The site portal's behaviour, step by step, against fakes of its own ports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from evgrid.errors import DeviceUnreachable, InvalidParameter, UnknownReference, WriteRejected
from evgrid.operations.metering import Interval, Register
from evgrid.portal.model import Allotted, Confirmed, EvView, Site, SwitchOrder
from evgrid.portal.site import Phase, SitePortal

T0 = datetime(2026, 1, 15, 18, 0, tzinfo=UTC)
SITE = Site("S-1", "M-1", "C-1", "A-1", "UP-1", "P-1", 7.4)


class Clock:
    def __init__(self) -> None:
        self.moment = T0

    def now(self) -> datetime:
        return self.moment


class Station:
    """Contactor and power limit; the meter register grows only while closed."""

    def __init__(self) -> None:
        self.closed = False
        self.limits: list[float] = []
        self.refuse_close = False

    def close_contactor(self) -> None:
        if self.refuse_close:
            raise WriteRejected("Blocked-by-process", ref="EVSESTA0001/CSWI1.Pos", add_cause="Blocked-by-process")
        self.closed = True

    def open_contactor(self) -> None:
        self.closed = False

    def contactor_closed(self) -> bool:
        return self.closed

    def set_power_limit(self, kw: float) -> None:
        self.limits.append(kw)


class Meter:
    def __init__(self) -> None:
        self.wh = 1_000_000

    def register_wh(self) -> int:
        return self.wh


class Uplink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []
        # (session, tag, registers, intervals) of every MeterReadings, in order
        self.spans: list[tuple[str, str, tuple[Register, ...], tuple[Interval, ...]]] = []

    def request_charging(self, site: Site, plug: object) -> None:
        self.sent.append(("request", plug))

    def report_readings(self, site: Site, session_id: str, tag: str, registers: Sequence[Register],
                        intervals: Sequence[Interval]) -> None:
        self.spans.append((session_id, tag, tuple(registers), tuple(intervals)))
        kind = {"start": "register-start", "end": "register-end"}.get(tag, "span")
        self.sent.append((kind, registers[-1].wh))

    def report_completion(self, site: Site, done: object) -> None:
        self.sent.append(("completion", done))

    def report_event(self, site: Site, event: str, ev_id: str, at_utc: datetime, mrid: str) -> None:
        self.sent.append((event, ev_id))

    def assign_usage(self, site: Site, done: object, owner_account_id: str, owner_customer_id: str | None) -> None:
        self.sent.append(("usage", (owner_account_id, done)))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.sent]


@pytest.fixture
def parts() -> tuple[SitePortal, Station, Meter, Uplink, Clock]:
    station, meter, uplink, clock = Station(), Meter(), Uplink(), Clock()
    return SitePortal(SITE, station, meter, uplink, clock), station, meter, uplink, clock


def plugged(ev_id: str = "EV-9") -> EvView:
    return EvView(True, ev_id, 20_000, T0 + timedelta(hours=12), 11.0)


UNPLUGGED = EvView(False, None, 0, None, 0.0)


def confirm_and_allot(portal: SitePortal, third_party: bool = False) -> str:
    request = portal.visit.plug.request_mrid
    session = f"S-{request}"
    portal.confirmed(Confirmed(request, session, third_party, 20_000, 20_000,
                               "A-OWNER" if third_party else "A-1", "C-OWNER" if third_party else "C-1"))
    start = T0 + timedelta(hours=5)
    portal.allotted(Allotted(session, "S-1", ((start, start + timedelta(minutes=15), 7.4),
                                              (start + timedelta(minutes=15), start + timedelta(minutes=30), 3.0)),
                             2_600))
    return session


def test_plug_in_requests_charging_with_the_evs_needs_1_1_2(parts) -> None:
    portal, _, _, uplink, _ = parts
    portal.ev_changed(plugged())
    portal.ev_changed(plugged())  # reported again (a GI): still one request
    assert uplink.kinds() == ["plugged-in", "request"]  # step 1 relayed, then 1.1.2
    plug = uplink.sent[1][1]
    assert (plug.ev_id, plug.requested_wh, plug.departure_utc, plug.plugged_in_utc) == (
        "EV-9", 20_000, T0 + timedelta(hours=12), T0)
    assert plug.ev_max_power_kw == 11.0


def test_start_reads_the_register_before_closing_then_completion_has_the_exact_delta(parts) -> None:
    portal, station, meter, uplink, clock = parts
    portal.ev_changed(plugged())
    session = confirm_and_allot(portal)
    clock.moment = T0 + timedelta(hours=5, minutes=1)
    portal.switch(SwitchOrder("S-1", True, session, f"{session}:start"))
    assert station.closed and station.limits == [7.4]
    assert uplink.sent[-1] == ("register-start", 1_000_000)
    portal.switch(SwitchOrder("S-1", True, session, f"{session}:start"))  # delivered twice: no second start
    assert uplink.kinds().count("register-start") == 1
    meter.wh += 2_345
    station.closed = False  # the EV is full and opens the contactor (2.3.2)
    clock.moment += timedelta(minutes=20)
    portal.contactor_changed(False)
    done = uplink.sent[uplink.kinds().index("completion")][1]
    assert (done.start_register_wh, done.end_register_wh, done.consumed_wh, done.reason) == (
        1_000_000, 1_002_345, 2_345, "evFull")
    assert uplink.kinds()[-3:] == ["charging-complete", "register-end", "completion"]  # 2.3.2, 2.3.3, 2.3.4
    assert "usage" not in uplink.kinds()  # a home charge assigns nothing
    assert portal.visit.phase is Phase.FINISHED


def test_third_party_completion_assigns_the_usage_to_the_owner_3_3_5(parts) -> None:
    portal, station, meter, uplink, clock = parts
    portal.ev_changed(plugged("EV-FRIEND"))
    session = confirm_and_allot(portal, third_party=True)
    portal.switch(SwitchOrder("S-1", True, session, None))
    meter.wh += 9_000
    portal.switch(SwitchOrder("S-1", False, session, None))  # the utility's stop at the end of the slots
    assert not station.closed
    assert uplink.kinds()[-3:] == ["register-end", "completion", "usage"]
    owner, done = uplink.sent[-1][1]
    assert owner == "A-OWNER" and done.consumed_wh == 9_000 and done.reason == "stopped"


def test_the_power_follows_the_allotted_slots_and_is_zero_outside(parts) -> None:
    portal, station, _, _, clock = parts
    portal.ev_changed(plugged())
    session = confirm_and_allot(portal)
    assert portal.power_limit_due(T0 + timedelta(hours=5)) is None  # not charging yet
    portal.switch(SwitchOrder("S-1", True, session, None))  # early: before its first slot
    assert station.limits == [0.0]  # nothing drawn before the slot
    assert portal.power_limit_due(T0 + timedelta(hours=5, minutes=1)) == 7.4
    portal.apply_power_limit(7.4)
    assert portal.power_limit_due(T0 + timedelta(hours=5, minutes=2)) is None  # already in force
    assert portal.power_limit_due(T0 + timedelta(hours=5, minutes=20)) == 3.0
    portal.apply_power_limit(3.0)
    assert portal.power_limit_due(T0 + timedelta(hours=6)) == 0.0
    assert station.limits == [0.0, 7.4, 3.0]


def test_an_ied_restart_does_not_end_the_session_the_charge_resumes(parts) -> None:
    portal, station, meter, uplink, clock = parts
    portal.ev_changed(plugged())
    session = confirm_and_allot(portal)
    clock.moment = T0 + timedelta(hours=5, minutes=5)
    portal.switch(SwitchOrder("S-1", True, session, None))
    portal.connection_lost()
    station.closed = False  # the IED came back with its contactor open (fail-safe)
    portal.contactor_changed(False)  # the report after the restart is not "EV full"
    assert "completion" not in uplink.kinds()
    portal.reconnected(plugged())
    assert station.closed and portal.visit.phase is Phase.CHARGING
    meter.wh += 500
    station.closed = False
    portal.contactor_changed(False)
    assert uplink.sent[uplink.kinds().index("completion")][1].consumed_wh == 500


def test_after_a_restart_a_full_ev_refuses_the_close_and_the_session_ends(parts) -> None:
    portal, station, meter, uplink, clock = parts
    portal.ev_changed(plugged())
    session = confirm_and_allot(portal)
    portal.switch(SwitchOrder("S-1", True, session, None))
    portal.connection_lost()
    station.closed, station.refuse_close = False, True
    meter.wh += 700
    portal.reconnected(plugged())
    done = uplink.sent[uplink.kinds().index("completion")][1]
    assert (done.consumed_wh, done.reason) == (700, "evFull")


def test_leaving_while_charging_completes_with_departure(parts) -> None:
    portal, station, meter, uplink, _ = parts
    portal.ev_changed(plugged())
    session = confirm_and_allot(portal)
    portal.switch(SwitchOrder("S-1", True, session, None))
    meter.wh += 100
    station.closed = False
    portal.ev_changed(UNPLUGGED)
    assert uplink.sent[uplink.kinds().index("completion")][1].reason == "departure"


def test_an_order_for_another_session_is_refused(parts) -> None:
    portal, *_ = parts
    portal.ev_changed(plugged())
    confirm_and_allot(portal)
    with pytest.raises(UnknownReference):
        portal.switch(SwitchOrder("S-1", True, "S-SOMETHING-ELSE", None))


def test_a_refused_request_ends_the_visit(parts) -> None:
    portal, *_ = parts
    portal.ev_changed(plugged())
    portal.refused(portal.visit.plug.request_mrid, "6.3 account closed")
    assert portal.visit.phase is Phase.FINISHED


def test_a_finished_ev_still_plugged_in_is_not_requested_again_until_it_leaves(parts) -> None:
    portal, station, meter, uplink, _ = parts
    portal.ev_changed(plugged())
    session = confirm_and_allot(portal)
    portal.switch(SwitchOrder("S-1", True, session, None))
    station.closed = False
    portal.contactor_changed(False)  # full
    portal.ev_changed(plugged())  # its state report (C -> B) after the completion
    assert uplink.kinds().count("request") == 1
    portal.ev_changed(UNPLUGGED)
    portal.ev_changed(plugged())  # back the next evening
    assert uplink.kinds().count("request") == 2


def test_an_ev_that_leaves_before_its_start_is_reported_and_a_late_start_is_refused(parts) -> None:
    portal, station, _, uplink, _ = parts
    portal.ev_changed(plugged())
    session = confirm_and_allot(portal)
    portal.ev_changed(UNPLUGGED)
    assert uplink.kinds()[-1] == "unplugged"  # the operation system cancels the session
    with pytest.raises(InvalidParameter):
        portal.switch(SwitchOrder("S-1", True, session, None))
    assert not station.closed


@pytest.fixture
def close_timed_out(parts) -> str:
    """A scheduled visit whose first close timed out at the portal but happened at the station.

    The start order fails with DeviceUnreachable (the utility will retry); the contactor
    is closed. Returns the session id.
    """
    portal, station, _, _, _ = parts
    portal.ev_changed(plugged())
    session = confirm_and_allot(portal)
    real_close = station.close_contactor

    def close_then_time_out() -> None:
        real_close()
        raise DeviceUnreachable("no answer within 4.0 s")

    station.close_contactor = close_then_time_out
    with pytest.raises(DeviceUnreachable):
        portal.switch(SwitchOrder("S-1", True, session, None))
    assert station.closed and portal.visit.phase is Phase.SCHEDULED
    return session


def test_a_close_that_timed_out_but_happened_is_found_on_the_retry_and_no_wh_is_lost(parts, close_timed_out) -> None:
    portal, station, meter, uplink, _ = parts
    meter.wh += 800  # charging meanwhile
    station.close_contactor = lambda: (_ for _ in ()).throw(
        WriteRejected("Position-reached", ref="EVSESTA0001/CSWI1.Pos", add_cause="Position-reached"))
    portal.switch(SwitchOrder("S-1", True, close_timed_out, None))
    assert portal.visit.phase is Phase.CHARGING
    assert uplink.sent[-1] == ("register-start", 1_000_000)  # the register read before the first close
    meter.wh += 200
    station.closed = False
    portal.contactor_changed(False)
    assert uplink.sent[uplink.kinds().index("completion")][1].consumed_wh == 1_000


def test_an_ev_that_charged_through_an_unseen_close_and_left_is_completed_not_cancelled(parts, close_timed_out) -> None:
    portal, _, meter, uplink, _ = parts
    meter.wh += 5_000  # the close went through after all
    portal.ev_changed(UNPLUGGED)
    done = uplink.sent[uplink.kinds().index("completion")][1]
    assert (done.consumed_wh, done.reason) == (5_000, "departure")
    assert "unplugged" not in uplink.kinds()


def charged_before_the_reply(parts, wh: int) -> tuple[str, str]:  # noqa: ANN001
    """A charge started and stopped by orders that overtook the request's reply; its request and session."""
    portal, _, meter, _, clock = parts
    portal.ev_changed(plugged())
    request = portal.visit.plug.request_mrid
    session = f"S-{request}"
    portal.switch(SwitchOrder("S-1", True, session, f"{session}:start"))
    meter.wh += wh
    clock.moment = T0 + timedelta(hours=1)
    portal.switch(SwitchOrder("S-1", False, session, f"{session}:stop"))
    return request, session


def test_a_start_order_that_overtakes_the_reply_still_assigns_third_party_usage_3_3_5(parts) -> None:
    portal, _, _, uplink, _ = parts
    request, session = charged_before_the_reply(parts, 5_000)  # a third-party charge starting at once
    assert "usage" not in uplink.kinds()  # not known yet whose usage it is
    portal.confirmed(Confirmed(request, session, True, 20_000, 20_000, "A-OWNER", "C-OWNER"))
    kinds = uplink.kinds()
    assert kinds[-2:] == ["completion", "usage"]
    owner, done = uplink.sent[-1][1]
    assert (owner, done.session_id, done.consumed_wh) == ("A-OWNER", session, 5_000)


def test_a_home_reply_after_the_charge_assigns_nothing(parts) -> None:
    portal, _, _, uplink, _ = parts
    request, session = charged_before_the_reply(parts, 1_000)
    portal.confirmed(Confirmed(request, session, False, 20_000, 20_000, "A-1", "C-1"))
    assert uplink.kinds().count("completion") == 1 and "usage" not in uplink.kinds()
