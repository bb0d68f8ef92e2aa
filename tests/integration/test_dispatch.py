"""Dispatch survives faults: a killed dispatcher (jobs in the SQLAlchemy job store), a database away.

No fixed waits: each test waits for what it needs (a line from the worker, the clock past a
job's time, the jobs fired, the dispatcher done with a run), within a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, make_url, select
from sqlalchemy.exc import OperationalError

from evgrid.adapters.store import models as m
from evgrid.adapters.store.testing import scratch_schema
from evgrid.apps.evos.system import OperationSystem, operation_system
from evgrid.scheduler.jobs import Dispatcher, job_id
from evgrid.scheduler.partitions import RollingHorizon
from tests.integration.conftest import seed_store
from tests.integration.test_operation_system import NIGHT, Clock, request_message, result
from tests.integration.workers import Relay, wait_for
from tests.unit.scheduler.test_jobs import Watched

# plan LEAD_S: plan S-1 and S-2 to start LEAD_S from now and stop a second later, say when,
# and die at once (SIGKILL, no clean shutdown) long before they are due. resume: run the
# jobs in the store until stdin closes, then stop cleanly and say what is still pending.
WORKER = textwrap.dedent("""
    import os, signal, sys
    from datetime import datetime, timedelta, UTC
    from evgrid.scheduler.jobs import Dispatcher

    class FileTarget:
        def __init__(self, path): self.path = path
        def start_session(self, sid): self._write("start " + sid)
        def stop_session(self, sid): self._write("stop " + sid)
        def _write(self, line):
            with open(self.path, "a") as f:
                f.write(line + "\\n")

    url, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    with Dispatcher(url, FileTarget(out)) as dispatcher:
        if mode == "plan":
            at = datetime.now(UTC) + timedelta(seconds=float(sys.argv[4]))
            for sid in ("S-1", "S-2"):
                dispatcher.schedule(sid, at, at + timedelta(seconds=1))
                dispatcher.schedule(sid, at, at + timedelta(seconds=1))  # re-plan: same ids
            print("planned", at.isoformat(), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        sys.stdin.read()
        print("pending", *dispatcher.pending(), flush=True)
""")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start_session(self, session_id: str) -> None:
        self.calls.append(f"start {session_id}")

    def stop_session(self, session_id: str) -> None:
        self.calls.append(f"stop {session_id}")


def test_replanning_replaces_jobs_and_cancel_removes_them(tmp_path: Path) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    with Dispatcher(f"sqlite:///{tmp_path / 'jobs.db'}", Recorder()) as dispatcher:
        dispatcher.schedule("S-1", start, start + timedelta(hours=2))
        dispatcher.schedule("S-1", start, start + timedelta(hours=2))
        assert dispatcher.pending() == [job_id("start", "S-1"), job_id("stop", "S-1")]
        later = start + timedelta(minutes=15)
        dispatcher.schedule("S-1", later, None)  # re-planned without a stop: the old stop goes
        assert dispatcher.pending() == [job_id("start", "S-1")]
        dispatcher.cancel("S-1")
        dispatcher.cancel("S-1")  # nothing left to cancel: no error
        assert dispatcher.pending() == []


def test_pending_starts_fire_after_the_dispatcher_is_killed_and_restarted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    out = tmp_path / "fired.txt"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    # The worker times the jobs once it is up (2 s ahead) and kills itself right after
    # planning them: killed before any job is due, however slowly it started.
    first = subprocess.Popen([sys.executable, "-c", WORKER, url, str(out), "plan", "2"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, env=env)
    try:
        said, _ = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL and said.split()[0] == "planned"
    assert not out.exists()

    last_due = datetime.fromisoformat(said.split()[1]) + timedelta(seconds=1)  # the stops
    wait_for(lambda: datetime.now(UTC) > last_due, 30, "both jobs of each session overdue")
    second = subprocess.Popen([sys.executable, "-c", WORKER, url, str(out), "resume"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        expected = ["start S-1", "start S-2", "stop S-1", "stop S-2"]
        wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= len(expected), 30,
                 "the four overdue jobs fired")
        # Stopped cleanly (the shutdown waits for a job still running): nothing more may arrive.
        said, _ = second.communicate(timeout=30)
    finally:
        if second.poll() is None:
            second.kill()
            second.communicate(timeout=30)
    assert second.returncode == 0 and said.split() == ["pending"]  # nothing left to fire again
    assert sorted(out.read_text().splitlines()) == expected  # each job fired once


@pytest.mark.postgres
def test_a_start_that_fires_while_the_database_is_away_goes_out_once_it_is_back(
        database_url: str, examples: Path, caplog: pytest.LogCaptureFixture) -> None:
    with scratch_schema(database_url) as url:
        seed_store(url, examples)
        target = make_url(url)
        relay = Relay((target.host or "127.0.0.1", target.port or 5432))
        through = target.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
        system = operation_system(through, horizon=RollingHorizon(NIGHT), clock=Clock())
        # Jobs fire the moment they are scheduled; retries come after 0.2 s.
        dispatcher = Watched(None, system, to_wall=lambda _: datetime.now(UTC), retry_delays=(0.2,))
        try:
            assert result(system.router.handle(request_message("EV-1001", "S-1001", "C-1001", "UP-1001")))[0] == "OK"
            (session_id, start, _stop) = system.pending_dispatch()[0]
            with dispatcher:
                relay.cut()
                dispatcher.schedule(session_id, start, None)
                wait_for(lambda: f"dispatch job start:{session_id} failed (2 in a row)" in caplog.text, 30,
                         "the start failed twice")
                assert start_orders(system) is None  # still away: nothing to count, nothing sent
                relay.restore()
                wait_for(lambda: start_orders(system) == 1, 30, "the start order queued")
                # Done with the successful run: had it been retried, the retry would be pending now.
                assert dispatcher.wait_until(lambda: dispatcher.succeeded == 1, 30)
                assert start_orders(system) == 1 and dispatcher.pending() == []  # the success ended the retries
        finally:
            system.close()
            relay.close()


def start_orders(system: OperationSystem) -> int | None:
    """The EndDeviceControls queued for the portal; None while the database cannot say."""
    try:
        with system.sessions() as db:  # type: ignore[operator]
            return db.scalar(select(func.count()).select_from(m.OutboxMessage)
                             .where(m.OutboxMessage.noun == "EndDeviceControls"))
    except OperationalError:
        return None
