"""The outbox worker serves destinations in parallel and each destination in order."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.messaging.outbox import Due, OutboxItem, OutboxWorker, RetryPolicy

NOW = datetime(2026, 1, 15, 20, tzinfo=UTC)
OK = Codec().dump(env.reply_ok("X", source="test", correlation_id=None))


class Store:
    def __init__(self, items: list[OutboxItem]) -> None:
        self.items = items
        self.done: list[str] = []
        self.lock = threading.Lock()

    def pending(self, limit: int, *, due: Due) -> list[OutboxItem]:
        with self.lock:
            return [i for i in self.items if i.message_id not in self.done][:limit]

    def claim(self, item: OutboxItem, until: datetime) -> bool:
        return True

    def delivered(self, item: OutboxItem, reply: bytes, at: datetime) -> None:
        with self.lock:
            self.done.append(item.message_id)

    def retry(self, item: OutboxItem, error: str, at: datetime) -> None:
        raise AssertionError(error)

    def give_up(self, item: OutboxItem, error: str) -> None:
        raise AssertionError(error)


def test_a_slow_destination_does_not_hold_up_the_others_and_each_keeps_its_order() -> None:
    items = [OutboxItem(n, f"{dest}-{n}", dest, b"", 0, NOW - timedelta(seconds=1))
             for n, dest in enumerate(["slow", "fast", "slow", "fast", "fast"])]
    store = Store(items)
    order: list[str] = []

    def deliver(destination: str, body: bytes) -> bytes:
        if destination == "slow":
            time.sleep(0.3)
        order.append(destination)
        return OK

    worker = OutboxWorker(store, {"slow": deliver, "fast": deliver}, concurrency=4)  # type: ignore[arg-type]
    with worker.running(interval_s=10):
        deadline = time.monotonic() + 5
        while len(store.done) < len(items) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert order[:3] == ["fast", "fast", "fast"]  # all of "fast" while the first "slow" was still going
    assert [m for m in store.done if m.startswith("slow")] == ["slow-0", "slow-2"]
    assert [m for m in store.done if m.startswith("fast")] == ["fast-1", "fast-3", "fast-4"]


def test_the_backoff_counts_from_the_failure_not_from_the_start_of_the_round() -> None:
    from evgrid.errors import UpstreamFault

    retried: list[datetime] = []

    class Failing(Store):
        def retry(self, item: OutboxItem, error: str, at: datetime) -> None:
            retried.append(at)

    def slow_failure(destination: str, body: bytes) -> bytes:
        time.sleep(0.5)  # a timeout, say
        raise UpstreamFault("no answer", code="4.2")

    item = OutboxItem(1, "m-1", "billing", b"", 0, NOW - timedelta(seconds=1))
    policy = RetryPolicy(base_s=0.01)  # a backoff of at most 10 ms: the attempt's half second shows
    worker = OutboxWorker(Failing([item]), {"billing": slow_failure}, policy=policy)  # type: ignore[arg-type]
    worker.deliver_due(NOW)
    (at,) = retried
    assert at >= NOW + timedelta(seconds=0.5)  # the half second the attempt took, then the backoff
