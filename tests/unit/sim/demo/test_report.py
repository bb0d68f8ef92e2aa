"""The night report, on a real small night run through the real EV Operation System (SQLite).

Four sessions: a home charge across the day/night tariff boundary (billed), a third-party
quick charge (settled and billed to the EV owner), a home charge completed but not yet
billed, and one that is only scheduled. Every expected number below is worked out by hand
from the example tariff (day 0.28, EV night 0.09 from 23:00 Europe/Amsterdam, third party
0.31 EUR/kWh), not by the report's own code.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from rich.console import Console
from sqlalchemy import select, update

from evgrid.adapters.store import models as m
from evgrid.adapters.store.database import make_engine, session_factory
from evgrid.apps.evos.system import operation_system
from evgrid.apps.services.billing import compute_bill, consumption_from_cim
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.generated import ev_charging as ev
from evgrid.cim.generated import meter_readings as mr
from evgrid.mappings import codes, examples
from evgrid.mappings.ev_charging import bill_to_cim, xml_time
from evgrid.scheduler.partitions import RollingHorizon
from evgrid.sim.demo import plots
from evgrid.sim.demo.report import (
    LoadSample,
    interpolate,
    night_report,
    slot_power_kw,
    station_series,
    summary_table,
    write_report,
)
from tests.integration.conftest import seed_store

NIGHT = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
SLOTS = 64  # 17:00 to 09:00 UTC
MSG = ns.MESSAGE
codec = Codec()

# (ev, station, customer, usage point, meter, requested Wh)
HOME_A = ("EV-1001", "S-1001", "C-1001", "UP-1001", "M-1001", 14_000)  # T-01, billed
THIRD = ("EV-1002", "S-1003", "C-1003", "UP-1003", "M-1003", 8_000)  # T-01, EV of A-1002 at A-1003's
HOME_B = ("EV-1004", "S-1004", "C-1004", "UP-1004", "M-1004", 9_000)  # T-02, completed, not billed
WAITING = ("EV-1003", "S-1002", "C-1002", "UP-1002", "M-1002", 6_000)  # T-01, only scheduled

# What each station actually delivered: (station, start, end, kW), constant power.
CHARGES = [
    ("S-1003", NIGHT + timedelta(minutes=45), NIGHT + timedelta(minutes=115), 8_000 / (70 / 60) / 1000),
    ("S-1001", datetime(2026, 11, 26, 21, tzinfo=UTC), datetime(2026, 11, 26, 23, tzinfo=UTC), 7.0),
    ("S-1004", datetime(2026, 11, 26, 22, tzinfo=UTC), datetime(2026, 11, 26, 23, 30, tzinfo=UTC), 6.0),
]
T01_BASE = [float(hour) for hour in range(24)]  # kW by UTC hour: 21 kW at 21:00, 22 kW at 22:00, ...


class Clock:
    def __init__(self) -> None:
        self.moment = NIGHT + timedelta(minutes=40)

    def now(self) -> datetime:
        return self.moment


def message(verb: env.Verb, noun: str, payload: object, message_id: str) -> bytes:
    if verb is env.Verb.CREATE:
        return codec.dump(env.request(verb, noun, payload, source="portal", message_id=message_id))
    return codec.dump(env.event(verb, noun, payload, source="portal", message_id=message_id))


def ok(reply: bytes) -> None:
    assert etree.fromstring(reply).findtext(f"{{{MSG}}}Reply/{{{MSG}}}Result") == "OK", reply.decode()


def request(who: tuple) -> bytes:
    ev_id, station, customer, usage_point, _, wh = who
    payload = replace(
        examples.charging_request(False), m_rid=f"R-{ev_id}", created_date_time=xml_time(NIGHT + timedelta(minutes=35)),
        electric_vehicle=ev.ElectricVehicle(m_rid=ev_id), charging_station=ev.ChargingStation(m_rid=station),
        customer=ev.Customer(m_rid=customer), usage_point=ev.UsagePoint(m_rid=usage_point),
        requested_energy=wh, departure_time=xml_time(NIGHT + timedelta(hours=13)))
    return message(env.Verb.CREATE, "ChargingRequest", payload, f"M-{ev_id}")


def charge(system, clock: Clock, who: tuple, start: datetime, end: datetime, start_wh: int, wh: int) -> str:
    """Start reading (2.3.1), then completion (2.3.4); returns the session id."""
    ev_id, station, _, _, meter, _ = who
    session_id = f"S-R-{ev_id}"
    clock.moment = start
    reading = mr.MeterReadings(meter_reading=[mr.MeterReading(meter=mr.Meter(m_rid=meter), readings=[mr.Reading(
        time_stamp=xml_time(start), value=str(start_wh), reading_type=mr.Reading.ReadingType(ref=codes.REGISTER_WH))])])
    ok(system.router.handle(message(env.Verb.CREATED, "MeterReadings", reading, f"start-{ev_id}")))
    clock.moment = end
    done = ev.ChargingCompletion(
        charging_session=ev.Reference(m_rid=session_id), charging_station=ev.Reference(m_rid=station),
        electric_vehicle=ev.Reference(m_rid=ev_id), meter=ev.Meter(m_rid=meter),
        actual_interval=ev.DateTimeInterval(start=xml_time(start), end=xml_time(end)),
        start_register=start_wh, end_register=start_wh + wh, consumed_energy=wh, reason=ev.CompletionReason.EV_FULL)
    ok(system.router.handle(message(env.Verb.CREATED, "ChargingCompletion", done, f"done-{ev_id}")))
    return session_id


def bill(system, session_id: str, now: datetime) -> None:
    """What the billing service does with the queued consumption (4.1 -> 4.1.1)."""
    with system.sessions() as db:
        body = db.scalars(select(m.OutboxMessage.body).where(
            m.OutboxMessage.noun == "ChargingConsumption", m.OutboxMessage.message_id.contains(session_id))).one()
    element = codec.decode(body).root.find(f".//{{{ns.EV_CHARGING}}}ChargingConsumption")
    consumption = consumption_from_cim(codec.bind(element, ev.ChargingConsumption))
    information = bill_to_cim(compute_bill(consumption, now))
    ok(system.router.handle(message(env.Verb.CREATED, "BillingInformation", information, f"bill-{session_id}")))


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('night') / 'evgrid.db'}"
    seed_store(url, Path(__file__).resolve().parents[4] / "examples")
    engine = make_engine(url)
    with session_factory(engine).begin() as db:
        db.execute(update(m.Transformer).where(m.Transformer.transformer_id == "T-01").values(base_load_kw=T01_BASE))
    engine.dispose()
    clock = Clock()
    system = operation_system(url, horizon=RollingHorizon(NIGHT), clock=clock)
    try:
        for who in (HOME_A, THIRD, HOME_B, WAITING):
            ok(system.router.handle(request(who)))
        (_, start, end, _), (_, a_start, a_end, _), (_, b_start, b_end, _) = CHARGES
        third = charge(system, clock, THIRD, start, end, 500_000, 8_000)
        assign = ev.UsageAssignment(
            charging_session=ev.Reference(m_rid=third), electric_vehicle=ev.Reference(m_rid="EV-1002"),
            host_usage_point=ev.UsagePoint(m_rid="UP-1003"), from_account=ev.CustomerAccount(m_rid="A-1003"),
            to_account=ev.CustomerAccount(m_rid="A-1002"),
            interval=ev.DateTimeInterval(start=xml_time(start), end=xml_time(end)), energy=8_000)
        ok(system.router.handle(message(env.Verb.CREATED, "UsageAssignment", assign, "assign")))
        bill(system, third, end + timedelta(minutes=5))
        home = charge(system, clock, HOME_A, a_start, a_end, 1_000_000, 14_000)
        bill(system, home, a_end + timedelta(minutes=5))
        charge(system, clock, HOME_B, b_start, b_end, 200_000, 9_000)
    finally:
        system.close()
    return url


def samples_of(charges: list[tuple[str, datetime, datetime, float]], *, every_min: int = 5) -> list[LoadSample]:
    """Cumulative Wh per station every few minutes over the night (exact for constant power)."""
    samples = []
    for k in range(0, SLOTS * 15 + 1, every_min):
        at = NIGHT + timedelta(minutes=k)
        delivered: dict[str, float] = {}
        for station, start, end, kw in charges:
            hours = (min(max(at, start), end) - start) / timedelta(hours=1)
            delivered[station] = delivered.get(station, 0.0) + kw * 1000 * hours
        samples.append(LoadSample(at, delivered))
    return samples


def expected_ev_kw(charges: list[tuple[str, datetime, datetime, float]], stations: set[str]) -> list[float]:
    """Per slot: power x the share of the slot the station charged in."""
    loads = []
    for slot in range(SLOTS):
        begin, finish = NIGHT + timedelta(minutes=15 * slot), NIGHT + timedelta(minutes=15 * (slot + 1))
        loads.append(sum(kw * max(0.0, (min(end, finish) - max(start, begin)) / timedelta(minutes=15))
                          for station, start, end, kw in charges if station in stations))
    return loads


def test_summary_counts_energy_bills_and_third_party(night: str) -> None:
    summary = night_report(night, samples_of(CHARGES), night_start_utc=NIGHT, slot_count=SLOTS,
                           portal_bills={"portal:P-1002": 1, "portal:P-1001": 1})
    assert json.loads(json.dumps(summary)) == summary  # JSON-ready as it is
    assert summary["night"] == {"start": "2026-11-26T17:00:00+00:00", "end": "2026-11-27T09:00:00+00:00",
                                "slot_minutes": 15, "slot_count": SLOTS}
    assert (summary["sessions_total"], summary["sessions_completed"], summary["sessions_billed"]) == (4, 3, 2)
    assert summary["third_party_sessions"] == 1
    assert summary["sessions_by_state"] == {"acknowledged": 2, "billing": 1, "scheduled": 1}
    assert summary["sessions_outside_night"] == 0
    assert summary["energy_metered_wh"] == 14_000 + 8_000 + 9_000
    assert summary["energy_billed_wh"] == 14_000 + 8_000
    assert summary["energy_sampled_wh"] == 14_000 + 8_000 + 9_000
    # Home A: 21:00-23:00 UTC is 22:00-24:00 Amsterdam: 1 h day, 1 h EV night, 7 kWh each.
    # 7 x 0.28 = 1.96, 7 x 0.09 = 0.63; third party: 8 x 0.31 = 2.48.
    assert summary["bills"] == [
        {"account": "A-1001", "customer": "Anna de Vries", "sessions": 1, "wh": 14_000, "amount": "2.59",
         "currency": "EUR"},
        {"account": "A-1002", "customer": "Bram Jansen", "sessions": 1, "wh": 8_000, "amount": "2.48",
         "currency": "EUR"},
    ]
    assert summary["energy_by_rate"] == {
        "EV night": {"wh": 7_000, "amount": "0.63", "currency": "EUR"},
        "day": {"wh": 7_000, "amount": "1.96", "currency": "EUR"},
        "quick charge": {"wh": 8_000, "amount": "2.48", "currency": "EUR"},
    }
    assert summary["third_party"] == [{"session_id": "S-R-EV-1002", "ev_id": "EV-1002", "station_id": "S-1003",
                                       "ev_owner_account": "A-1002", "host_account": "A-1003",
                                       "billed_account": "A-1002", "wh": 8_000}]
    assert summary["settlements"] == {"count": 1, "wh": 8_000}
    assert summary["portal_bills"] == {"portal:P-1001": 1, "portal:P-1002": 1}
    assert summary["unmapped_stations"] == []


def test_transformer_load_is_ev_plus_base_per_slot(night: str) -> None:
    summary = night_report(night, samples_of(CHARGES), night_start_utc=NIGHT, slot_count=SLOTS)
    t01 = [ev_kw + T01_BASE[(NIGHT + timedelta(minutes=15 * slot)).hour]
           for slot, ev_kw in enumerate(expected_ev_kw(CHARGES, {"S-1001", "S-1002", "S-1003"}))]
    t02 = expected_ev_kw(CHARGES, {"S-1004", "S-1005", "S-1006"})
    assert max(t01) == pytest.approx(29.0) and max(t02) == pytest.approx(6.0)  # the hand-worked peaks
    transformers = {t["id"]: t for t in summary["transformers"]}
    assert transformers["T-01"]["limit_kw"] == 37.5 and transformers["T-02"]["limit_kw"] == 50.0
    assert transformers["T-01"]["peak_kw"] == pytest.approx(max(t01), abs=1e-3)
    assert transformers["T-01"]["peak_slot_start"] == "2026-11-26T22:00:00+00:00"
    assert transformers["T-02"]["peak_kw"] == pytest.approx(max(t02), abs=1e-3)
    assert summary["violations"] == []
    assert summary["portal_bills"] is None


@pytest.mark.parametrize(("extra_kw", "violated"), [(9.0, True), (8.6, False)],
                         ids=["over_limit", "within_the_tolerance"])
def test_violation_reported_only_beyond_the_tolerance(night: str, extra_kw: float, violated: bool) -> None:
    # 22:00-22:15: base 22 + S-1001 7 + S-1002 extra; limit 37.5, tolerance 0.5 % (37.6875 kW).
    slot = datetime(2026, 11, 26, 22, tzinfo=UTC)
    charges = [*CHARGES, ("S-1002", slot, slot + timedelta(minutes=15), extra_kw)]
    summary = night_report(night, samples_of(charges), night_start_utc=NIGHT, slot_count=SLOTS)
    expected = [{"transformer": "T-01", "slot_start": "2026-11-26T22:00:00+00:00",
                 "load_kw": pytest.approx(29.0 + extra_kw, abs=1e-3), "limit_kw": 37.5}]
    assert summary["violations"] == (expected if violated else [])


def test_write_report_files(night: str, tmp_path: Path) -> None:
    samples = samples_of(CHARGES, every_min=7)
    summary = night_report(night, samples, night_start_utc=NIGHT, slot_count=SLOTS)
    paths = write_report(summary, tmp_path / "out", database_url=night, samples=samples)
    names = sorted(str(path.relative_to(tmp_path / "out")) for path in paths)
    assert names == ["bills/A-1001.txt", "bills/A-1002.txt", "load.png", "sessions.png", "summary.json"]
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == summary
    for name in ("load.png", "sessions.png"):
        data = (tmp_path / "out" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000

    home = (tmp_path / "out" / "bills" / "A-1001.txt").read_text()
    for text in ("A-1001", "Anna de Vries", "S-R-EV-1001", "EV-1001", "P-1001", "14000 Wh", "day", "EV night",
                 "1.96", "0.63", "Total: 1 session(s), 14000 Wh, 2.59 EUR"):
        assert text in home, text
    assert "third-party" not in home
    owner = (tmp_path / "out" / "bills" / "A-1002.txt").read_text()
    for text in ("Bram Jansen", "S-R-EV-1002", "EV-1002", "P-1003", "third-party site, host account A-1003",
                 "quick charge", "8000 Wh", "Total: 1 session(s), 8000 Wh, 2.48 EUR"):
        assert text in owner, text


def test_summary_table_renders(night: str) -> None:
    summary = night_report(night, samples_of(CHARGES), night_start_utc=NIGHT, slot_count=SLOTS)
    console = Console(record=True, width=140)
    console.print(summary_table(summary))
    text = console.export_text()
    assert "A-1001" in text and "2.59 EUR" in text and "T-01" in text and "31,000" in text


def test_load_plot_of_many_transformers_and_an_empty_gantt(tmp_path: Path) -> None:
    edges = tuple(NIGHT + timedelta(minutes=15 * i) for i in range(5))
    panels = [plots.LoadPanel(f"T-{i:02}", 50.0, edges, (1.0, 2.0, float(i), 4.0), (5.0,) * 4) for i in range(14)]
    assert panels[13].load_kw == (6.0, 7.0, 18.0, 9.0) and panels[13].utilisation == pytest.approx(18 / 50)
    path = plots.plot_load(panels, [0.28, 0.28, 0.09, 0.09], tmp_path / "load.png", currency="EUR")
    assert path.read_bytes().startswith(b"\x89PNG")
    path = plots.plot_sessions([], tmp_path / "sessions.png", title="no sessions")
    assert path.read_bytes().startswith(b"\x89PNG")


# --- interpolation ---------------------------------------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_interpolate_is_linear_between_samples_and_flat_outside() -> None:
    series = [(at(10), 100.0), (at(20), 300.0), (at(40), 300.0)]
    assert interpolate(series, at(0)) == 100.0  # before the first sample: the first value
    assert interpolate(series, at(10)) == 100.0
    assert interpolate(series, at(15)) == pytest.approx(200.0)
    assert interpolate(series, at(20)) == 300.0
    assert interpolate(series, at(30)) == 300.0
    assert interpolate(series, at(90)) == 300.0  # after the last: the last value
    assert interpolate([], at(5)) == 0.0


def test_station_series_sorts_irregular_samples_and_keeps_each_station_apart() -> None:
    samples = [LoadSample(at(20), {"A": 50.0, "B": 5.0}), LoadSample(at(0), {"A": 0.0}),
               LoadSample(at(7), {"A": 20.0}), LoadSample(at(7), {"A": 21.0})]
    assert station_series(samples) == {"A": [(at(0), 0.0), (at(7), 21.0), (at(20), 50.0)], "B": [(at(20), 5.0)]}


def test_slot_power_from_samples_that_start_late_and_end_early() -> None:
    # 6 kW from minute 20 to minute 40, sampled only then: nothing before, nothing after.
    series = [(at(20), 0.0), (at(40), 2_000.0)]
    edges = [at(15 * i) for i in range(5)]  # 0, 15, 30, 45, 60
    assert slot_power_kw(series, edges) == pytest.approx([0.0, 6.0 * 10 / 15, 6.0 * 10 / 15, 0.0])
    # An irregular sample inside a slot is used as it is.
    series = [(at(0), 0.0), (at(5), 1_000.0), (at(30), 1_000.0)]
    assert slot_power_kw(series, edges[:3]) == pytest.approx([4.0, 0.0])
