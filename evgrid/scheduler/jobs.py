"""Dispatch at the assigned time: APScheduler 3 with its SQLAlchemy job store.

The only module that imports apscheduler. Jobs live in the same database as the
sessions, so a start planned before a crash is still there after it.

- Stable ids: ``start:{session_id}:{start:%Y%m%dT%H%MZ}`` and ``stop:...``, added with
  ``replace_existing=True``: re-planning a session replaces its jobs, never doubles them.
- Jobs are pickled by reference (``"evgrid.scheduler.jobs:fire"``) with plain string
  arguments; :func:`fire` hands them to the target this process registered.
- Misfire policy: a job missed while no scheduler ran (evgrid was down) still fires
  when the scheduler starts again, however late (``misfire_grace_time=None``), and only
  once (``coalesce=True``). The receiver decides what a late start means: the session
  may already be complete or its EV gone, and then the start is a no-op.
- One scheduler process per job store (APScheduler 3 does not coordinate several).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

START = "start"
STOP = "stop"
JOB_TABLE = "apscheduler_jobs"
FIRE = "evgrid.scheduler.jobs:fire"


class DispatchTarget(Protocol):
    """What the fired jobs call: the application's start / stop of a session."""

    def start_session(self, session_id: str) -> None: ...

    def stop_session(self, session_id: str) -> None: ...


_target: DispatchTarget | None = None
_target_lock = threading.Lock()


def fire(action: str, session_id: str) -> None:
    """The job function APScheduler calls (by reference, so it survives a restart)."""
    with _target_lock:
        target = _target
    if target is None:
        raise RuntimeError("no dispatch target is registered in this process")
    if action == START:
        target.start_session(session_id)
    elif action == STOP:
        target.stop_session(session_id)
    else:
        raise ValueError(f"unknown dispatch action {action!r}")


def job_id(action: str, session_id: str, at_utc: datetime) -> str:
    """The stable id of a start or stop job."""
    return f"{action}:{session_id}:{at_utc:%Y%m%dT%H%MZ}"


class Dispatcher:
    """Schedules start and stop jobs for sessions; a context manager around APScheduler.

    Args:
        database_url: the SQLAlchemy URL of the job store (evgrid's own database).
        target: what fired jobs call in this process.
        to_wall: maps a (simulated) UTC instant to the wall-clock instant APScheduler
            waits for; identity in production, the accelerated clock in the demo.
    """

    def __init__(self, database_url: str, target: DispatchTarget | None = None,
                 to_wall: Callable[[datetime], datetime] = lambda moment: moment) -> None:
        self.to_wall = to_wall
        self._target = target
        self._scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=database_url, tablename=JOB_TABLE)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone="UTC",
        )
        self._scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)

    def bind(self, target: DispatchTarget) -> None:
        """Set what fired jobs call, when it is built after the dispatcher."""
        self._target = target

    def __enter__(self) -> Dispatcher:
        global _target
        if self._target is None:
            raise RuntimeError("bind a dispatch target before starting the dispatcher")
        with _target_lock:
            _target = self._target
        self._scheduler.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        global _target
        self._scheduler.shutdown(wait=True)
        with _target_lock:
            _target = None

    def schedule(self, session_id: str, start_utc: datetime, stop_utc: datetime | None) -> None:
        """Plan the start (and stop) of a session; replaces its previous jobs."""
        self.cancel(session_id)
        self._add(START, session_id, start_utc)
        if stop_utc is not None:
            self._add(STOP, session_id, stop_utc)

    def cancel(self, session_id: str) -> None:
        """Remove every pending job of a session."""
        for job in self._scheduler.get_jobs():
            if job.args[1] == session_id:
                job.remove()

    def pending(self) -> list[str]:
        """Ids of the jobs not yet fired."""
        return sorted(job.id for job in self._scheduler.get_jobs())

    def _add(self, action: str, session_id: str, at_utc: datetime) -> None:
        self._scheduler.add_job(
            FIRE, trigger="date", run_date=self.to_wall(at_utc), args=[action, session_id],
            id=job_id(action, session_id, at_utc), replace_existing=True,
        )

    @staticmethod
    def _on_error(event: JobExecutionEvent) -> None:
        # APScheduler logs the traceback itself; say which session it was about.
        log.error("dispatch job %s failed: %s", event.job_id, event.exception)
