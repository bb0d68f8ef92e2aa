"""Dispatch survives a kill: jobs in the SQLAlchemy job store fire after a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evgrid.scheduler.jobs import Dispatcher, job_id

WORKER = textwrap.dedent("""
    import sys, time
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
            at = datetime.fromisoformat(sys.argv[4])
            for sid in ("S-1", "S-2"):
                dispatcher.schedule(sid, at, at + timedelta(seconds=1))
                dispatcher.schedule(sid, at, at + timedelta(seconds=1))  # re-plan: same ids
            print("planned", flush=True)
        time.sleep(3600)
""")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start_session(self, session_id: str) -> None:
        self.calls.append(f"start {session_id}")

    def stop_session(self, session_id: str) -> None:
        self.calls.append(f"stop {session_id}")


def _wait_for(predicate, seconds: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


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
    at = datetime.now(UTC) + timedelta(seconds=2)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    first = subprocess.Popen([sys.executable, "-c", WORKER, url, str(out), "plan", at.isoformat()],
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "planned"
    finally:
        first.send_signal(signal.SIGKILL)  # before any job is due
        first.wait(timeout=30)
        first.stdout.close()
    assert not out.exists()

    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 1.5)  # both jobs are now overdue
    second = subprocess.Popen([sys.executable, "-c", WORKER, url, str(out), "resume"], env=env)
    try:
        expected = ["start S-1", "start S-2", "stop S-1", "stop S-2"]
        assert _wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= len(expected), 30)
    finally:
        second.terminate()
        second.wait(timeout=30)
    time.sleep(0.5)  # nothing more may arrive: each job fires once
    assert sorted(out.read_text().splitlines()) == expected
