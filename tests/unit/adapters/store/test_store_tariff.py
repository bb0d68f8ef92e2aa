"""The tariff TOML import: the rules (no database) and the upsert (both backends)."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from evgrid.adapters.store import tariff
from evgrid.adapters.store.models import Tariff
from evgrid.adapters.store.uow import SqlRegistry
from evgrid.errors import ImportRejected

NIGHT = {"label": "night", "start": "23:00", "end": "07:00", "price_per_kwh": "0.09", "ev_night": True}
DAY = {"label": "day", "start": "07:00", "end": "23:00", "price_per_kwh": "0.28", "ev_night": False}
BASE: dict[str, object] = {"id": "T1", "name": "Test", "currency": "EUR", "timezone": "Europe/Amsterdam",
                           "third_party_price_per_kwh": "0.31", "interval": [DAY, NIGHT]}


def test_the_example_tariff_is_valid(examples: Path) -> None:
    spec = tariff.parse_tariff(tomllib.loads((examples / "tariff.toml").read_text()))
    assert (spec.currency, spec.timezone) == ("EUR", "Europe/Amsterdam")
    assert spec.third_party_price_per_kwh == Decimal("0.31")
    assert [(i.start_local, i.end_local, i.price_per_kwh, i.ev_night) for i in spec.intervals] == [
        ("07:00", "23:00", Decimal("0.28"), False), ("23:00", "07:00", Decimal("0.09"), True)]


def test_a_single_interval_may_cover_the_whole_day() -> None:
    whole = tariff.IntervalSpec("flat", "00:00", "00:00", Decimal("0.2"), True)
    assert tariff.coverage_problems([whole]) == []


@pytest.mark.parametrize(("changes", "problem"), [
    pytest.param({"interval": [DAY | {"end": "22:00"}, NIGHT]}, "no interval covers 22:00-23:00", id="gap"),
    pytest.param({"interval": [DAY | {"start": "06:00"}, NIGHT]}, "intervals 'day', 'night' overlap at 06:00-07:00",
                 id="overlap"),
    pytest.param({"interval": [DAY, NIGHT, DAY | {"label": "again"}]},
                 "intervals 'day', 'again' overlap at 07:00-23:00", id="twice"),
    pytest.param({"interval": [DAY, NIGHT | {"ev_night": False}]}, "no interval has ev_night = true", id="no-ev-night"),
    pytest.param({"interval": []}, "no [[interval]] tables", id="no-intervals"),
    pytest.param({"currency": "eur"}, "currency 'eur' is not three capital letters", id="currency"),
    pytest.param({"timezone": "Europe/Atlantis"}, "timezone 'Europe/Atlantis' is not an IANA time zone", id="timezone"),
    pytest.param({"third_party_price_per_kwh": 0.31}, "third_party_price_per_kwh must be a decimal string",
                 id="float-price"),
    pytest.param({"interval": [DAY | {"price_per_kwh": "-1"}, NIGHT]},
                 "interval 1: price_per_kwh '-1' must be at least 0", id="negative-price"),
    pytest.param({"interval": [DAY | {"end": "24:00"}, NIGHT]}, "interval 1: end must be a string \"HH:MM\"",
                 id="bad-time"),
    pytest.param({"interval": [DAY, NIGHT | {"evnight": True}]}, "interval 2: unknown key evnight", id="typo"),
    pytest.param({"currancy": "EUR"}, "unknown key currancy", id="unknown-key"),
    pytest.param({"id": ""}, "id is missing or not a non-empty string", id="no-id"),
])
def test_broken_rules_are_rejected(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ImportRejected) as info:
        tariff.parse_tariff(BASE | changes, "t.toml")
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def _write(path: Path, day_price: str = "0.28") -> Path:
    path.write_text(
        'id = "T1"\nname = "Test"\ncurrency = "EUR"\ntimezone = "Europe/Amsterdam"\n'
        'third_party_price_per_kwh = "0.31"\n'
        '[[interval]]\nlabel = "day"\nstart = "07:00"\nend = "23:00"\n'
        f'price_per_kwh = "{day_price}"\nev_night = false\n'
        '[[interval]]\nlabel = "night"\nstart = "23:00"\nend = "07:00"\nprice_per_kwh = "0.09"\nev_night = true\n'
    )
    return path


def test_import_creates_then_leaves_alone_then_replaces(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    path = _write(tmp_path / "t.toml")
    first = datetime(2025, 11, 1, tzinfo=UTC)
    with sessions.begin() as db:
        assert tariff.import_tariff(db, path, now=first).outcome == "created"
    with sessions.begin() as db:
        assert tariff.import_tariff(db, path).outcome == "unchanged"
    with sessions() as db:
        assert db.get_one(Tariff, "T1").imported_at == first
    with sessions.begin() as db:
        report = tariff.import_tariff(db, _write(path, day_price="0.30"))
    assert (report.outcome, report.intervals) == ("updated", 2)
    with sessions() as db:
        stored = db.get_one(Tariff, "T1")
        assert stored.imported_at > first
        assert [(i.sequence, i.label, i.price_per_kwh, i.ev_night) for i in stored.intervals] == [
            (1, "day", Decimal("0.30"), False), (2, "night", Decimal("0.09"), True)]


def test_invalid_toml_is_rejected_and_nothing_written(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('id = "T1\n')
    with sessions() as db, pytest.raises(ImportRejected, match="not valid TOML"):
        tariff.import_tariff(db, path)
    with sessions() as db:
        assert db.get(Tariff, "T1") is None


# ------------------------------------------------ several tariffs, the default, the plain price
def test_the_second_example_tariff_is_valid_and_names_a_plain_price(examples: Path) -> None:
    spec = tariff.parse_tariff(tomllib.loads((examples / "tariff-peak.toml").read_text()))
    assert (spec.tariff_id, spec.default, spec.plain_price_per_kwh) == ("NL-EV-PEAK-2025", False, Decimal("0.22"))
    assert [(i.start_local, i.end_local) for i in spec.intervals] == [
        ("07:00", "17:00"), ("17:00", "21:00"), ("21:00", "00:30"), ("00:30", "07:00")]
    assert tariff.parse_tariff(tomllib.loads((examples / "tariff.toml").read_text())).default is True


@pytest.mark.parametrize(("changes", "problem"), [
    pytest.param({"interval": [DAY | {"end": "22:50"}, NIGHT | {"start": "22:50"}]},
                 "interval 1: end 22:50 is not on a quarter hour (minutes 00, 15, 30 or 45)", id="end-off-quarter"),
    pytest.param({"interval": [DAY | {"start": "07:05"}, NIGHT | {"end": "07:05"}]},
                 "interval 1: start 07:05 is not on a quarter hour", id="start-off-quarter"),
    pytest.param({"default": "yes"}, "default must be true or false", id="default-not-bool"),
    pytest.param({"plain_price_per_kwh": 0.2}, "plain_price_per_kwh must be a decimal string", id="plain-float"),
    pytest.param({"id": "T" * 53}, "id is longer than 52 characters", id="id-too-long-for-the-rate-mrid"),
])
def test_rate_rules_are_rejected(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ImportRejected) as info:
        tariff.parse_tariff(BASE | changes, "t.toml")
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def test_quarter_hours_are_accepted() -> None:
    spec = tariff.parse_tariff(BASE | {"interval": [DAY | {"end": "22:45"}, NIGHT | {"start": "22:45"}]})
    assert [i.end_local for i in spec.intervals] == ["22:45", "07:00"]


def _toml(path: Path, tariff_id: str, *, default: bool | None = None, night: str = "0.09",
          plain: str | None = None) -> Path:
    lines = [f'id = "{tariff_id}"', 'name = "Tariff ' + tariff_id + '"', 'currency = "EUR"',
             'timezone = "Europe/Amsterdam"', 'third_party_price_per_kwh = "0.31"']
    if default is not None:
        lines.append(f"default = {str(default).lower()}")
    if plain is not None:
        lines.append(f'plain_price_per_kwh = "{plain}"')
    lines += ['[[interval]]', 'label = "day"', 'start = "07:00"', 'end = "23:00"', 'price_per_kwh = "0.28"',
              'ev_night = false', '[[interval]]', 'label = "night"', 'start = "23:00"', 'end = "07:00"',
              f'price_per_kwh = "{night}"', 'ev_night = true']
    path.write_text("\n".join(lines) + "\n")
    return path


def _defaults(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as db:
        return list(db.scalars(select(Tariff.tariff_id).where(Tariff.is_default)))


def test_several_tariffs_and_the_default_moves(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    with sessions.begin() as db:  # the first tariff is the default, whatever it says
        report = tariff.import_tariff(db, _toml(tmp_path / "a.toml", "A"))
    assert (report.outcome, report.default) == ("created", True)
    with sessions.begin() as db:
        second = tariff.import_tariff(db, _toml(tmp_path / "b.toml", "B", night="0.07", plain="0.2"))
    assert (second.outcome, second.default) == ("created", False)
    assert _defaults(sessions) == ["A"]
    with sessions() as db:
        assert SqlRegistry(db, None).tariff().tariff_id == "A"
        b = SqlRegistry(db, None).tariff("B")
        assert (b.plain_price_per_kwh, b.plain_price) == (Decimal("0.2"), Decimal("0.2"))
        assert SqlRegistry(db, None).tariff("A").plain_price == Decimal("0.28")  # none given: the day's

    with sessions.begin() as db:  # default = true moves the mark
        moved = tariff.import_tariff(db, _toml(tmp_path / "b2.toml", "B", default=True, night="0.07", plain="0.2"))
    assert (moved.outcome, moved.default) == ("updated", True)
    assert _defaults(sessions) == ["B"]
    with sessions() as db:
        assert SqlRegistry(db, None).tariff().tariff_id == "B"
    with sessions.begin() as db:  # the same again: nothing to do
        assert tariff.import_tariff(db, tmp_path / "b2.toml").outcome == "unchanged"
    with sessions.begin() as db:  # without the key (or false), the mark stays where it is
        assert tariff.import_tariff(db, _toml(tmp_path / "b3.toml", "B", default=False, night="0.07",
                                              plain="0.2")).outcome == "unchanged"
        assert tariff.import_tariff(db, _toml(tmp_path / "a2.toml", "A", night="0.08")).default is False
    assert _defaults(sessions) == ["B"]
    with sessions.begin() as db:
        assert tariff.import_tariff(db, _toml(tmp_path / "c.toml", "C", default=True)).default is True
    assert _defaults(sessions) == ["C"]
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Tariff)) == 3
