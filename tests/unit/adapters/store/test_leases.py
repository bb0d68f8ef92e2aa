"""Station leases on both backends: HRW ownership, handover, takeover, the fence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from evgrid.adapters.store.leases import StationLeases, hrw_winner
from evgrid.adapters.store.models import StationLease
from evgrid.adapters.store.registry import import_registry
from tests.unit.adapters.store.conftest import write_registry

TTL = 15.0
STATIONS = 24


class FakeWall:
    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 26, 20, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def wall() -> FakeWall:
    return FakeWall()


@pytest.fixture
def stations(sessions: sessionmaker[Session], tmp_path: Path) -> frozenset[str]:
    with sessions.begin() as db:
        import_registry(db, write_registry(tmp_path / "registry.csv", STATIONS))
    return frozenset(f"S-{i:04d}" for i in range(1, STATIONS + 1))


def worker(sessions: sessionmaker[Session], name: str, wall: FakeWall) -> StationLeases:
    return StationLeases(sessions, name, ttl_seconds=TTL, clock=wall)


def settled_pair(sessions: sessionmaker[Session], wall: FakeWall) -> tuple[StationLeases, StationLeases]:
    """Workers A and B, each renewed twice: both live, every station handed to its winner."""
    a, b = worker(sessions, "A", wall), worker(sessions, "B", wall)
    for _ in range(2):
        a.renew()
        b.renew()
    return a, b


def holders(sessions: sessionmaker[Session], now: datetime) -> dict[str, str]:
    """Station -> worker of every unexpired lease, as stored."""
    with sessions() as db:
        return {lease.station_id: lease.worker_id for lease in db.scalars(select(StationLease))
                if lease.expires_at > now}


def test_a_lone_worker_holds_every_station(sessions: sessionmaker[Session], stations: frozenset[str],
                                          wall: FakeWall) -> None:
    a = worker(sessions, "A", wall)
    change = a.renew()
    assert change.held == change.gained == stations and not change.lost
    wall.advance(TTL / 3)
    again = a.renew()
    assert again.held == stations and not again.gained and not again.lost
    assert set(holders(sessions, wall.moment).values()) == {"A"}


def test_a_joining_worker_gets_its_hrw_share_without_a_station_ever_unheld(
        sessions: sessionmaker[Session], stations: frozenset[str], wall: FakeWall) -> None:
    a, b = worker(sessions, "A", wall), worker(sessions, "B", wall)
    a.renew()
    # B heartbeats: it is live, but A's leases are unexpired, so it claims nothing yet.
    assert b.renew().held == frozenset()
    assert holders(sessions, wall.moment).keys() == stations
    wall.advance(1)
    handed = a.renew()  # A sees B live: B's stations go to B, held by someone throughout
    expected_b = frozenset(s for s in stations if hrw_winner(s, {"A", "B"}) == "B")
    assert 0 < len(expected_b) < len(stations)
    assert handed.lost == expected_b and handed.held == stations - expected_b
    assert holders(sessions, wall.moment).keys() == stations
    wall.advance(1)
    gained = b.renew()
    assert gained.gained == gained.held == expected_b
    stored = holders(sessions, wall.moment)
    assert stored.keys() == stations
    assert {s for s, w in stored.items() if w == "B"} == expected_b
    assert a.held() | b.held() == stations and not a.held() & b.held()


def test_a_dead_workers_stations_are_taken_over_within_ttl_plus_the_renew_interval(
        sessions: sessionmaker[Session], stations: frozenset[str], wall: FakeWall) -> None:
    a, b = settled_pair(sessions, wall)
    assert a.held() and b.held()
    died = wall.moment  # B's last renewal: it renews no more
    b_stations = b.held()
    while wall.moment - died < timedelta(seconds=a.takeover_seconds):
        wall.advance(a.renew_seconds)
        change = a.renew()
        if wall.moment - died < timedelta(seconds=TTL):
            assert not change.gained, "taken before B's leases expired"
    assert a.held() == stations
    assert b_stations <= a.held()
    assert set(holders(sessions, wall.moment).values()) == {"A"}


def test_release_all_lets_the_others_take_over_at_their_next_renewal(
        sessions: sessionmaker[Session], stations: frozenset[str], wall: FakeWall) -> None:
    a, b = settled_pair(sessions, wall)
    released = b.release_all()
    assert released.lost and not released.held and b.held() == frozenset()
    wall.advance(1)  # well within the lease time: no waiting for an expiry
    assert a.renew().held == stations


def test_holds_is_true_only_for_the_holder_of_an_unexpired_lease(
        sessions: sessionmaker[Session], stations: frozenset[str], wall: FakeWall) -> None:
    a, b = worker(sessions, "A", wall), worker(sessions, "B", wall)
    a.renew()
    station = min(stations)
    with sessions() as db:
        assert a.holds(db, station) and not b.holds(db, station)
    wall.advance(TTL + 1)  # A's lease has run out: not even A may dispatch now
    with sessions() as db:
        assert not a.holds(db, station)


def test_rendezvous_hash_moves_only_the_joiners_share() -> None:
    stations = [f"S-{i}" for i in range(3000)]
    before = {s: hrw_winner(s, ["A", "B"]) for s in stations}
    after = {s: hrw_winner(s, ["A", "B", "C"]) for s in stations}
    moved = [s for s in stations if before[s] != after[s]]
    assert all(after[s] == "C" for s in moved)  # nobody else trades stations
    assert 800 < len(moved) < 1200  # about a third
    assert hrw_winner("S-1", ["B", "A"]) == hrw_winner("S-1", ["A", "B"])  # order does not matter
