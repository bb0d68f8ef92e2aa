"""Dispatch at the assigned time: APScheduler 3, jobs in the database or in memory.

The only module that imports apscheduler. By default jobs live in the same database as
the sessions (SQLAlchemy job store), so a start planned before a crash is still there
after it.

- Stable ids: ``start:{session_id}`` and ``stop:{session_id}``, added with
  ``replace_existing=True``: re-planning a session replaces its jobs, never doubles
  them, and cancelling removes them by id, in O(1) whatever the number of jobs.
- Jobs are pickled by reference (``"evgrid.scheduler.jobs:fire"``) with plain string
  arguments; :func:`fire` hands them to the target this process registered.
- Misfire policy: a job missed while no scheduler ran (evgrid was down) still fires
  when the scheduler starts again, however late (``misfire_grace_time=None``), and only
  once (``coalesce=True``). The receiver decides what a late start means: the session
  may already be complete or its EV gone, and then the start is a no-op.
- Retry: a date job runs once, so a start that fails (the database away for a moment)
  would leave the EV waiting all night. A failed job is added again after 1, 2, 5, 10,
  30, then every 60 s (wall time) until its target runs it without an error; a job
  re-planned meanwhile wins over the retry. Running one twice is harmless: the
  receiver does nothing for a session already started or stopped, and scale-out
  workers are fenced.
- One scheduler process per database job store (APScheduler 3 does not coordinate
  several). Scale-out workers therefore each keep their jobs in memory
  (``Dispatcher(None, ...)``): the sessions table is the truth they rebuild them from,
  and a fence in the store makes every start and stop go out once.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

START = "start"
STOP = "stop"
JOB_TABLE = "apscheduler_jobs"
FIRE = "evgrid.scheduler.jobs:fire"
# The target of jobs in the database store: one such dispatcher per process.
PERSISTENT = "persistent"
# Seconds before the 1st, 2nd, ... retry of a failed job; the last repeats.
RETRY_DELAYS_S: tuple[float, ...] = (1, 2, 5, 10, 30, 60)


class DispatchTarget(Protocol):
    """What the fired jobs call: the application's start / stop of a session."""

    def start_session(self, session_id: str) -> None: ...

    def stop_session(self, session_id: str) -> None: ...


# Targets by key: jobs in the database carry no key (PERSISTENT); in-memory dispatchers
# (one per scale-out worker, several in one test process) each register their own.
_targets: dict[str, DispatchTarget] = {}
_target_lock = threading.Lock()
_keys = itertools.count(1)


def fire(action: str, session_id: str, key: str = PERSISTENT) -> None:
    """The job function APScheduler calls (by reference, so it survives a restart)."""
    with _target_lock:
        target = _targets.get(key)
    if target is None:
        raise RuntimeError("no dispatch target is registered in this process")
    if action == START:
        target.start_session(session_id)
    elif action == STOP:
        target.stop_session(session_id)
    else:
        raise ValueError(f"unknown dispatch action {action!r}")


def job_id(action: str, session_id: str) -> str:
    """The stable id of a session's start or stop job."""
    return f"{action}:{session_id}"


