"""Store-and-forward: deliver outbox messages to billing, MDM, portals and the scheduler.

Handlers write outbound messages to the outbox in their own transaction; this worker
delivers them later, so a receiver that is down for minutes loses nothing:

- due rows are taken in order per destination: a destination whose oldest pending
  message is not due (or just failed) gets nothing newer in that pass;
- a row is *claimed* before delivery (attempts + 1, next attempt pushed one lease ahead,
  compare-and-set on ``attempts``), so a second worker on the same database skips it, and
  a row whose worker died mid-delivery becomes due again when the lease runs out;
- delivered rows are marked in the same transaction that records the reply;
- a failed delivery is retried with exponential backoff and full jitter, up to a cap,
  and given up (status ``failed``, logged) after ``max_attempts`` or at once when the
  receiver refused the message itself (61968-100 codes 1.x, 2.x, 3.x, 6.x: receivers
  journal a FAILED reply per MessageID, so a retry would only fetch the same answer).

A message may thus reach a receiver twice (a crash between its reply and our commit);
receivers apply each MessageID once and answer a replay with the stored reply.

Times here are wall time, also when the core runs on an accelerated clock: rows are
queued at the wall time of their transaction, leases and backoff are wall seconds. A
row whose next attempt lies further ahead than any lease or backoff a worker sets (one
queued by an older evgrid at a simulated clock's date) is due at once rather than
waiting for that date.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from evgrid.cim.codec import Codec
from evgrid.cim.replies import check_reply
from evgrid.errors import AdapterError

log = logging.getLogger(__name__)

# Receivers answer these categories for the message itself; resending cannot help.
PERMANENT_CATEGORIES = frozenset({"1", "2", "3", "6"})

class _Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GAVE_UP = "gave up"


Deliverer = Callable[[str, bytes], bytes]
"""Delivers one message body to a destination; returns the 61968-100 reply bytes."""


@dataclass(frozen=True, slots=True)
class Due:
    """Which destinations a pass of the worker takes: those it can deliver whose oldest row is due."""

    destinations: tuple[str, ...]  # names, or "prefix:*"
    now: datetime
    horizon: timedelta  # a next attempt further ahead than this was set by no worker: due now

    def matches(self, destination: str) -> bool:
        """Whether a worker with these deliverers can deliver to ``destination``."""
        return any(destination == name or (name.endswith(":*") and destination.startswith(name[:-1]))
                   for name in self.destinations)

    def head_due(self, next_attempt_at: datetime) -> bool:
        """Whether a destination whose oldest row waits until ``next_attempt_at`` is due."""
        return next_attempt_at <= self.now or next_attempt_at > self.now + self.horizon


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One pending outbox row, as read before its delivery."""

    id: int
    message_id: str
    destination: str
    body: bytes
    attempts: int
    next_attempt_at: datetime


