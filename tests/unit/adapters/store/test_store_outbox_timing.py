"""Outbox times are wall time, whatever the core's (simulated) clock says."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from evgrid.adapters.store import models as m
from evgrid.adapters.store.outbox import SqlOutboxStore
from evgrid.adapters.store.uow import SqlUnitOfWork
from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.errors import UpstreamFault
from evgrid.mappings import codes
from evgrid.messaging.outbox import OutboxWorker, RetryPolicy
from evgrid.operations import events
from tests.unit.scheduler.test_planner import planner

WALL = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
codec = Codec()


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def queue_under(sessions: sessionmaker[Session], simulated: datetime, session_id: str) -> None:
    uow = SqlUnitOfWork(sessions, planner(), codec, FixedClock(simulated), register_type=codes.REGISTER_WH,
                        lock=threading.Lock(), wall_clock=lambda: WALL)
    with uow:
        assert uow.now == simulated
        uow.outbox.put(events.SessionAcknowledged(session_id, f"BILL-{session_id}", "A-1"))
        uow.commit()


def ok(destination: str, body: bytes) -> bytes:
    header = codec.decode(body).header
    return codec.dump(env.reply_ok(header.noun, source="test", correlation_id=header.message_id))


@pytest.mark.parametrize("simulated", [WALL + timedelta(days=600), WALL - timedelta(days=9000)])
def test_a_row_queued_under_a_simulated_clock_is_due_at_once(sessions: sessionmaker[Session],
                                                            simulated: datetime) -> None:
    queue_under(sessions, simulated, "S-1")
    with sessions() as db:
        row = db.scalars(select(m.OutboxMessage)).one()
        assert row.next_attempt_at == row.created_at == WALL
    worker = OutboxWorker(SqlOutboxStore(sessions), {events.SCHEDULER: ok})
    assert worker.deliver_due(WALL) == 1


def test_retries_back_off_in_wall_time(sessions: sessionmaker[Session]) -> None:
    queue_under(sessions, WALL + timedelta(days=600), "S-1")

    def down(destination: str, body: bytes) -> bytes:
        raise UpstreamFault("scheduler unreachable", code="4.1")

    policy = RetryPolicy(base_s=2.0, cap_s=60.0)
    worker = OutboxWorker(SqlOutboxStore(sessions), {events.SCHEDULER: down}, policy=policy, rng=random.Random(1))
    assert worker.deliver_due(WALL) == 0
    with sessions() as db:
        row = db.scalars(select(m.OutboxMessage)).one()
        assert row.status == "pending" and row.attempts == 1
        assert WALL <= row.next_attempt_at <= WALL + timedelta(seconds=2)
        retry_at = row.next_attempt_at
    # Not due before its wall-time backoff has passed, due after it.
    if retry_at > WALL:
        assert worker.deliver_due(WALL) == 0
    working = OutboxWorker(SqlOutboxStore(sessions), {events.SCHEDULER: ok}, policy=policy)
    assert working.deliver_due(retry_at) == 1


def test_a_next_attempt_beyond_any_backoff_is_due_now(sessions: sessionmaker[Session]) -> None:
    """A row an older evgrid queued at its simulated date (a year ahead) does not wait for that date."""
    queue_under(sessions, WALL, "S-1")
    queue_under(sessions, WALL, "S-2")
    with sessions.begin() as db:
        first, second = db.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id))
        first.next_attempt_at = WALL + timedelta(days=365)
        first.destination = "scheduler-a"
        second.next_attempt_at = WALL + timedelta(seconds=30)  # a backoff in progress: waits
        second.destination = "scheduler-b"
    worker = OutboxWorker(SqlOutboxStore(sessions), {"scheduler-a": ok, "scheduler-b": ok})
    assert worker.deliver_due(WALL) == 1
    with sessions() as db:
        assert [r.status for r in db.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id))] == [
            "delivered", "pending"]
