"""Child processes: start one, wait for its ``ready`` line, stop, kill, start again.

Every long-running evgrid command (``evgrid serve``, ``evgrid sim billing``, ``evgrid ied
serve``, ``evgrid portal serve``) prints one line ``ready key=value ...`` on stdout once
it serves, and logs to stderr. A :class:`Service` runs one of them with its stderr (and
the rest of stdout) in a log file, so that a failed demo leaves evidence behind. The
demo runs its whole plant with them; ``evgrid serve`` its gateways' portal hosts
(:mod:`evgrid.apps.portal.gateways`).
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from evgrid.errors import ServiceFailed

READY = "ready "


def free_port() -> int:
    """A TCP port free on the loopback interface now (for servers that need one given)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def first_line(process: subprocess.Popen[bytes], timeout_s: float) -> str:
    """The first line ``process`` writes to its piped (binary) stdout within ``timeout_s``; "" if none.

    No reader thread and no read past the deadline: a child that never prints (it hangs,
    or died early) must not hang its caller. Waiting for a ``ready`` line starts here.
    """
    assert process.stdout is not None
    deadline, buffered = time.monotonic() + timeout_s, b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffered and time.monotonic() < deadline:
            if selector.select(deadline - time.monotonic()):
                chunk = process.stdout.read1(4096)  # type: ignore[attr-defined]
                if not chunk:
                    break
                buffered += chunk
    return buffered.decode(errors="replace").partition("\n")[0]


def evgrid_command(*arguments: str) -> list[str]:
    """``python -m evgrid ARGS`` with this interpreter."""
    return [sys.executable, "-m", "evgrid", *arguments]


class Service:
    """One child process with a name, its command line and a log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, *, ready_timeout_s: float = 120.0) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s
        self.ready: dict[str, str] = {}
        self.starts = 0
        self._process: subprocess.Popen[str] | None = None
        self._log = None

    @property
    def pid(self) -> int | None:
        """The process id of the current (or last) run."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """The process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> dict[str, str]:
        """Start and wait for the ``ready`` line; returns its key=value pairs."""
        self._log = self.log_path.open("a", encoding="utf-8")
        self._log.write(f"--- start {self.starts + 1}: {' '.join(self.argv)}\n")
        self._log.flush()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env,
                                         start_new_session=True)
        self.starts += 1
        line = self._wait_ready(self._process)
        self.ready = dict(part.split("=", 1) for part in line[len(READY):].split() if "=" in part)
        threading.Thread(target=self._drain, args=(self._process,), name=f"{self.name}-stdout", daemon=True).start()
        return self.ready

    def _wait_ready(self, process: subprocess.Popen[str]) -> str:
        assert process.stdout is not None
        found: list[str] = []

        def read() -> None:
            for line in process.stdout:  # type: ignore[union-attr]
                if line.startswith(READY):
                    found.append(line.strip())
                    return
                self._write(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.ready_timeout_s)
        if not found:
            self.kill()
            raise ServiceFailed(f"{self.name} did not get ready in {self.ready_timeout_s:.0f} s "
                                f"(exit code {process.poll()}); see {self.log_path}")
        return found[0]

    def _drain(self, process: subprocess.Popen[str]) -> None:
        for line in process.stdout or ():
            self._write(line)

    def _write(self, line: str) -> None:
        log = self._log
        if log is not None and not log.closed:
            log.write(line)
            log.flush()

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM (in-flight work finishes), then SIGKILL after ``timeout_s``; returns the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return self._closed(process)

    def kill(self) -> int | None:
        """SIGKILL: the process dies at once, whatever it was doing (a fault to recover from)."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.kill()
            process.wait()
        return self._closed(process)

    def _closed(self, process: subprocess.Popen[str]) -> int | None:
        time.sleep(0.05)  # let the stdout drain catch the last lines
        if process.stdout is not None:
            process.stdout.close()
        if self._log is not None and not self._log.closed:  # stopping twice is harmless
            self._log.write(f"--- exit {process.returncode}\n")
            self._log.close()
        return process.returncode
