"""The pure helpers of benchmarks/bench_serve.py and benchmarks/serve_workload.py."""

from __future__ import annotations

import csv
import io
import os
import sys
from argparse import Namespace
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from types import ModuleType, SimpleNamespace

import pytest
from lxml import etree

from evgrid.adapters.store.registry import COLUMNS
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.config import load_settings
from evgrid.errors import StationBusy
from evgrid.messaging.router import Router
from evgrid.messaging.routes import ROUTES
from tests.conftest import load_benchmark

NIGHT = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
codec = Codec()


@pytest.fixture(scope="module")
def work() -> ModuleType:
    return load_benchmark("serve_workload")


def test_registry_gives_each_premise_a_station_and_ev_and_room_on_its_transformer(work):
    rows = list(csv.DictReader(io.StringIO(work.registry_csv(120, per_transformer=50))))
    assert set(COLUMNS) <= rows[0].keys() and len(rows) == 120
    assert (rows[41]["station_id"], rows[41]["ev_id"], rows[41]["usage_point_id"], rows[41]["customer_id"]) == (
        "S-000042", "EV-000042", "UP-000042", "C-000042")
    per_transformer: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        per_transformer[row["transformer_id"]].append(row)
    assert [len(group) for group in per_transformer.values()] == [40, 40, 40]  # in turn: request n+1 elsewhere
    assert rows[0]["transformer_id"] != rows[1]["transformer_id"]
    for group in per_transformer.values():  # every station at full power at once still fits, a feeder each
        assert float(group[0]["transformer_capacity_kw"]) >= sum(float(row["station_max_kw"]) for row in group)
        assert {row["feeder_id"] for row in group} == {group[0]["transformer_id"].replace("T-", "F-")}
    assert len({row["meter_number"] for row in rows}) == 120


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2026, 11, 26, 12, 57, tzinfo=UTC), datetime(2026, 11, 26, 14, 0, tzinfo=UTC)),
    (datetime(2026, 11, 26, 23, 59, tzinfo=UTC), datetime(2026, 11, 27, 1, 0, tzinfo=UTC)),
])
def test_the_requests_plug_in_within_the_planning_window_and_after_the_run(work, now, expected):
    start = work.night_start(now)
    departure = start + timedelta(hours=13)  # what Messages asks for
    assert start == expected and start - now > timedelta(hours=1) and departure - now < timedelta(hours=24)


def test_charging_requests_are_schema_valid_and_name_their_own_premise(work):
    router = Router(ROUTES, codec=codec)
    first, second = work.Messages(codec, NIGHT).charging_requests(range(41, 43))
    inbound = codec.decode(first)  # parsed and validated against the XSD
    assert (inbound.header.verb, inbound.header.noun, inbound.header.message_id) == (
        env.Verb.CREATE, "ChargingRequest", "CR-000041")
    _route, command = router.route(inbound)
    assert (command.ev_id, command.station_id, command.customer_id, command.usage_point_id, command.request_mrid) == (
        "EV-000041", "S-000041", "C-000041", "UP-000041", "R-EV-000041")
    assert command.plugged_in_utc == NIGHT + timedelta(minutes=35)
    assert command.departure_utc == NIGHT + timedelta(hours=13) and command.requested_wh == 20_000
    assert codec.decode(second).header.message_id == "CR-000042"


def test_meter_readings_are_schema_valid_with_a_meter_and_message_id_each(work):
    router = Router(ROUTES, codec=codec)
    messages = work.Messages(codec, NIGHT).meter_readings(range(7, 10))
    decoded = [codec.decode(message) for message in messages]
    assert [d.header.message_id for d in decoded] == ["MR-000007", "MR-000008", "MR-000009"]
    _route, readings = router.route(decoded[0])
    assert [(r.meter_mrid, r.energy_wh) for r in readings.registers] == [("MR-000007", 5466115)]
    assert not readings.intervals


def test_soap_envelope_wraps_the_message_without_its_declaration(work):
    message = work.Messages(codec, NIGHT).charging_requests(range(1, 2))[0]
    assert message.startswith(b"<?xml")
    body = etree.fromstring(work.soap_envelope(message)).find(f"{{{ns.SOAP11}}}Body")
    assert len(body) == 1 and etree.QName(body[0]).localname == "RequestMessage"
    assert work.soap_envelope(b"<a/>").count(b"<a/>") == 1


