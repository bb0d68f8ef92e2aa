"""The portal host's two threads besides the MMS I/O thread and the SOAP server's.

- :class:`Events` applies station reports and connection changes to the portals, in the
  order they came; the I/O thread only queues them, because portals wait for the I/O
  thread (every MMS call is handed to it) and it must never wait for a portal.
- :class:`SlotBoundaries` reads the meters and writes the allotted power at every
  15-minute boundary, on its own thread so that a burst of reports never delays a boundary.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from evgrid.errors import AdapterError
from evgrid.operations.metering import INTERVAL, floor_interval
from evgrid.operations.ports import Clock

log = logging.getLogger(__name__)

SLOT = timedelta(minutes=15)


class Events:
    """The events thread: reports and connection changes, in the order they came."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="portal-events", daemon=True)

    def post(self, work: Callable[[], None]) -> None:
        self._queue.put(work)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while (work := self._queue.get()) is not None:
            _guarded(work)


class SlotBoundaries:
    """A thread that wakes at every 15-minute boundary (and each second) to read the meters and write the power.

    It wakes at the slots' boundaries (counted from ``origin``) and at the metering
    intervals' (multiples of 15 minutes UTC), which differ only for an origin off the
    quarter hour: a boundary read is stamped with its boundary, so it must be taken then.
    Apart from the events thread, so that a burst of reports never delays a boundary.
    """

    def __init__(self, apply: Callable[[], None], clock: Clock, origin: datetime) -> None:
        self._apply = apply
        self._clock = clock
        self._origin = origin
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="portal-slots", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _wall_seconds_to_next(self) -> float:
        now = self._clock.now()
        boundary = min(self._origin + ((now - self._origin) // SLOT + 1) * SLOT, floor_interval(now) + INTERVAL)
        to_wall = getattr(self._clock, "wall_seconds", lambda seconds: seconds)
        return max(to_wall((boundary - now).total_seconds()), 0.0)

    def _run(self) -> None:
        while not self._stop.wait(min(self._wall_seconds_to_next() + 0.001, 1.0)):
            _guarded(self._apply)


def _guarded(work: Callable[[], None]) -> None:
    try:
        work()
    except AdapterError as error:  # a device that failed: logged, the next report or boundary retries
        log.warning("portal event failed: %s %s", error.code, error.reason)
    except Exception:  # the threads are a boundary: keep serving the other sites
        log.exception("portal event failed")
