"""End-to-end nights: every process of ``evgrid demo`` on loopback, small and fast.

A night is run once per module (it takes about half a minute) and the tests read what
it left behind: the operation system's database, the portals' and billing's databases,
the summary. Faults are injected by the night driver at simulated times.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from evgrid.sim.demo.driver import summarize
from evgrid.sim.demo.night import DemoOptions, Fault, Night, NightRun

SPEED = 2400.0  # the 16-hour night in 24 s


@dataclass
class FinishedNight:
    """What a test reads after the night."""

    night: Night
    run: NightRun
    summary: dict

    @property
    def out(self) -> Path:
        return self.night.out

    def core(self, sql: str, *params: object) -> list[tuple]:
        """Rows from the operation system's database."""
        return _rows(self.out / "evgrid.db", sql, params)

    def portals(self, sql: str, *params: object) -> list[tuple]:
        """Rows from every portal host's database."""
        return [row for path in self.run.portal_databases for row in _rows(path, sql, params)]

    def billing(self, sql: str, *params: object) -> list[tuple]:
        """Rows from the billing service's database."""
        return _rows(self.out / "state" / "billing.db", sql, params)


def _rows(path: Path, sql: str, params: tuple) -> list[tuple]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return list(connection.execute(sql, params))


def run_night(out: Path, *, homes: int = 6, faults: tuple[Fault, ...] = (), seed: int = 4) -> FinishedNight:
    """Run one night to the end (or its time budget) and summarise it."""
    options = DemoOptions(homes=homes, third_party_share=0.25, seed=seed, speed=SPEED, out=out, faults=faults,
                          wall_timeout_s=150)
    night = Night(options)
    night.prepare()
    try:
        night.start()
        run = night.drive()
    finally:
        night.stop()
    return FinishedNight(night, run, summarize(night, run))


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FinishedNight]:
    """One fault-free night of six homes: a third-party visit, two EVs full early, two stopped at their end."""
    yield run_night(tmp_path_factory.mktemp("night"))
