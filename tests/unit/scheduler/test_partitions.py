"""The grid planned in partitions over a rolling horizon: any hour, one feeder at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from evgrid.errors import UnknownReference
from evgrid.operations.model import ChargingKind
from evgrid.operations.session import Session
from evgrid.scheduler.check import violations
from evgrid.scheduler.model import Feeder, Horizon, Problem, SessionRequest, Transformer
from evgrid.scheduler.partitions import PartitionedPlanner, Planned, RollingHorizon, partition_key
from evgrid.scheduler.planner import WindowPlanner
from tests.unit.scheduler.test_planner import START, session

ANCHOR = START.replace(hour=0)  # windows from 00:00, 06:00, 12:00, 18:00 UTC
HORIZON = RollingHorizon(ANCHOR)  # 6 h apart, 30 h long: 24 h ahead at least


def price(moment: datetime) -> float:
    """The cheap night from 22:00 to 07:00, the day price otherwise."""
    return 0.09 if moment.hour >= 22 or moment.hour < 7 else 0.28


class Grid:
    """A GridSource in memory: transformers (id -> feeder), 40 kW each over a 20 kW base load."""

    def __init__(self, transformers: dict[str, str | None], feeder_kw: float = 1_000.0) -> None:
        self.transformers, self.feeder_kw = dict(transformers), feeder_kw
        self.capacity_kw = dict.fromkeys(transformers, 40.0)
        self.stored: dict[str, tuple[SessionRequest, dict[datetime, float]]] = {}  # what commits keep
        self.reads: list[tuple[str, datetime]] = []
        self.changes = 0

    def partition_of(self, transformer_id: str) -> str | None:
        if transformer_id not in self.transformers:
            return None
        return partition_key(transformer_id, self.transformers[transformer_id])

    def problem(self, partition: str, horizon: Horizon) -> Problem:
        self.reads.append((partition, horizon.start_utc))
        members = [t for t in sorted(self.transformers) if self.partition_of(t) == partition]
        feeders = {self.transformers[t] for t in members} - {None}
        return Problem(horizon, (), tuple(
            Transformer(t, self.capacity_kw[t], tuple([20.0] * horizon.slot_count), self.transformers[t])
            for t in members), tuple(price(horizon.slot_start_utc(k)) for k in range(horizon.slot_count)), 1.0,
            tuple(Feeder(f, self.feeder_kw) for f in sorted(feeders)))  # type: ignore[arg-type]

    def planned(self, partition: str, horizon: Horizon) -> Planned:
        restored = []
        for request, power in self.stored.values():
            if self.partition_of(request.transformer_id) == partition:
                restored.append((replace(request, arrival_utc=max(request.arrival_utc, horizon.start_utc)),
                                 [power.get(horizon.slot_start_utc(k), 0.0) for k in range(horizon.slot_count)]))
        return restored

    def changed(self) -> None:
        self.changes += 1

    def keep(self, planner: PartitionedPlanner, session_id: str, transformer_id: str) -> None:
        """What the store keeps of a placement: its slot allocations at their times."""
        window = planner.partition(planner.partition_of(transformer_id)).window
        assert window is not None
        request, power = window.placed(session_id)
        horizon = window.problem.horizon
        self.stored[session_id] = (request, {horizon.slot_start_utc(k): kw for k, kw in enumerate(power) if kw})


def on(transformer_id: str, session_id: str, plugged_in: datetime, hours: float = 13.0,
       kind: ChargingKind = ChargingKind.HOME, wh: int = 14_400) -> Session:
    return replace(session(session_id, kind, wh), transformer_id=transformer_id, plugged_in_utc=plugged_in,
                   departure_utc=plugged_in + timedelta(hours=hours))


@pytest.mark.parametrize(("moment", "start"), [
    (ANCHOR, ANCHOR),
    (ANCHOR + timedelta(hours=5, minutes=59), ANCHOR),
    (ANCHOR + timedelta(hours=13), ANCHOR + timedelta(hours=12)),
    (ANCHOR + timedelta(days=9, hours=23), ANCHOR + timedelta(days=9, hours=18)),
    (ANCHOR - timedelta(minutes=1), ANCHOR - timedelta(hours=6)),  # before the anchor too
])
def test_the_window_open_at_any_moment_covers_at_least_a_day_from_it(moment: datetime, start: datetime) -> None:
    window = HORIZON.window_at(moment)
    assert window.start_utc == start and window.slot_count == 120
    assert window.end_utc - moment >= timedelta(hours=24)


def test_a_horizon_is_whole_slots() -> None:
    with pytest.raises(ValueError, match="whole number"):
        RollingHorizon(ANCHOR, roll=timedelta(minutes=20))
    with pytest.raises(ValueError, match="not aware UTC"):
        RollingHorizon(ANCHOR.replace(tzinfo=None))


def test_a_quick_charge_at_13_00_starts_at_once() -> None:
    planner = PartitionedPlanner(HORIZON, Grid({"TX-1": "F-1"}))
    at = START.replace(hour=13)
    allotment = planner.place(on("TX-1", "S-1", at, hours=3, kind=ChargingKind.THIRD_PARTY), at)
    planner.commit()
    assert allotment.start_utc == at and allotment.slots[0][1] > 0
    assert allotment.planned_wh == 14_400


def test_a_home_request_at_13_00_charges_in_the_cheap_night_before_departure() -> None:
    planner = PartitionedPlanner(HORIZON, Grid({"TX-1": "F-1"}))
    at = START.replace(hour=13)
    allotment = planner.place(on("TX-1", "S-1", at, hours=19), at)  # leaves at 08:00
    planner.commit()
    assert allotment.planned_wh == 14_400
    assert all(price(begin) == 0.09 for begin, _ in allotment.slots)
    assert allotment.end_utc is not None and allotment.end_utc <= at + timedelta(hours=19)


def test_a_departure_beyond_the_window_is_planned_up_to_its_end() -> None:
    planner = PartitionedPlanner(HORIZON, Grid({"TX-1": "F-1"}))
    at = START.replace(hour=13)
    window = HORIZON.window_at(at)
    allotment = planner.place(on("TX-1", "S-1", at, hours=72, wh=400_000), at)  # three days, 400 kWh
    assert allotment.end_utc is not None and allotment.end_utc <= window.end_utc
    assert 0 < allotment.planned_wh < 400_000


def test_each_feeder_is_a_partition_opened_when_first_used() -> None:
    grid = Grid({"TX-1": "F-1", "TX-2": "F-1", "TX-3": "F-2", "TX-4": None})
    planner = PartitionedPlanner(HORIZON, grid)
    planner.place(on("TX-1", "S-1", START), START)
    planner.commit()
    assert grid.reads == [("feeder:F-1", HORIZON.start_at(START))]
    window = planner.partition("feeder:F-1").window
    assert window is not None and {t.transformer_id for t in window.problem.transformers} == {"TX-1", "TX-2"}
    planner.place(on("TX-4", "S-2", START), START)  # a transformer without a feeder: its own partition
    planner.commit()
    assert set(planner.windows()) == {"feeder:F-1", "transformer:TX-4"}
    assert set(planner.planned()) == {"S-1", "S-2"}


def test_a_partition_moves_to_the_next_window_with_its_sessions_kept() -> None:
    grid = Grid({"TX-1": "F-1"})
    planner = PartitionedPlanner(HORIZON, grid)
    first = planner.place(on("TX-1", "S-1", START, wh=50_000), START)  # 18:00, charging most of the night
    planner.commit()
    grid.keep(planner, "S-1", "TX-1")
    later = START + timedelta(hours=7)  # 01:00: past the roll point at 00:00
    planner.place(on("TX-1", "S-2", later), later)
    planner.commit()
    window = planner.partition("feeder:F-1").window
    assert window is not None and window.problem.horizon.start_utc == HORIZON.start_at(later) != START
    # S-1's slots still to come are kept exactly where they were, and S-2 is placed around them.
    kept = WindowPlanner.allotment(window.plan, "S-1", "TX-1").slots
    assert kept and kept == tuple(slot for slot in first.slots if slot[0] >= window.problem.horizon.start_utc)
    assert violations(window.problem, window.plan) == []


def test_a_late_request_keeps_the_window_it_finds() -> None:
    planner = PartitionedPlanner(HORIZON, Grid({"TX-1": "F-1"}))
    later = START + timedelta(hours=7)
    planner.place(on("TX-1", "S-1", later), later)
    planner.commit()
    planner.place(on("TX-1", "S-2", START), START)  # sent hours ago, arrives now
    planner.commit()
    assert planner.windows() == {"feeder:F-1": HORIZON.start_at(later)}


def test_a_registry_change_is_read_when_the_partition_is_next_used() -> None:
    grid = Grid({"TX-1": "F-1"})
    planner = PartitionedPlanner(HORIZON, grid, version=3)
    planner.place(on("TX-1", "S-1", START), START)
    planner.commit()
    grid.transformers["TX-2"] = "F-1"  # imported, but no version bump seen yet
    grid.capacity_kw["TX-2"] = 30.0
    with pytest.raises(UnknownReference, match="TX-2"):
        planner.place(on("TX-2", "S-2", START), START)  # refused 2.7, never 5.0
    planner.discard()
    planner.registry_at(4)
    planner.registry_at(2)  # an older reader does not take it back
    assert planner.registry_version == 4 and grid.changes == 1
    planner.place(on("TX-2", "S-2", START), START)
    planner.commit()
    assert set(planner.planned()) == {"S-1", "S-2"}
    assert len(grid.reads) == 2  # read at open, and again for the new version


def test_an_unknown_transformer_is_refused_2_7() -> None:
    planner = PartitionedPlanner(HORIZON, Grid({"TX-1": "F-1"}))
    with pytest.raises(UnknownReference) as caught:
        planner.place(on("TX-9", "S-1", START), START)
    assert caught.value.mrid == "TX-9"


def test_a_session_whose_transformer_left_the_registry_is_still_released() -> None:
    grid = Grid({"TX-1": "F-1"})
    planner = PartitionedPlanner(HORIZON, grid)
    planner.place(on("TX-1", "S-1", START), START)
    planner.commit()
    del grid.transformers["TX-1"]
    planner.registry_at(1)
    planner.release("S-1", "TX-1")
    planner.commit()
    assert planner.planned() == {}
    planner.release("S-never", "TX-1")  # nothing to release: nothing happens
    planner.commit()
