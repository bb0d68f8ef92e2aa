"""The registry CSV import on both backends: upsert, idempotence, line-numbered errors."""

from __future__ import annotations

import csv
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from evgrid.adapters.store.models import (
    ChargingStation,
    Customer,
    CustomerAccount,
    ElectricVehicle,
    ServiceLocation,
    Transformer,
)
from evgrid.adapters.store.registry import COLUMNS, MAX_PROBLEMS, import_registry
from evgrid.adapters.store.uow import SqlRegistry
from evgrid.errors import ImportRejected
from tests.unit.adapters.store.conftest import import_example_tariffs

Row = dict[str, str]


def _example_rows(examples: Path) -> list[Row]:
    with (examples / "registry.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[Row], columns: tuple[str, ...] | list[str] = COLUMNS) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _generated(count: int, *, evs_per_premise: int = 2) -> list[Row]:
    """``count`` premises, ten per transformer, every third with EVs (several rows)."""
    rows = []
    for i in range(count):
        base = {
            "customer_id": f"C{i}", "customer_name": f"Customer {i}", "account_id": f"A{i}",
            "account_status": "open", "premise_number": f"P{i}", "usage_point_id": f"UP{i}",
            "meter_number": f"M{i}", "transformer_id": f"T{i // 10}", "transformer_capacity_kw": "50",
            "feeder_id": "F1", "feeder_capacity_kw": "1000", "station_id": f"S{i}", "station_max_kw": "7.2",
            "ev_id": "", "ev_battery_kwh": "", "ev_max_kw": "",
        }
        if i % 3:
            rows.append(base)
            continue
        rows += [base | {"ev_id": f"EV{i}-{n}", "ev_battery_kwh": "60.5", "ev_max_kw": "11"}
                 for n in range(evs_per_premise)]
    return rows


def _counts(db: Session) -> dict[str, int]:
    return {model.__tablename__: db.scalar(select(func.count()).select_from(model)) or 0
            for model in (Customer, CustomerAccount, ServiceLocation, Transformer, ChargingStation, ElectricVehicle)}


def test_example_registry_is_imported(sessions: sessionmaker[Session], examples: Path) -> None:
    with sessions.begin() as db:
        import_example_tariffs(db, examples)
        report = import_registry(db, examples / "registry.csv")
    assert report.rows == 7 and report.changed
    assert {name: c.inserted for name, c in report.tables.items()} == {
        "feeders": 1, "transformers": 2, "customers": 6, "customer_accounts": 6,
        "service_locations": 6, "charging_stations": 6, "evs": 5,
    }
    with sessions() as db:
        ev = db.get_one(ElectricVehicle, "EV-1003")
        assert (ev.owner_account_id, ev.battery_wh, ev.max_power_kw) == ("A-1002", 40_000, Decimal("7.4"))
        assert db.get_one(CustomerAccount, "A-1005").status == "closed"
        premise = db.get_one(ServiceLocation, "P-1004")
        assert (premise.meter_number, premise.usage_point_id, premise.transformer_id) == ("M-1004", "UP-1004", "T-02")
        transformer = db.get_one(Transformer, "T-01")
        assert (transformer.capacity_kw, transformer.feeder_id) == (Decimal("37.5"), "F-01")
        assert transformer.base_load_kw is None


def test_importing_the_same_file_again_changes_nothing(sessions: sessionmaker[Session], examples: Path) -> None:
    with sessions.begin() as db:
        import_example_tariffs(db, examples)
        import_registry(db, examples / "registry.csv")
    with sessions.begin() as db:
        again = import_registry(db, examples / "registry.csv")
    assert not again.changed
    assert all(c.inserted == c.updated == 0 and c.unchanged == c.total > 0 for c in again.tables.values())


def test_changed_values_are_updated_and_new_keys_inserted(
    sessions: sessionmaker[Session], examples: Path, tmp_path: Path
) -> None:
    with sessions.begin() as db:
        import_example_tariffs(db, examples)
        import_registry(db, examples / "registry.csv")
        db.get_one(Transformer, "T-01").base_load_kw = [1.5] * 24  # from a load study, not the CSV
    rows = _example_rows(examples)
    rows[0]["customer_name"] = "Anna de Vries-Smit"
    rows[1]["ev_battery_kwh"] = "80"
    rows[5]["account_status"] = "OPEN"  # case does not matter
    rows.append(rows[3] | {"ev_id": "EV-1006", "ev_battery_kwh": "50", "ev_max_kw": "7.4"})
    with sessions.begin() as db:
        report = import_registry(db, _write(tmp_path / "changed.csv", rows))
    counts = {name: (c.inserted, c.updated, c.unchanged) for name, c in report.tables.items()}
    assert counts["customers"] == (0, 1, 5)
    assert counts["customer_accounts"] == (0, 1, 5)
    assert counts["evs"] == (1, 1, 4)
    assert counts["service_locations"] == (0, 0, 6)
    with sessions() as db:
        assert db.get_one(Customer, "C-1001").name == "Anna de Vries-Smit"
        assert db.get_one(ElectricVehicle, "EV-1002").battery_wh == 80_000
        assert db.get_one(ElectricVehicle, "EV-1006").owner_account_id == "A-1003"
        assert db.get_one(CustomerAccount, "A-1005").status == "open"
        assert db.get_one(Transformer, "T-01").base_load_kw == [1.5] * 24


def test_batches_smaller_than_the_file_give_the_same_result(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    rows = _generated(40)
    with sessions.begin() as db:
        report = import_registry(db, _write(tmp_path / "generated.csv", rows), batch_size=7)
    assert report.rows == len(rows) == 54
    with sessions() as db:
        assert _counts(db) == {"customers": 40, "customer_accounts": 40, "service_locations": 40,
                               "transformers": 4, "charging_stations": 40, "evs": 28}
        assert db.get_one(ElectricVehicle, "EV39-1").battery_wh == 60_500


def _drop_column(name: str) -> Callable[[list[Row]], tuple[list[Row], list[str]]]:
    return lambda rows: (rows, [c for c in COLUMNS if c != name])


def _set(index: int, **values: str) -> Callable[[list[Row]], tuple[list[Row], list[str]]]:
    def change(rows: list[Row]) -> tuple[list[Row], list[str]]:
        rows[index].update(values)
        return rows, list(COLUMNS)
    return change


# Line numbers: the header is line 1, so rows[i] is on line i + 2.
@pytest.mark.parametrize(("change", "problem"), [
    pytest.param(_drop_column("ev_max_kw"), "line 1: missing column ev_max_kw", id="missing-column"),
    pytest.param(_set(1, station_max_kw="fast"), "line 3: station_max_kw 'fast' is not a number", id="non-numeric-kw"),
    pytest.param(_set(0, transformer_capacity_kw="-5"), "line 2: transformer_capacity_kw '-5' is not a positive number",
                 id="negative-kw"),
    pytest.param(_set(2, station_max_kw="7.2345"), "line 4: station_max_kw '7.2345' has more than 3 decimals",
                 id="too-precise"),
    pytest.param(_set(2, account_status="frozen"), "line 4: account_status 'frozen' is not 'open' or 'closed'",
                 id="unknown-status"),
    pytest.param(_set(3, customer_name=""), "line 5: customer_name is empty", id="empty-required"),
    pytest.param(_set(0, ev_battery_kwh=""), "line 2: ev_battery_kwh is empty but ev_id is 'EV-1001'",
                 id="ev-without-battery"),
    pytest.param(_set(4, meter_number="M-1001"),
                 "line 6: meter number 'M-1001' is on premise 'P-1004', but line 2 puts it on premise 'P-1001'",
                 id="meter-on-two-premises"),
    pytest.param(_set(2, transformer_id="T-02"),
                 "line 4: premise 'P-1002' has transformer_id='T-02', but line 3 has transformer_id='T-01'",
                 id="rows-disagree"),
    pytest.param(_set(5, transformer_capacity_kw="60"),
                 "line 7: transformer 'T-02' has transformer_capacity_kw='60', but line 6 has "
                 "transformer_capacity_kw='50'", id="transformer-disagrees"),
])
def test_bad_rows_are_reported_with_their_line_and_nothing_is_written(
    sessions: sessionmaker[Session], examples: Path, tmp_path: Path,
    change: Callable[[list[Row]], tuple[list[Row], list[str]]], problem: str,
) -> None:
    rows, columns = change(_example_rows(examples))
    path = _write(tmp_path / "bad.csv", rows, columns)
    with sessions() as db, pytest.raises(ImportRejected) as info:
        import_registry(db, path)
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems
    assert problem in info.value.reason and "nothing written" in info.value.reason
    with sessions() as db:
        assert set(_counts(db).values()) == {0}


def test_a_row_with_the_wrong_number_of_fields(sessions: sessionmaker[Session], examples: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "short.csv", _example_rows(examples))
    path.write_text(path.read_text() + "C-9,Someone,A-9\n")
    with sessions() as db, pytest.raises(ImportRejected, match="line 9: 3 fields, but the header has 16"):
        import_registry(db, path)


def test_a_meter_registered_to_another_premise_is_refused(
    sessions: sessionmaker[Session], examples: Path, tmp_path: Path
) -> None:
    with sessions.begin() as db:
        import_example_tariffs(db, examples)
        import_registry(db, examples / "registry.csv")
    newcomer = _example_rows(examples)[0] | {"premise_number": "P-2000", "usage_point_id": "UP-2000",
                                             "station_id": "", "station_max_kw": "", "ev_id": "",
                                             "ev_battery_kwh": "", "ev_max_kw": ""}
    taken = "line 2: meter number 'M-1001' is already registered to premise 'P-1001'"
    with sessions() as db, pytest.raises(ImportRejected, match=taken):
        import_registry(db, _write(tmp_path / "taken.csv", [newcomer]))


def test_one_bad_row_after_many_batches_rejects_the_whole_file(
    sessions: sessionmaker[Session], examples: Path, tmp_path: Path
) -> None:
    with sessions.begin() as db:
        import_example_tariffs(db, examples)
        import_registry(db, examples / "registry.csv")
    rows = _example_rows(examples)
    rows[0]["customer_name"] = "Changed"
    rows += _generated(30)
    rows[-1]["station_max_kw"] = "lots"
    with sessions() as db, pytest.raises(ImportRejected, match=f"line {len(rows) + 1}: station_max_kw 'lots'"):
        import_registry(db, _write(tmp_path / "late.csv", rows), batch_size=5)
    with sessions() as db:
        assert db.get_one(Customer, "C-1001").name == "Anna de Vries"
        assert _counts(db)["customers"] == 6
    # the staging table left behind by the failure (SQLite) does not get in the way
    rows[-1]["station_max_kw"] = "11"
    with sessions.begin() as db:
        report = import_registry(db, _write(tmp_path / "fixed.csv", rows), batch_size=5)
    assert report.tables["customers"].updated == 1 and report.tables["customers"].inserted == 30


def test_problems_are_capped_and_counted(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    rows = _generated(MAX_PROBLEMS + 5, evs_per_premise=1)
    for row in rows:
        row["account_status"] = "frozen"
    with sessions() as db, pytest.raises(ImportRejected) as info:
        import_registry(db, _write(tmp_path / "frozen.csv", rows))
    assert len(info.value.problems) == MAX_PROBLEMS and info.value.more == 5
    assert info.value.reason.endswith("; and 5 more problems")


def test_unreadable_or_non_utf8_files_are_rejected(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(",".join(COLUMNS).encode() + b"\nC-1,Ren\xe9,A-1\n")
    with sessions() as db:
        with pytest.raises(ImportRejected, match="not UTF-8"):
            import_registry(db, latin)
        with pytest.raises(ImportRejected, match="cannot read the file"):
            import_registry(db, tmp_path / "missing.csv")


# ------------------------------------------------------------- tariff_id per account, ev_rate per EV
ALL_COLUMNS = (*COLUMNS, "tariff_id", "ev_rate")


def test_each_account_s_tariff_and_each_ev_s_enrolment_are_stored(
    sessions: sessionmaker[Session], examples: Path
) -> None:
    with sessions.begin() as db:
        import_example_tariffs(db, examples)
        import_registry(db, examples / "registry.csv")
    with sessions() as db:
        tariffs = {a.account_id: a.tariff_id for a in db.scalars(select(CustomerAccount))}
        assert tariffs == {"A-1001": None, "A-1002": None, "A-1003": "NL-EV-TOU-2025", "A-1004": None,
                           "A-1005": "NL-EV-TOU-2025", "A-1006": "NL-EV-TOU-2025"}
        rates = {e.ev_id: e.ev_rate for e in db.scalars(select(ElectricVehicle))}
        assert rates == {"EV-1001": True, "EV-1002": True, "EV-1003": True, "EV-1004": True, "EV-1005": False}
        registry = SqlRegistry(db, None)
        ev = registry.ev("EV-1005")
        assert ev is not None and (ev.ev_rate, ev.owner.tariff_id) == (False, "NL-EV-TOU-2025")
        assert registry.tariff(ev.owner.tariff_id).plain_price == Decimal("0.28")  # none given: the day's
        assert registry.tariff(None).tariff_id == "NL-EV-TOU-2025"  # the default, for A-1001's EV


@pytest.mark.parametrize(("line", "values", "problem"), [
    pytest.param(1, {"tariff_id": "NL-NOPE"},
                 "line 3: tariff_id 'NL-NOPE' is not an imported tariff (import it first", id="unknown-tariff"),
    pytest.param(0, {"ev_rate": "maybe"}, "line 2: ev_rate 'maybe' is not yes, no, true or false", id="bad-ev-rate"),
    pytest.param(3, {"ev_rate": "no"}, "line 5: ev_rate is given but ev_id is empty", id="ev-rate-without-ev"),
    pytest.param(1, {"tariff_id": "NL-EV-PEAK-2025"},
                 "line 4: account 'A-1002' has tariff_id=empty, but line 3 has tariff_id='NL-EV-PEAK-2025'",
                 id="account-rows-disagree"),
    pytest.param(2, {"ev_id": "EV-1002", "ev_battery_kwh": "77", "ev_max_kw": "11", "ev_rate": "no"},
                 "line 4: EV 'EV-1002' has ev_rate='no', but line 3 has ev_rate='yes'", id="ev-rows-disagree"),
])
def test_bad_tariffs_and_ev_rates_are_refused(
    sessions: sessionmaker[Session], examples: Path, tmp_path: Path, line: int, values: dict[str, str], problem: str,
) -> None:
    with sessions.begin() as db:
        import_example_tariffs(db, examples)
    rows = _example_rows(examples)
    rows[line].update(values)
    with sessions() as db, pytest.raises(ImportRejected) as info:
        import_registry(db, _write(tmp_path / "bad.csv", rows, ALL_COLUMNS))
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems
    with sessions() as db:
        assert _counts(db)["customer_accounts"] == 0


def test_ev_rate_words(sessions: sessionmaker[Session], examples: Path, tmp_path: Path) -> None:
    rows = [row | {"tariff_id": ""} for row in _example_rows(examples)]  # no tariff imported here
    for row, word in zip([r for r in rows if r["ev_id"]], ["Yes", "TRUE", "false", "No", ""], strict=True):
        row["ev_rate"] = word
    with sessions.begin() as db:
        import_registry(db, _write(tmp_path / "words.csv", rows, ALL_COLUMNS))
    with sessions() as db:
        assert [e.ev_rate for e in db.scalars(select(ElectricVehicle).order_by(ElectricVehicle.ev_id))] == [
            True, True, False, False, True]


def test_left_out_columns_keep_what_is_stored_and_empty_ones_reset_it(
    sessions: sessionmaker[Session], examples: Path, tmp_path: Path
) -> None:
    with sessions.begin() as db:
        import_example_tariffs(db, examples)
        import_registry(db, examples / "registry.csv")
    rows = _example_rows(examples)
    rows[0]["customer_name"] = "Anna"
    with sessions.begin() as db:  # the old 16 columns: tariffs and enrolments stay
        report = import_registry(db, _write(tmp_path / "old.csv", rows))
    assert {name: c.updated for name, c in report.tables.items() if c.updated} == {"customers": 1}
    with sessions() as db:
        assert db.get_one(CustomerAccount, "A-1003").tariff_id == "NL-EV-TOU-2025"
        assert db.get_one(ElectricVehicle, "EV-1005").ev_rate is False
    for row in rows:
        row["tariff_id"] = row["ev_rate"] = ""
    rows.append(rows[3] | {"premise_number": "P-2000", "usage_point_id": "UP-2000", "meter_number": "M-2000",
                           "station_id": "", "station_max_kw": "", "ev_id": "EV-2000", "ev_battery_kwh": "50",
                           "ev_max_kw": "11"})
    with sessions.begin() as db:  # present but empty: the default tariff, enrolled
        report = import_registry(db, _write(tmp_path / "empty.csv", rows, ALL_COLUMNS))
    assert (report.tables["customer_accounts"].updated, report.tables["evs"].updated) == (3, 1)
    with sessions() as db:
        assert set(db.scalars(select(CustomerAccount.tariff_id))) == {None}
        assert set(db.scalars(select(ElectricVehicle.ev_rate))) == {True}
        assert db.get_one(ElectricVehicle, "EV-2000").owner_account_id == "A-1003"
