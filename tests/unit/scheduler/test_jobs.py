"""The dispatcher's jobs in memory: stable ids, cancel by id, one target per dispatcher.

No test waits a fixed time: each waits for what it needs to have happened (a job fired,
the dispatcher done with a job's outcome, a later job fired), with a generous deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from evgrid.scheduler.jobs import Dispatcher, job_id

WAIT_S = 10  # a deadline, never a delay: met as soon as the condition holds


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


class Watched(Dispatcher):
    """A dispatcher that counts the job outcomes it has handled, for tests to wait on.

    APScheduler calls the dispatcher's listeners in the executor's thread once a job has
    returned or raised. When a run's outcome is counted here, the dispatcher is done with
    it: the retry of a failed run is in the store, and a successful run has none.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.failed = self.succeeded = 0
        self._outcome = threading.Condition()
        super().__init__(*args, **kwargs)

    def _on_error(self, event: Any) -> None:
        super()._on_error(event)
        with self._outcome:
            self.failed += 1
            self._outcome.notify_all()

    def _on_success(self, event: Any) -> None:
        super()._on_success(event)
        with self._outcome:
            self.succeeded += 1
            self._outcome.notify_all()

    def wait_until(self, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
        """Wait until ``condition()`` (of the counts) holds; False at the deadline."""
        with self._outcome:
            return self._outcome.wait_for(condition, timeout_s)


def eventually(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    """Poll ``condition()`` every 5 ms until it holds; False at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class Beside:
    """A dispatch target that hands one session to ``other`` and the rest to ``target``."""

    def __init__(self, target: Recorder, session_id: str, other: Recorder) -> None:
        self.target, self.session_id, self.other = target, session_id, other

    def start_session(self, session_id: str) -> None:
        (self.other if session_id == self.session_id else self.target).start_session(session_id)

    def stop_session(self, session_id: str) -> None:
        (self.other if session_id == self.session_id else self.target).stop_session(session_id)


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
    with Watched(None, target, retry_delays=(0.05, 0.1)) as dispatcher:
        dispatcher.schedule("S-1", datetime.now(UTC), None)
        assert target.fired.wait(WAIT_S)
        # The dispatcher is done with the successful run: had it been retried, the retry would be pending now.
        assert dispatcher.wait_until(lambda: dispatcher.succeeded == 1)
        assert dispatcher.pending() == []  # a success ends the retries: nothing more fires
    assert (dispatcher.failed, dispatcher.succeeded) == (3, 1)
    assert target.attempts == 4 and target.calls == ["start S-1"]


def test_a_job_planned_again_after_a_failure_wins_over_the_retry() -> None:
    target, marker = FailsAtFirst(failures=1), Recorder()
    retry_s = 0.5
    later = datetime.now(UTC) + timedelta(hours=1)
    with Watched(None, Beside(target, "S-MARK", marker), retry_delays=(retry_s,)) as dispatcher:
        dispatcher.schedule("S-1", datetime.now(UTC), None)
        assert dispatcher.wait_until(lambda: dispatcher.failed == 1) and target.attempts == 1
        # The retry is in place (a job that failed at once gets it just after the
        # scheduler's pass that ran it: see Dispatcher._on_error).
        assert eventually(lambda: dispatcher.pending() == [job_id("start", "S-1")])
        retry_by = datetime.now(UTC) + timedelta(seconds=retry_s)  # it was added before now
        dispatcher.schedule("S-1", later, None)  # re-planned: the new time replaces the retry
        # A marker job due after the retry was: once it fired, the scheduler has run (or
        # would have run) everything due before it, the retry included.
        dispatcher.schedule("S-MARK", retry_by + timedelta(milliseconds=1), None)
        assert marker.fired.wait(WAIT_S)
        assert target.attempts == 1 and target.calls == []
        assert dispatcher.pending() == [job_id("start", "S-1")]
    assert target.attempts == 1 and target.calls == []  # nor in a run the shutdown waited for
    assert (dispatcher.failed, dispatcher.succeeded) == (1, 1) and marker.calls == ["start S-MARK"]
