"""`evgrid baseload import`: daily profiles and 15-minute forecasts, read by the planner (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from evgrid.adapters.store import models as m
from evgrid.adapters.store.baseload import import_base_load
from evgrid.adapters.store.planning import night_problem
from evgrid.adapters.store.registry import import_registry
from evgrid.errors import ImportRejected
from tests.unit.adapters.store.conftest import import_example_tariffs

NIGHT = datetime(2026, 1, 15, 16, 0, tzinfo=UTC)


@pytest.fixture
def registered(sessions: sessionmaker[Session], examples: Path) -> sessionmaker[Session]:
    with sessions.begin() as db:
        import_example_tariffs(db, examples)
        import_registry(db, examples / "registry.csv")
    return sessions


def _csv(tmp_path: Path, *rows: str, header: str = "transformer_id,time,kw") -> Path:
    path = tmp_path / "baseload.csv"
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


def test_a_profile_holds_until_its_next_row_and_a_forecast_beats_it(registered: sessionmaker[Session],
                                                                   tmp_path: Path) -> None:
    path = _csv(tmp_path, "T-01,00:00,10", "T-01,17:00,30.5", "T-01,22:15,12",
                "T-01,2026-01-15T18:30:00+01:00,40", "T-01,2026-01-15T19:00:00Z,0")
    with registered.begin() as db:
        before = m.registry_version(db)
        report = import_base_load(db, path)
    assert (report.profiles, report.forecasts) == (1, 2)
    with registered() as db:
        assert m.registry_version(db) == before + 1  # running planners read it again
    problem = night_problem(registered, NIGHT, 32)  # 16:00 to 24:00 UTC
    (t01,) = [t for t in problem.transformers if t.transformer_id == "T-01"]
    by_time = {NIGHT + timedelta(minutes=15 * i): kw for i, kw in enumerate(t01.base_load_kw)}
    assert by_time[NIGHT] == 10.0  # 16:00: the 00:00 value still holds
    assert by_time[NIGHT.replace(hour=17)] == by_time[NIGHT.replace(hour=17, minute=15)] == 30.5
    assert by_time[NIGHT.replace(hour=17, minute=30)] == 40.0  # 18:30+01:00 is 17:30 UTC: the forecast
    assert by_time[NIGHT.replace(hour=19)] == 0.0  # a forecast of zero is a forecast
    assert by_time[NIGHT.replace(hour=22)] == 30.5 and by_time[NIGHT.replace(hour=22, minute=15)] == 12.0
    # Another transformer without a profile or forecast: zero, as before.
    assert all(kw == 0.0 for t in problem.transformers if t.transformer_id != "T-01" for kw in t.base_load_kw)


def test_importing_again_replaces_the_profile_and_the_slot(registered: sessionmaker[Session], tmp_path: Path) -> None:
    with registered.begin() as db:
        import_base_load(db, _csv(tmp_path, "T-01,00:00,10", "T-01,2026-01-15T17:00:00Z,40"))
    with registered.begin() as db:
        import_base_load(db, _csv(tmp_path, "T-01,00:00,7", "T-01,2026-01-15T17:00:00Z,41"))
    with registered() as db:
        assert db.scalar(select(func.count()).select_from(m.BaseLoadForecast)) == 1
        assert db.get_one(m.Transformer, "T-01").base_load_kw == [7.0] * 96
    (t01,) = [t for t in night_problem(registered, NIGHT, 8).transformers if t.transformer_id == "T-01"]
    assert t01.base_load_kw == (7.0, 7.0, 7.0, 7.0, 41.0, 7.0, 7.0, 7.0)


@pytest.mark.parametrize(("rows", "problem"), [
    (("T-99,00:00,10",), "line 2: transformer 'T-99' is not in the registry"),
    (("T-01,00:10,10",), "line 2: time '00:10' is neither HH:MM nor an ISO date-time"),
    (("T-01,2026-01-15T17:10:00Z,10",), "line 2: time 2026-01-15T17:10:00Z is not on a quarter hour"),
    (("T-01,2026-01-15T17:00:00,10",), "line 2: time 2026-01-15T17:00:00 has no time zone"),
    (("T-01,00:00,-1",), "line 2: kw -1 is not within 0 to"),
    (("T-01,00:00,lots",), "line 2: kw 'lots' is not a number"),
    (("T-01,00:00,1", "T-01,00:00,2"), "line 3: T-01 at 00:00 is given twice"),
    (("T-01,2026-01-15T17:00:00Z,1", "T-01,2026-01-15T18:00:00+01:00,2"), "line 3: T-01 at 2026-01-15T18:00:00+01:00"),
])
def test_a_broken_file_is_refused_whole_with_its_lines(registered: sessionmaker[Session], tmp_path: Path,
                                                       rows: tuple[str, ...], problem: str) -> None:
    with registered.begin() as db, pytest.raises(ImportRejected) as refused:
        import_base_load(db, _csv(tmp_path, *rows, "T-01,12:00,5"))
    assert any(problem in line for line in refused.value.problems), refused.value.problems
    with registered() as db:
        assert db.get_one(m.Transformer, "T-01").base_load_kw is None
        assert db.scalar(select(func.count()).select_from(m.BaseLoadForecast)) == 0


def test_a_wrong_header_is_refused(registered: sessionmaker[Session], tmp_path: Path) -> None:
    with registered.begin() as db, pytest.raises(ImportRejected, match="header must be transformer_id,time,kw"):
        import_base_load(db, _csv(tmp_path, "T-01,00:00,1", header="transformer,hour,kw"))