class OutboxStore(Protocol):
    """Where pending messages live; each method is one transaction."""

    def pending(self, limit: int, *, due: Due) -> list[OutboxItem]:
        """Pending rows, oldest first (by insertion), of the destinations ``due`` selects.

        A destination is selected when it matches one of ``due.destinations`` (a name, or
        ``prefix:*``) and its oldest pending row is due: rows nobody can deliver, or
        waiting out a backoff, must not fill the batch and starve the others (billing
        behind hundreds of unreachable portals).
        """
        ...

    def claim(self, item: OutboxItem, until: datetime) -> bool:
        """Count an attempt and push the next one to ``until``, unless the row changed since it was read."""
        ...

    def delivered(self, item: OutboxItem, reply: bytes, at: datetime) -> None:
        """Mark delivered and record the reply, in one transaction."""
        ...

    def retry(self, item: OutboxItem, error: str, at: datetime) -> None:
        """Keep pending until ``at``, with the error of the failed attempt."""
        ...

    def give_up(self, item: OutboxItem, error: str) -> None:
        """Status failed, with the last error."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter (AWS architecture blog, 'Exponential Backoff And Jitter')."""

    max_attempts: int = 10
    base_s: float = 1.0
    cap_s: float = 300.0
    lease_s: float = 60.0
    batch: int = 200

    @property
    def horizon(self) -> timedelta:
        """The furthest a worker ever pushes a next attempt ahead (a lease or a backoff)."""
        return timedelta(seconds=max(self.lease_s, self.cap_s))

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: uniform in [0, min(cap, base * 2^(n-1))]."""
        ceiling = min(self.cap_s, self.base_s * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=rng.uniform(0, ceiling))


class OutboxWorker:
    """Delivers due outbox messages through their destination's deliverer."""

    def __init__(self, store: OutboxStore, deliverers: Mapping[str, Deliverer], *,
                 policy: RetryPolicy | None = None, rng: random.Random | None = None,
                 codec: Codec | None = None, clock: Callable[[], datetime] | None = None,
                 concurrency: int = 1) -> None:
        """Deliver through ``deliverers``, serving ``concurrency`` destinations at once.

        ``deliverers`` maps a destination (``billing``) or a prefix (``portal:*``) to its deliverer.
        """
        self.store = store
        self.policy = policy or RetryPolicy()
        self._deliverers = dict(deliverers)
        self._rng = rng or random.Random()
        self._codec = codec or Codec()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._round_started = time.monotonic()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._concurrency = concurrency
        self._pool: ThreadPoolExecutor | None = None  # while running()

    def deliverer(self, destination: str) -> Deliverer | None:
        """The deliverer for ``destination``: an exact entry, else ``<prefix>:*``."""
        found = self._deliverers.get(destination)
        if found is None and ":" in destination:
            found = self._deliverers.get(destination.split(":", 1)[0] + ":*")
        return found

    def deliver_due(self, now: datetime) -> int:
        """One pass over the pending rows; returns how many were delivered.

        Destinations are independent, so with ``concurrency`` > 1 they are served in
        parallel (one portal host slow to answer does not hold up billing); within a
        destination messages go strictly in order.
        """
        self._round_started = time.monotonic()
        queues: dict[str, list[OutboxItem]] = {}
        due = Due(tuple(self._deliverers), now, self.policy.horizon)
        for item in self.store.pending(self.policy.batch, due=due):
            queues.setdefault(item.destination, []).append(item)
        if self._pool is None or len(queues) < 2:
            return sum(self._deliver_in_order(rows, now) for rows in queues.values())
        return sum(self._pool.map(lambda rows: self._deliver_in_order(rows, now), queues.values()))

    def _deliver_in_order(self, rows: list[OutboxItem], now: datetime) -> int:
        delivered = 0
        for item in rows:
            deliver = self.deliverer(item.destination)
            # Not due: a retry or a lease a worker set. A next attempt beyond any backoff or
            # lease was not set by a worker (a simulated clock's time): due now.
            if deliver is None or now < item.next_attempt_at <= now + self.policy.horizon:
                break  # nothing newer overtakes it
            if item.attempts >= self.policy.max_attempts:  # claimed that often without an outcome
                self._give_up(item, "no outcome after the last claimed attempt")
                continue
            if not self.store.claim(item, now + timedelta(seconds=self.policy.lease_s)):
                break  # another worker has it: keep the order
            outcome = self._attempt(item, deliver, now)
            if outcome is _Outcome.DELIVERED:
                delivered += 1
            elif outcome is _Outcome.RETRY:
                break
        return delivered

    def _attempt(self, item: OutboxItem, deliver: Deliverer, now: datetime) -> _Outcome:
        try:
            reply = deliver(item.destination, item.body)
            # In-process deliverers (a Router) answer FAILED in the reply rather than raise.
            check_reply(self._codec.parse(reply))
        except AdapterError as error:
            return self._failed(item, error, now)
        self.store.delivered(item, reply, self._clock())
        return _Outcome.DELIVERED

    def _failed(self, item: OutboxItem, error: AdapterError, now: datetime) -> _Outcome:
        attempts = item.attempts + 1
        text = f"{error.code} {error.reason}"
        if error.code.split(".", 1)[0] in PERMANENT_CATEGORIES:
            self._give_up(item, text)
            return _Outcome.GAVE_UP
        if attempts >= self.policy.max_attempts:
            self._give_up(item, f"after {attempts} attempts: {text}")
            return _Outcome.GAVE_UP
        # From the failure, not from the round's start: a timeout (10 s) queued behind others
        # would otherwise leave a next attempt already past, and no backoff at all.
        at = now + timedelta(seconds=time.monotonic() - self._round_started) + self.policy.delay(attempts, self._rng)
        log.warning("outbox %s to %s: attempt %d failed (%s); next at %s", item.message_id,
                    item.destination, attempts, text, at.isoformat())
        self.store.retry(item, text, at)
        return _Outcome.RETRY

    def _give_up(self, item: OutboxItem, error: str) -> None:
        log.error("outbox %s to %s: given up: %s", item.message_id, item.destination, error)
        self.store.give_up(item, error)

    # ---------------------------------------------------------------- thread runner
    def wake(self) -> None:
        """Run a pass now (e.g. right after a message was queued) instead of at the next tick."""
        self._wake.set()

    @contextmanager
    def running(self, interval_s: float = 1.0) -> Iterator[OutboxWorker]:
        """Deliver in a background thread every ``interval_s`` (and on :meth:`wake`) until the block ends."""
        self._stop.clear()
        if self._concurrency > 1:
            self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="outbox")
        thread = threading.Thread(target=self._loop, args=(interval_s,), name="outbox", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._wake.set()
            thread.join()
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _loop(self, interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                while self.deliver_due(self._clock()):
                    if self._stop.is_set():
                        return
            except Exception:  # the thread is a boundary like the router: log, keep delivering
                log.exception("outbox pass failed; retrying at the next tick")
            self._wake.wait(interval_s)
            self._wake.clear()
