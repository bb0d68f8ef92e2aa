"""The I/O thread every client call goes through: hand-off, inline calls, order, timeouts."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from evgrid.adapters.iec61850.iothread import IoThread
from evgrid.errors import DeviceUnreachable


@pytest.fixture
def io() -> Iterator[IoThread]:
    thread = IoThread("test-io", idle_s=0.05, on_idle=lambda now: None)
    thread.start()
    yield thread
    thread.stop()


def test_call_runs_on_the_io_thread_and_returns_its_result(io: IoThread) -> None:
    assert not io.on_thread
    assert io.call(lambda: (threading.current_thread().name, io.on_thread), 5.0, "ied") == ("test-io", True)


def test_a_call_made_on_the_io_thread_runs_inline(io: IoThread) -> None:
    # Queued, the inner call would wait for the thread that waits for it.
    def outer() -> list[str]:
        return [io.call(lambda: threading.current_thread().name, 0.5, "ied") for _ in range(3)]

    assert io.call(outer, 5.0, "ied") == ["test-io"] * 3


def test_the_callers_exception_is_raised_in_the_caller(io: IoThread) -> None:
    def fail() -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError, match="nope"):
        io.call(fail, 5.0, "ied")
    assert io.call(lambda: 42, 5.0, "ied") == 42  # the thread lives on


def test_a_call_that_does_not_finish_in_time_is_unreachable(io: IoThread) -> None:
    release = threading.Event()
    with pytest.raises(DeviceUnreachable, match=r"ied: no answer within 0\.1 s"):
        io.call(lambda: release.wait(5.0), 0.1, "ied")
    release.set()
    assert io.call(lambda: "after", 5.0, "ied") == "after"


def test_posted_work_runs_in_order_with_calls(io: IoThread) -> None:
    order: list[int] = []
    io.post(lambda: order.append(1))
    io.call(lambda: order.append(2), 5.0, "ied")
    io.post(lambda: order.append(3))
    assert io.call(lambda: list(order), 5.0, "ied") == [1, 2, 3]


def test_failing_posted_work_does_not_stop_the_thread(io: IoThread, caplog: pytest.LogCaptureFixture) -> None:
    def fail() -> None:
        raise RuntimeError("callback bug")

    io.post(fail)
    assert io.call(lambda: "alive", 5.0, "ied") == "alive"
    assert "work posted to test-io failed" in caplog.text


def test_idle_time_runs_the_housekeeping() -> None:
    idle = threading.Event()
    thread = IoThread("idle-io", idle_s=0.01, on_idle=lambda now: idle.set())
    thread.start()
    try:
        assert idle.wait(5.0)
    finally:
        thread.stop()


def test_calls_before_start_and_after_stop_are_refused() -> None:
    thread = IoThread("stopped-io", idle_s=0.05, on_idle=lambda now: None)
    with pytest.raises(DeviceUnreachable, match="not started"):
        thread.call(lambda: None, 1.0, "ied")
    thread.start()
    thread.stop()
    assert not thread.running and not thread.on_thread
    with pytest.raises(DeviceUnreachable, match="not started"):
        thread.call(lambda: None, 1.0, "ied")