class Dispatcher:
    """Schedules start and stop jobs for sessions; a context manager around APScheduler.

    Args:
        database_url: the SQLAlchemy URL of the job store (evgrid's own database); None
            keeps the jobs in memory (a scale-out worker: see the module docstring).
        target: what fired jobs call in this process.
        to_wall: maps a (simulated) UTC instant to the wall-clock instant APScheduler
            waits for; identity in production, the accelerated clock in the demo.
        retry_delays: wall seconds before each retry of a failed job (the last repeats).
    """

    def __init__(self, database_url: str | None, target: DispatchTarget | None = None,
                 to_wall: Callable[[datetime], datetime] = lambda moment: moment,
                 retry_delays: Sequence[float] = RETRY_DELAYS_S) -> None:
        self.to_wall = to_wall
        self._target = target
        self._retry_delays = tuple(retry_delays)
        self._failures: dict[str, int] = {}  # job id -> failed runs in a row
        self._failures_lock = threading.Lock()
        store: BaseJobStore
        if database_url is None:
            store, self._key = MemoryJobStore(), f"memory-{next(_keys)}"
        else:
            store, self._key = SQLAlchemyJobStore(url=database_url, tablename=JOB_TABLE), PERSISTENT
        self._scheduler = BackgroundScheduler(
            jobstores={"default": store},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone="UTC",
        )
        self._scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        self._scheduler.add_listener(self._on_success, EVENT_JOB_EXECUTED)

    def bind(self, target: DispatchTarget) -> None:
        """Set what fired jobs call, when it is built after the dispatcher."""
        self._target = target

    def __enter__(self) -> Dispatcher:
        if self._target is None:
            raise RuntimeError("bind a dispatch target before starting the dispatcher")
        with _target_lock:
            _targets[self._key] = self._target
        self._scheduler.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # APScheduler 3 race: shutdown() marks the scheduler stopped before it waits for a
        # processing pass in progress, and that pass, removing a date job it just ran,
        # then finds no job store and raises in the scheduler thread. Pausing first and
        # waiting for the pass (get_job takes the same lock) lets it finish normally.
        self._scheduler.pause()
        self._scheduler.get_job(job_id(START, ""))
        self._scheduler.shutdown(wait=True)
        with _target_lock:
            _targets.pop(self._key, None)

    def schedule(self, session_id: str, start_utc: datetime, stop_utc: datetime | None) -> None:
        """Plan the start (and stop) of a session; replaces its previous jobs."""
        self._add(START, session_id, start_utc)
        if stop_utc is not None:
            self._add(STOP, session_id, stop_utc)
        else:
            self._remove(job_id(STOP, session_id))

    def cancel(self, session_id: str) -> None:
        """Remove the pending jobs of a session (by their ids: O(1))."""
        for action in (START, STOP):
            self._remove(job_id(action, session_id))

    def pending(self) -> list[str]:
        """Ids of the jobs not yet fired."""
        return sorted(job.id for job in self._scheduler.get_jobs())

    def _add(self, action: str, session_id: str, at_utc: datetime) -> None:
        self._scheduler.add_job(
            FIRE, trigger="date", run_date=self.to_wall(at_utc), args=self._args(action, session_id),
            id=job_id(action, session_id), replace_existing=True,
        )

    def _args(self, action: str, session_id: str) -> list[str]:
        # Jobs in the database keep the two arguments older evgrid versions stored.
        return [action, session_id] if self._key == PERSISTENT else [action, session_id, self._key]

    def _remove(self, job: str) -> None:
        # Fired already, or never scheduled: nothing to remove, and that is fine.
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(job)

    def _on_error(self, event: JobExecutionEvent) -> None:
        # Usually in the executor's thread, after the job left the store (a date job runs once).
        with self._failures_lock:
            failures = self._failures[event.job_id] = self._failures.get(event.job_id, 0) + 1
        delay = self._retry_delays[min(failures, len(self._retry_delays)) - 1]
        # APScheduler logs the traceback itself; say which session it was about.
        log.error("dispatch job %s failed (%d in a row), retrying in %s s: %s",
                  event.job_id, failures, delay, event.exception)
        run_date = datetime.now(UTC) + timedelta(seconds=delay)
        failed = self._scheduler.get_job(event.job_id)
        if failed is not None and failed.next_run_time == event.scheduled_run_time:
            # A job that fails at once is reported in the scheduler's own thread, inside the
            # pass that submitted it and before that pass removes it (under the job stores'
            # lock, which this thread holds). Added now, the retry would be refused (the id
            # is taken) or removed with the job: add it once the pass is over, from a thread
            # that waits for the lock.
            threading.Thread(target=self._retry, args=(event.job_id, run_date), name="dispatch-retry",
                             daemon=True).start()
            return
        self._retry(event.job_id, run_date)

    def _retry(self, job: str, run_date: datetime) -> None:
        action, _, session_id = job.partition(":")
        try:
            # The failed job has left the store by now: the scheduler removes it right after
            # submitting it, under the job stores' lock, which add_job waits for. So an id
            # taken here is a re-plan since the failure, the newer word: not replaced.
            self._scheduler.add_job(FIRE, trigger="date", run_date=run_date, args=self._args(action, session_id),
                                    id=job, replace_existing=False)
        except ConflictingIdError:
            pass
        except Exception as error:  # the job store is away too (a database one)
            # A database job store keeps nothing we could not add; the next start of the
            # dispatcher (pending_dispatch) or a lease change schedules the session again.
            log.error("dispatch job %s could not be retried: %s", job, error)

    def _on_success(self, event: JobExecutionEvent) -> None:
        with self._failures_lock:
            self._failures.pop(event.job_id, None)
