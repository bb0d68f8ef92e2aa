"""LoginThrottle: back-off after repeated failures, per user and per address (no network)."""

from __future__ import annotations

import pytest

from evgrid.adapters.soap.security import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def throttle(clock: Clock, **options: float) -> LoginThrottle:
    settings = {"failures": 3, "window": 60.0, "backoff": 1.0, "max_backoff": 8.0, **options}
    return LoginThrottle(clock=clock, **settings)  # type: ignore[arg-type]


def test_defaults_are_sensible() -> None:
    default = LoginThrottle()
    assert default.failures == 5 and default.window == 60.0
    assert default.backoff == 1.0 and default.max_backoff == 300.0 and default.max_keys == 100_000


def test_blocked_after_n_failures_of_a_user_then_free_again(clock: Clock) -> None:
    gate = throttle(clock)
    for _ in range(2):
        gate.failed("mdm", "10.0.0.1")
        assert gate.retry_after("mdm", "10.0.0.1") is None
    gate.failed("mdm", "10.0.0.2")  # the third failure of the user, from another address
    assert gate.retry_after("mdm", "10.0.0.3") == pytest.approx(1.0)
    assert gate.retry_after("other", "10.0.0.3") is None
    clock.now += 1.0
    assert gate.retry_after("mdm", "10.0.0.3") is None


def test_blocked_after_n_failures_from_an_address_whatever_the_user(clock: Clock) -> None:
    gate = throttle(clock)
    for user in ("a", "b", "c"):
        gate.failed(user, "10.0.0.1")
    assert gate.retry_after("d", "10.0.0.1") == pytest.approx(1.0)
    assert gate.retry_after(None, "10.0.0.1") == pytest.approx(1.0)
    assert gate.retry_after("d", "10.0.0.2") is None


def test_the_back_off_doubles_up_to_its_maximum(clock: Clock) -> None:
    gate = throttle(clock)
    for _ in range(3):
        gate.failed("mdm", None)
    waits = []
    for _ in range(6):
        wait = gate.retry_after("mdm", None)
        assert wait is not None
        waits.append(wait)
        clock.now += wait
        gate.failed("mdm", None)  # a failure right after a back-off: blocked again, longer
    assert waits == pytest.approx([1.0, 2.0, 4.0, 8.0, 8.0, 8.0])


def test_failures_outside_the_window_are_forgotten(clock: Clock) -> None:
    gate = throttle(clock)
    for _ in range(5):
        gate.failed("mdm", "10.0.0.1")
        clock.now += 31.0
    assert gate.retry_after("mdm", "10.0.0.1") is None


def test_a_success_resets_the_user_but_not_the_address(clock: Clock) -> None:
    gate = throttle(clock)
    gate.failed("mdm", "10.0.0.1")
    gate.failed("mdm", "10.0.0.1")
    gate.succeeded("mdm", "10.0.0.1")
    gate.failed("mdm", "10.0.0.2")
    gate.failed("mdm", "10.0.0.2")
    assert gate.retry_after("mdm", "10.0.0.2") is None
    gate.failed("x", "10.0.0.1")  # the address's third failure
    assert gate.retry_after("y", "10.0.0.1") is not None


def test_memory_is_bounded_oldest_keys_evicted(clock: Clock) -> None:
    gate = throttle(clock, max_keys=10)
    for index in range(100):
        gate.failed(f"user-{index}", None)
        clock.now += 0.001
    assert len(gate) <= 10
    for _ in range(2):
        gate.failed("user-99", None)
    assert gate.retry_after("user-99", None) is not None


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        LoginThrottle(failures=0)
    with pytest.raises(ValueError):
        LoginThrottle(backoff=2.0, max_backoff=1.0)
