"""The dispatcher's jobs in memory: stable ids, cancel by id, one target per dispatcher."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from evgrid.scheduler.jobs import Dispatcher, job_id


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fired = threading.Event()

    def start_session(self, session_id: str) -> None:
        self.calls.append(f"start {session_id}")
        self.fired.set()

    def stop_session(self, session_id: str) -> None:
        self.calls.append(f"stop {session_id}")
        self.fired.set()


def test_memory_dispatcher_replaces_and_cancels_jobs_by_their_stable_ids() -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    with Dispatcher(None, Recorder()) as dispatcher:
        for _ in range(3):
            dispatcher.schedule("S-1", later, later + timedelta(hours=1))
        dispatcher.schedule("S-2", later, None)
        assert dispatcher.pending() == sorted([job_id("start", "S-1"), job_id("stop", "S-1"), job_id("start", "S-2")])
        dispatcher.cancel("S-1")
        dispatcher.cancel("S-404")  # never scheduled: nothing happens
        assert dispatcher.pending() == [job_id("start", "S-2")]


def test_cancel_costs_the_same_however_many_jobs_are_pending() -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    with Dispatcher(None, Recorder()) as dispatcher:
        for index in range(2000):
            dispatcher.schedule(f"S-{index}", later, later + timedelta(hours=1))
        began = time.perf_counter()
        for index in range(0, 2000, 2):
            dispatcher.cancel(f"S-{index}")
        elapsed = time.perf_counter() - began
        assert len(dispatcher.pending()) == 2000
    # 1,000 cancels among 4,000 jobs: by id they take milliseconds; loading every job per
    # cancel (as before) took seconds.
    assert elapsed < 1.0


def test_two_memory_dispatchers_in_one_process_each_fire_their_own_target() -> None:
    first, second = Recorder(), Recorder()
    now = datetime.now(UTC)
    with Dispatcher(None, first) as a, Dispatcher(None, second) as b:
        a.schedule("S-A", now, None)
        b.schedule("S-B", now, None)
        assert first.fired.wait(10) and second.fired.wait(10)
    assert first.calls == ["start S-A"] and second.calls == ["start S-B"]


class FailsAtFirst(Recorder):
    """A target whose store is away for its first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def start_session(self, session_id: str) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError("database unavailable")
        super().start_session(session_id)


def test_a_job_that_fails_is_retried_until_it_runs() -> None:
    target = FailsAtFirst(failures=3)
    with Dispatcher(None, target, retry_delays=(0.05, 0.1)) as dispatcher:
        dispatcher.schedule("S-1", datetime.now(UTC), None)
        assert target.fired.wait(10)
        time.sleep(0.3)  # a success ends the retries: nothing more fires
        assert dispatcher.pending() == []
    assert target.attempts == 4 and target.calls == ["start S-1"]


def test_a_job_planned_again_after_a_failure_wins_over_the_retry() -> None:
    target = FailsAtFirst(failures=1)
    later = datetime.now(UTC) + timedelta(hours=1)
    with Dispatcher(None, target, retry_delays=(0.5,)) as dispatcher:
        dispatcher.schedule("S-1", datetime.now(UTC), None)
        deadline = time.monotonic() + 10
        while target.attempts == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # the retry is in place
        dispatcher.schedule("S-1", later, None)  # re-planned: the new time replaces the retry
        time.sleep(0.8)
        assert target.attempts == 1 and target.calls == []
        assert dispatcher.pending() == [job_id("start", "S-1")]
