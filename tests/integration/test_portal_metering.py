"""Interval metering by a real portal host: a gateway IED in a subprocess, MMS on loopback, the SQLite outbox.

The IED (`evgrid ied serve --stations 1`) and the :class:`PortalHost` in this process share
one accelerated timeline (600x: a 15-minute interval in 1.5 s). An EV plugs in at the IED;
the utility's reply, slots and start order are handed to the portal directly (the operation
system is a stub answering OK); the charge crosses 15-minute boundaries; the portal's
outbox then holds a MeterReadings per span, each read back with the operation system's own
mapping and checked with its rules (:func:`evgrid.operations.metering.spans`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evgrid.adapters.iec61850.client import IedClient
from evgrid.apps.portal.host import PortalHost, SiteBinding
from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.clock import AcceleratedClock
from evgrid.mappings import codes
from evgrid.mappings import iec61850_refs as refs
from evgrid.mappings.meter_readings import readings_from_cim
from evgrid.operations import metering
from evgrid.operations.metering import Interval, Register
from evgrid.portal.model import Allotted, Confirmed, Site, SwitchOrder
from evgrid.portal.site import SitePortal
from tests.integration.test_iec61850 import EVSE_ICD, Ied, arrival

SPEED = 600.0
START = datetime(2026, 11, 26, 22, 5, tzinfo=UTC)
SITE = Site("S-1001", "M-1001", "C-1001", "A-1001", "UP-1001", "P-1001", 7.4)
codec = Codec()


class StubOperationSystem:
    """The portal host's client of the EV Operation System: answers every message OK."""

    def send(self, body: bytes, as_user: tuple[str, str] | None = None) -> bytes:
        header = codec.decode(body).header
        return codec.dump(env.reply_ok(header.noun, source="stub-evos", correlation_id=header.message_id))

    def close(self) -> None:
        pass


def poll(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s} s")
        time.sleep(0.02)


@pytest.fixture
def gateway(ied_factory: Callable[..., Ied], port: int, tmp_path: Path) -> Iterator[tuple[Ied, PortalHost]]:
    """A one-station gateway IED keeping its state in a file, and the portal host of its site."""
    epoch = time.time() + 2.0
    ied = ied_factory("--scl", str(EVSE_ICD), "--port", str(port), "--stations", "1", "--state",
                      str(tmp_path / "ied-state.json"), "--speed", str(SPEED), "--start", START.isoformat(),
                      "--epoch", f"{epoch:.6f}")
    clock = AcceleratedClock(SPEED, START, epoch=epoch)
    binding = SiteBinding(SITE, refs.station_ld(1), refs.meter_ld(1, ied=refs.STATION_IED), "portal-1001", "pw")
    host = PortalHost([binding], IedClient("127.0.0.1", port, retry_interval_s=0.1), StubOperationSystem(),  # type: ignore[arg-type]
                      clock, database=tmp_path / "portal.db", slot_origin=START)
    with host.running(outbox_interval_s=0.05):
        yield ied, host
    host.close()


def charging(ied: Ied, host: PortalHost) -> tuple[SitePortal, str]:
    """EV plugged in, request confirmed, slots 7.4 kW to 22:45 then 3.7 kW, contactor closed."""
    portal = host.portals[SITE.station_id]
    with ied.control() as control:
        control.arrive(**arrival("EV-1001", energy_wh=200_000))
    poll(lambda: portal.visit is not None, 10, "the plug-in at the portal")
    request = portal.visit.plug.request_mrid
    session = f"S-{request}"
    portal.confirmed(Confirmed(request, session, False, 200_000, 20_000, SITE.account_id, SITE.customer_id))
    portal.allotted(Allotted(session, SITE.station_id, (
        (START - timedelta(hours=1), START + timedelta(minutes=40), 7.4),
        (START + timedelta(minutes=40), START + timedelta(hours=3), 3.7)), 20_000))
    poll(lambda: host.clock.now() >= START + timedelta(minutes=2), 10, "22:07 simulated")
    portal.switch(SwitchOrder(SITE.station_id, True, session, None))
    return portal, session


def stop_at(host: PortalHost, portal: SitePortal, session: str, moment: datetime) -> None:
    poll(lambda: host.clock.now() >= moment, 30, f"{moment:%H:%M} simulated")
    portal.switch(SwitchOrder(SITE.station_id, False, session, None))
    poll(lambda: host.outbox_pending() == 0 and portal.finished, 10, "every message delivered")