def test_reply_result_reads_ok_failed_bare_or_in_soap_and_tolerates_garbage(work):
    ok = codec.dump(env.reply_ok("ChargingRequest", source="evgrid", correlation_id="CR-1"))
    failed = codec.dump(env.reply_failed(StationBusy("station S-1 is serving S-R-EV-2"), noun="ChargingRequest",
                                         source="evgrid", correlation_id="CR-1"))
    assert work.reply_result(ok) == ("OK", None, None)
    assert work.reply_result(work.soap_envelope(ok)) == ("OK", None, None)
    assert work.reply_result(work.soap_envelope(failed)) == ("FAILED", StationBusy.code,
                                                              "station S-1 is serving S-R-EV-2")
    assert work.reply_result(b"<html>502 Bad Gateway</html>") == (None, None, "<html>502 Bad Gateway</html>")
    assert work.reply_result(b"not xml")[0] is None


def test_the_workers_config_is_valid_plain_http_with_a_utility_user_and_the_esb(work, tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-c+search_path%3Devgrid_t_0a1b2c"
    config = tmp_path / "evgrid.toml"
    config.write_text(work.config_toml(url, NIGHT, "bench-serve-0a1b"), encoding="utf-8")
    settings = load_settings(config, environ={"EVGRID_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
                                              "EVGRID_WORKER_ID": "bench-a"})
    assert settings.database.url == url and not settings.soap.tls and settings.soap.port == 0
    assert (settings.planning.start, settings.planning.hours_ahead) == (NIGHT, 24)
    assert [(u.user, u.password, u.kind) for u in settings.users] == [(work.USER, work.PASSWORD, "utility")]
    assert settings.amqp is not None and settings.amqp.prefix == "bench-serve-0a1b"
    assert settings.worker.id == "bench-a" and settings.log.level == "WARNING"


@pytest.mark.parametrize(("items", "count", "expected"), [
    (list(range(7)), 3, [[0, 3, 6], [1, 4], [2, 5]]),
    (list(range(2)), 3, [[0], [1], []]),
    ([], 2, [[], []]),
])
def test_lanes_deal_round_robin(work, items, count, expected):
    assert work.lanes(items, count) == expected


def test_stat_cpu_seconds_adds_user_and_system_past_a_name_with_spaces_and_parentheses(work):
    fields = ["S", *["0"] * 10, "250", "150", *["0"] * 30]  # state is field 3; utime 14, stime 15
    assert work.stat_cpu_seconds(f"4242 (python (a) b) {' '.join(fields)}", 100) == pytest.approx(4.0)


def test_machine_busy_seconds_leaves_out_idle_and_io_wait(work):
    stat = "cpu  100 20 30 5000 700 4 6 40 0 0\ncpu0 50 10 15 2500 350 2 3 20 0 0\n"
    assert work.machine_busy_seconds(stat, 100) == pytest.approx(2.0)


def test_cpu_spent_counts_differences_new_processes_in_full_and_skips_the_exited(work):
    before = {1: ("postgres", 10.0), 2: ("postgres", 5.0), 3: ("server", 1.0)}
    after = {1: ("postgres", 10.5), 3: ("server", 3.0), 4: ("postgres", 0.25)}  # 2 exited, 4 is new
    assert work.cpu_spent(before, after) == {"postgres": pytest.approx(0.75), "server": pytest.approx(2.0)}


def test_the_report_prints_rates_ratios_and_cpu_per_request():
    pytest.importorskip("pika")
    bench = load_benchmark("bench_serve")
    rates, cpu = {}, {}
    for binding, kind in bench.CASES:
        base = {"raw": 1000.0, "ChargingRequest": 40.0, "MeterReadings": 200.0}[kind]
        rates[(binding, kind, 1)], rates[(binding, kind, 2)] = [base * 0.9, base], [base * 1.5]
        for workers in (1, 2):
            cpu[(binding, kind, workers)] = defaultdict(float, requests=400, server=4.0, postgres=1.0, client=0.4)
    out = io.StringIO()
    run = SimpleNamespace(args=Namespace(rounds=2), rates=rates, cpu=cpu, others=[0.02, 0.25, 0.15])
    stdout, sys.stdout = sys.stdout, out
    try:
        bench.report(run, 90.0)
    finally:
        sys.stdout = stdout
    text = out.getvalue()
    assert "SOAP    ChargingRequest         40         60   1.50     0.040     0.040" in text
    cores = os.cpu_count() or 1
    (row,) = [line.split() for line in text.splitlines() if line.startswith("AMQP MeterReadings 2w")]
    assert row[3:] == ["10.00", "2.50", "0.00", "1.00", "13.50", f"{cores * 1000 / 13.5:,.0f}", "r/s"]
    assert "scaling of ChargingRequest, 2 workers / 1 worker: SOAP 1.50 (raw 1.50), AMQP 1.50 (raw 1.50)" in text
    assert "spread of a case over the rounds: 1.11" in text
    assert "the median batch, 25% at most" in text and "NOTE: other work shared the cores" in text
