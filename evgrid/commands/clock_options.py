"""The simulated-clock options shared by ``evgrid ied serve``, ``evgrid serve`` and the portals.

``--speed X --start ISO8601 --epoch UNIX_SECONDS``: simulated time is
``start + (time.time() - epoch) * speed`` (:class:`~evgrid.clock.AcceleratedClock`).
Processes given the same three values share one timeline; ``evgrid demo`` passes them to
every process it starts. Without ``--epoch`` each process's timeline begins when it starts.
"""

from __future__ import annotations

import argparse
import math
from datetime import datetime

from evgrid.clock import AcceleratedClock


def add_clock_options(parser: argparse.ArgumentParser, *, speed_help: str | None = None) -> None:
    """Add ``--speed``, ``--start`` and ``--epoch`` (all optional: none of them means real time)."""
    parser.add_argument("--speed", type=_positive, metavar="X",
                        help=speed_help or "simulated seconds per wall second (default 1)")
    parser.add_argument("--start", type=aware_time, metavar="ISO8601",
                        help="simulated time at --epoch (without one: when this process starts), ISO 8601 with "
                             "a UTC offset (default: that wall time itself)")
    parser.add_argument("--epoch", type=_unix_time, metavar="UNIX_SECONDS",
                        help="wall time (Unix seconds) at which simulated time is --start; processes given the "
                             "same --speed/--start/--epoch share one timeline (default: when this process starts)")


def clock_from(args: argparse.Namespace) -> AcceleratedClock | None:
    """The accelerated clock the options describe, or None when none was given (real time)."""
    if args.speed is None and args.start is None and args.epoch is None:
        return None
    return AcceleratedClock(args.speed if args.speed is not None else 1.0, args.start, epoch=args.epoch)


def aware_time(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset (argparse type)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset")
    return moment


def _positive(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the speed must be positive, not {text}")
    return value


def _unix_time(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"an epoch is Unix seconds since 1970, not {text}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value