def sent_spans(host: PortalHost, session: str) -> list[tuple[str, tuple[Register, ...], tuple[Interval, ...]]]:
    """(tag, registers, intervals) of each MeterReadings in the outbox, in the order queued."""
    spans = []
    for row in host.store.query("SELECT message_id, body FROM outbox WHERE message_id LIKE 'MeterReadings:%' "
                                "ORDER BY id"):
        payload = codec.decode(row["body"]).payload  # schema-valid
        readings = readings_from_cim(payload)
        assert {r.reading_type for r in readings.registers} == {codes.REGISTER_WH}
        assert {b.reading_type for b in readings.intervals} <= {codes.INTERVAL_15MIN_WH}
        prefix, sid, tag = row["message_id"].split(":")
        assert (prefix, sid) == ("MeterReadings", session)
        spans.append((tag, tuple(Register(r.timestamp_utc, r.energy_wh) for r in readings.registers),
                      tuple(Interval(end, wh) for b in readings.intervals for end, wh in b.readings)))
    return spans


def validated(spans: list[tuple[str, tuple[Register, ...], tuple[Interval, ...]]]) -> list[metering.Span]:
    registers = {read.at_utc: read for _, reads, _ in spans for read in reads}
    return metering.spans(registers.values(), [i for _, _, found in spans for i in found])


def test_uc_2_3_the_portal_sends_a_span_at_every_boundary_summing_to_the_register_delta(gateway) -> None:
    ied, host = gateway
    portal, session = charging(ied, host)
    stop_at(host, portal, session, START + timedelta(minutes=52))  # 22:57: 22:15, 22:30 and 22:45 crossed
    spans = sent_spans(host, session)
    started, ended = spans[0][1][0].at_utc, spans[-1][1][-1].at_utc
    crossed = [b for b in metering.interval_ends(started, ended) if b < ended]  # 22:15, 22:30, 22:45
    assert len(crossed) >= 2
    assert [tag for tag, _, _ in spans] == ["start", *(f"{b:%Y%m%dT%H%M}" for b in crossed), "end"]
    for tag, registers, intervals in spans[1:]:
        (interval,) = intervals  # every boundary was read: no gap
        assert interval.wh == registers[1].wh - registers[0].wh
        if tag != "end":
            assert registers[1].at_utc == interval.end_utc == datetime.strptime(tag, "%Y%m%dT%H%M").replace(
                tzinfo=UTC)
    checked = validated(spans)
    assert not any(span.gap for span in checked)
    done = portal.finished[-1]
    assert sum(i.wh for _, _, found in spans for i in found) == done.consumed_wh > 0
    assert (spans[0][1][0].wh, spans[-1][1][-1].wh) == (done.start_register_wh, done.end_register_wh)
    # The first whole interval, at 7.4 kW until 22:45: about 1850 Wh (the IED counts in ticks of
    # 60 simulated s, and a read comes a moment after its boundary).
    whole = next(i for _, _, found in spans for i in found if i.end_utc == crossed[1])
    kw = 7.4 if crossed[1] <= START + timedelta(minutes=40) else 3.7
    assert whole.wh == pytest.approx(kw * 250, rel=0.15)


def test_an_ied_restart_leaves_a_gap_never_a_register_going_back(gateway, caplog: pytest.LogCaptureFixture) -> None:
    ied, host = gateway
    caplog.set_level(logging.WARNING, logger="evgrid.portal.site")
    portal, session = charging(ied, host)
    poll(lambda: len(sent_spans(host, session)) >= 2, 20, "the 22:15 span")
    ied.kill()  # no orderly shutdown: the IED restarts from its state file
    ied.start()
    poll(lambda: portal.visit.notes, 20, "the charge resumed after the restart")
    stop_at(host, portal, session, max(host.clock.now(), START + timedelta(minutes=40)) + timedelta(minutes=20))
    spans = sent_spans(host, session)
    sent = [read.wh for _, reads, _ in spans for read in reads]
    assert sent == sorted(sent)
    checked = validated(spans)  # raises if a register went back or intervals do not add up
    done = portal.finished[-1]
    assert sum(span.wh for span in checked) == done.consumed_wh > 0
    assert "below the last read" not in caplog.text  # the IED kept its register across the kill
