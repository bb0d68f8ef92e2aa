"""The accelerated clock: one timeline shared through an epoch, its inverse, its options."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evgrid.clock import AcceleratedClock
from evgrid.commands.clock_options import add_clock_options, clock_from
from evgrid.sim.devices.field import FieldSimulation

NIGHT = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
EPOCH = 1_800_000_000.0


class Wall:
    """A settable Unix wall clock (and a monotonic one that runs with it)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_two_clocks_with_one_epoch_agree_whenever_they_started() -> None:
    wall = Wall(EPOCH + 5)
    first = AcceleratedClock(600, NIGHT, epoch=EPOCH, wall=wall, monotonic=wall)
    wall.now += 7.25  # the second process starts later
    second = AcceleratedClock(600, NIGHT, epoch=EPOCH, wall=wall, monotonic=wall)
    assert first.now() == second.now() == NIGHT + timedelta(seconds=12.25 * 600)
    wall.now += 1
    assert first.now() == second.now() == NIGHT + timedelta(seconds=13.25 * 600)


def test_a_restarted_clock_continues_the_shared_timeline() -> None:
    wall = Wall(EPOCH + 60)
    before = AcceleratedClock(60, NIGHT, epoch=EPOCH, wall=wall).now()
    wall.now += 30  # down for half a minute
    after = AcceleratedClock(60, NIGHT, epoch=EPOCH, wall=wall).now()
    assert after - before == timedelta(minutes=30)


def test_before_a_future_epoch_simulated_time_is_before_the_start() -> None:
    clock = AcceleratedClock(600, NIGHT, epoch=EPOCH, wall=Wall(EPOCH - 2))
    assert clock.now() == NIGHT - timedelta(minutes=20)


@pytest.mark.parametrize("epoch", [EPOCH, None])
def test_to_wall_inverts_now(epoch: float | None) -> None:
    wall = Wall(EPOCH + 3)
    clock = AcceleratedClock(600, NIGHT, epoch=epoch, wall=wall, monotonic=wall)
    wall.now += 4.5
    assert clock.to_wall(clock.now()) == datetime.fromtimestamp(wall.now, UTC)
    # An hour of simulated time is six wall seconds at speed 600.
    assert clock.to_wall(clock.now() + timedelta(hours=1)) == datetime.fromtimestamp(wall.now + 6, UTC)
    assert clock.wall_seconds(3600) == 6


def test_without_an_epoch_time_runs_on_the_monotonic_clock_from_construction() -> None:
    wall, monotonic = Wall(EPOCH), Wall(100.0)
    clock = AcceleratedClock(2, NIGHT, wall=wall, monotonic=monotonic)
    wall.now += 3600  # a wall-clock step changes nothing
    monotonic.now += 10
    assert clock.now() == NIGHT + timedelta(seconds=20)
    assert clock.to_wall(NIGHT + timedelta(seconds=20)) == datetime.fromtimestamp(EPOCH + 10, UTC)


def test_real_time_is_identity_like() -> None:
    clock = AcceleratedClock()
    now = clock.now()
    assert abs((clock.to_wall(now) - now).total_seconds()) < 0.01
    assert abs((datetime.now(UTC) - now).total_seconds()) < 1
    assert AcceleratedClock(epoch=EPOCH, wall=Wall(EPOCH + 10)).now() == datetime.fromtimestamp(EPOCH + 10, UTC)


@pytest.mark.parametrize("arguments", [(0.0, NIGHT), (-1.0, NIGHT), (1.0, NIGHT.replace(tzinfo=None))])
def test_bad_clocks_are_refused(arguments: tuple[float, datetime]) -> None:
    with pytest.raises(ValueError):
        AcceleratedClock(*arguments)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_clock_options(parser)
    return parser.parse_args(argv)


def test_no_clock_option_means_real_time() -> None:
    assert clock_from(parse()) is None


def test_clock_options_build_the_shared_clock() -> None:
    clock = clock_from(parse("--speed", "600", "--start", NIGHT.isoformat(), "--epoch", f"{EPOCH:.3f}"))
    assert clock is not None
    assert (clock.speed, clock.start, clock.epoch) == (600, NIGHT, EPOCH)
    only_speed = clock_from(parse("--speed", "10"))
    assert only_speed is not None and only_speed.epoch is None and only_speed.speed == 10


@pytest.mark.parametrize("argv", [("--speed", "0"), ("--speed", "nan"), ("--start", "2026-11-26T17:00"),
                                  ("--epoch", "-5"), ("--epoch", "soon")])
def test_bad_clock_options_are_refused_by_the_parser(argv: tuple[str, ...]) -> None:
    with pytest.raises(argparse.ArgumentError):
        parse(*argv)


def restored_start(clock: AcceleratedClock, state: Path, saved: datetime) -> datetime:
    state.write_text(json.dumps({"version": 1, "time": saved.isoformat(), "power_ups": 1}), encoding="utf-8")
    simulation = FieldSimulation(None, clock, stations=[], meters=[], state_file=state)  # type: ignore[arg-type]
    simulation._restore()
    assert simulation.power_ups == 2
    return clock.now()


def test_an_ied_restart_on_a_private_clock_resumes_where_it_stopped(tmp_path: Path) -> None:
    monotonic = Wall(0.0)
    clock = AcceleratedClock(60, NIGHT, monotonic=monotonic)
    assert restored_start(clock, tmp_path / "state.json", NIGHT + timedelta(hours=2)) == NIGHT + timedelta(hours=2)


def test_an_ied_restart_on_a_shared_clock_does_not_rewind(tmp_path: Path) -> None:
    wall = Wall(EPOCH + 300)  # five wall minutes into the night: five simulated hours at speed 60
    clock = AcceleratedClock(60, NIGHT, epoch=EPOCH, wall=wall)
    assert restored_start(clock, tmp_path / "state.json", NIGHT + timedelta(hours=2)) == NIGHT + timedelta(hours=5)
    assert clock.start == NIGHT
