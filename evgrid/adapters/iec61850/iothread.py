"""The single thread through which a client makes every call into the binding.

Callers on any thread hand a function to :meth:`IoThread.call` and wait for its result
with a timeout; work posted with :meth:`IoThread.post` (report delivery) runs in order
with the calls. When the queue stays empty for ``idle_s`` the thread runs ``on_idle``
(connection checks, reconnects). A call made *on* the I/O thread (from a report
callback, or inside work handed over as a whole) runs inline instead of queueing
behind itself: that is the cheap way to make many calls (``IedClient.run``).

What a hand-off costs, measured on the 2-vCPU VM of benchmarks/bench_iec61850.py
(Python 3.11): a thread round trip takes 45-65 us of wall time and 30-45 us of CPU
whatever the primitive - per-call Lock, pre-allocated lock pair, two SimpleQueues, a
pipe or an eventfd all land within the noise of each other - and 16 us when both
threads are pinned to one CPU. Each side sleeps exactly once per call (counted with
getrusage), so there is no GIL ping-pong to remove: the cost is the cross-CPU wake-up
of a sleeping thread, twice per call. The caller sleeps while it waits, so nobody
holds the GIL the I/O thread wants, and a shorter ``sys.setswitchinterval`` changed
nothing (it matters only when another thread is CPU-bound, and it is process-wide, so
a library does not set it). Pinning threads to a CPU, or letting the I/O thread spin
for the next call (measured: about +15 % cross-thread reads/s), would take CPU from
the application and the IEDs, so the hand-off stays a plain queue and lock, and
throughput comes from doing the work on this thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from evgrid.errors import DeviceUnreachable

log = logging.getLogger(__name__)
T = TypeVar("T")
_STOP = object()


class _Job:
    """A call for the I/O thread; ``done`` is released when it finished."""

    __slots__ = ("done", "error", "fn", "result")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None
        # A fresh lock per call: reusing one per caller thread saves nothing measurable
        # (see the module docstring) and a late answer to a timed-out call could
        # release a reused lock for the next call.
        self.done = threading.Lock()
        self.done.acquire()


class IoThread:
    """Runs calls and posted work in submission order on one daemon thread."""

    def __init__(self, name: str, *, idle_s: float, on_idle: Callable[[float], None]) -> None:
        self.name = name
        self.idle_s = idle_s
        self._on_idle = on_idle
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ident: int | None = None

    @property
    def on_thread(self) -> bool:
        """True when the caller runs on this I/O thread (its calls run inline)."""
        return threading.get_ident() == self._ident

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Let queued work finish, then end the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=timeout_s)
            self._thread = None

    def call(self, fn: Callable[[], T], timeout_s: float, what: str) -> T:
        """Run ``fn`` on the I/O thread and return its result (or raise its exception)."""
        if threading.get_ident() == self._ident:
            return fn()
        if self._thread is None:
            raise DeviceUnreachable(f"{what}: client not started (call connect)")
        job = _Job(fn)
        self._queue.put(job)
        if not job.done.acquire(timeout=timeout_s):
            raise DeviceUnreachable(f"{what}: no answer within {timeout_s:.1f} s")
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    def post(self, work: Callable[[], None]) -> None:
        """Queue ``work`` without waiting (safe from any thread, the library's included)."""
        self._queue.put(work)

    def _run(self) -> None:
        self._ident = threading.get_ident()
        try:
            self._serve()
        finally:
            # Thread idents are reused: a later thread must not pass for this one.
            self._ident = None

    def _serve(self) -> None:
        next_idle = 0.0
        while True:
            try:
                item = self._queue.get(timeout=self.idle_s)
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            if isinstance(item, _Job):
                try:
                    item.result = item.fn()
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    item.error = exc
                item.done.release()
            elif item is not None:
                try:
                    item()
                except Exception:  # callback boundary: posted work must not stop the thread
                    log.exception("work posted to %s failed", self.name)
            # Housekeeping belongs to idle time; errors of calls reveal a lost link anyway.
            now = time.monotonic()
            if item is None or now >= next_idle:
                next_idle = now + self.idle_s
                self._on_idle(now)
