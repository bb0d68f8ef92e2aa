"""Night after night: the rolling planner opens the next night when the current one is over."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from evgrid.scheduler.model import Horizon, Problem, Transformer
from evgrid.scheduler.nights import Nights, RollingPlanner
from evgrid.scheduler.planner import NightPlanner
from tests.unit.scheduler.test_planner import PRICES, SLOTS, START, session

LENGTH = timedelta(minutes=15 * SLOTS)  # 18:00 to 08:00
NIGHTS = Nights(START, LENGTH)


def night_from(start: datetime, capacity_kw: float = 40.0) -> NightPlanner:
    transformer = Transformer("TX-1", capacity_kw, tuple([20.0] * SLOTS))
    return NightPlanner(Problem(Horizon(start, SLOTS), (), (transformer,), PRICES, 1.0))


class Opener:
    """open_night for the tests: records which nights were opened."""

    def __init__(self) -> None:
        self.opened: list[datetime] = []

    def __call__(self, start: datetime) -> NightPlanner:
        self.opened.append(start)
        return night_from(start)


def on_night(session_id: str, k: int) -> object:
    base = session(session_id)
    return replace(base, plugged_in_utc=base.plugged_in_utc + k * timedelta(days=1),
                   departure_utc=base.departure_utc + k * timedelta(days=1))


@pytest.mark.parametrize(("moment", "expected"), [
    (START - timedelta(hours=1), START),  # before the first night: that night
    (START + timedelta(hours=3), START),  # during it
    (START + LENGTH - timedelta(seconds=1), START),
    (START + LENGTH, START + timedelta(days=1)),  # over at its end: the next (not begun yet)
    (START + timedelta(days=1, hours=2), START + timedelta(days=1)),
    (START + timedelta(days=9, hours=15), START + timedelta(days=10)),  # away for days: the next one
    (START - timedelta(days=1, hours=1), START - timedelta(days=1)),  # before the configured night
])
def test_the_open_night_is_the_first_that_has_not_ended(moment: datetime, expected: datetime) -> None:
    assert NIGHTS.open_at(moment) == expected


def test_nights_may_not_overlap() -> None:
    with pytest.raises(ValueError, match="at most a day"):
        Nights(START, timedelta(hours=25))


def test_a_request_after_the_night_is_over_is_placed_in_the_next_night() -> None:
    opener = Opener()
    planner = RollingPlanner(night_from(START), NIGHTS, opener)
    planner.place(session("S-1"), START + timedelta(minutes=10))
    planner.commit()
    assert opener.opened == []

    tomorrow = START + timedelta(days=1)
    allotment = planner.place(on_night("S-2", 1), tomorrow + timedelta(minutes=10))
    planner.commit()
    assert opener.opened == [tomorrow]
    assert allotment.start_utc is not None and tomorrow <= allotment.start_utc < tomorrow + LENGTH
    assert planner.problem.horizon.start_utc == tomorrow and [s.session_id for s in planner.plan.sessions] == ["S-2"]
    # In the day between two nights, a request goes to the coming night, not to the past one.
    planner.place(on_night("S-3", 2), tomorrow + LENGTH + timedelta(hours=2))
    assert opener.opened == [tomorrow, tomorrow + timedelta(days=1)]


def test_the_night_is_kept_while_it_lasts() -> None:
    opener = Opener()
    planner = RollingPlanner(night_from(START), NIGHTS, opener)
    late = START + LENGTH - timedelta(minutes=20)
    planner.place(session("S-1"), late)
    planner.commit()
    assert opener.opened == [] and "S-1" in planner.plan


def test_another_workers_placement_in_a_later_night_moves_this_one_there() -> None:
    first, second = Opener(), Opener()
    a = RollingPlanner(night_from(START), NIGHTS, first)
    b = RollingPlanner(night_from(START), NIGHTS, second)
    tomorrow = START + timedelta(days=1)
    a.place(on_night("S-2", 1), tomorrow + timedelta(minutes=10))
    a.commit()
    request, power = a.placed("S-2")
    b.adopt(request, power)
    b.commit()
    assert second.opened == [tomorrow] and b.plan == a.plan


def test_a_placement_into_a_night_already_over_here_is_not_adopted(caplog: pytest.LogCaptureFixture) -> None:
    a = RollingPlanner(night_from(START), NIGHTS, Opener())
    b = RollingPlanner(night_from(START), NIGHTS, Opener())
    b.place(on_night("S-2", 1), START + timedelta(days=1, minutes=10))  # b has moved on
    b.commit()
    a.place(session("S-1"), START + timedelta(minutes=10))  # a placed into the night before
    a.commit()
    b.adopt(*a.placed("S-1"))
    assert "S-1" not in b.plan and "belongs to a night before" in caplog.text
