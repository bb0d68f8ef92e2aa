"""Generate or plan a night of EV charging (slot assignment, step 2.2).

``evgrid plan --generate N --seed S --out FILE.json`` writes a realistic instance of
the use case's western utility (7.2 kW home chargers, 25-50 kVA transformers serving
8-12 homes, arrivals 17-21 h, departures 6-8 h, time-of-use prices with a cheap night
window, about 10 % third-party sessions; ``--congested``: feeders that bind all night).
``evgrid plan --instance FILE.json
[--algorithm NAME] --out PLAN.json`` plans one: ``assign`` (the default, greedy plus
exchange pass), ``greedy`` (the greedy alone), ``reoptimise`` (two greedy orders, the
cheaper plan) or ``highs`` (the LP optimum; needs scipy). The file formats are in the
README and in ``evgrid.scheduler.instance``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from evgrid.scheduler.model import Problem
    from evgrid.scheduler.plan import Plan

ALGORITHMS = ("assign", "greedy", "reoptimise", "highs")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``plan`` options."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--generate", type=int, metavar="N", help="write a realistic instance of N sessions")
    source.add_argument("--instance", type=Path, metavar="FILE.json", help="plan this instance")
    parser.add_argument("--seed", type=int, default=1, help="seed of --generate (default 1)")
    parser.add_argument("--congested", action="store_true",
                        help="with --generate: feeders of 30-50 transformers rated at 50-70 %% of their sum, "
                             "full through the night (unmet energy at 1.50 per kWh)")
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="assign", help="planner (default assign)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.json", help="where to write")


def run(args: argparse.Namespace) -> int:
    """Generate or plan; one summary line on stdout. Exit 2 with one line on bad input."""
    from evgrid.scheduler.instance import (
        plan_to_json,
        problem_from_json,
        problem_to_json,
    )

    if args.congested and args.generate is None:
        return _fail("--congested goes with --generate")
    if args.generate is not None:
        from evgrid.scheduler.synthetic import western_night

        if args.generate < 0:
            return _fail("--generate needs a number of sessions >= 0")
        problem = western_night(args.generate, args.seed, congested=args.congested)
        if not _write(args.out, problem_to_json(problem)):
            return 2
        sys.stdout.write(
            f"{args.out}: {len(problem.sessions)} sessions, {len(problem.transformers)} transformers,"
            f" {len(problem.feeders)} feeders, {problem.horizon.slot_count} slots (seed {args.seed})\n"
        )
        return 0
    try:
        data = json.loads(args.instance.read_text(encoding="utf-8"))
        problem = problem_from_json(data)
    except OSError as exc:
        return _fail(f"{args.instance}: cannot read: {exc.strerror or exc}")
    except ValueError as exc:  # json.JSONDecodeError is one too
        return _fail(f"{args.instance}: {exc}")
    planner = _planner(args.algorithm)
    if planner is None:
        return _fail("--algorithm highs needs scipy (pip install scipy)")
    start = time.perf_counter()
    plan = planner(problem)
    runtime = time.perf_counter() - start
    document = plan_to_json(problem, plan, runtime)
    if not _write(args.out, document):
        return 2
    summary = document["summary"]
    sys.stdout.write(
        f"{args.out}: {len(problem.sessions)} sessions planned by {args.algorithm} in {runtime:.3f} s:"
        f" cost {summary['cost']:.2f}, unmet {summary['unmet_kwh']:.1f} kWh, objective"
        f" {summary['objective']:.2f}, max utilisation {summary['max_utilisation']:.3f}\n"
    )
    return 0


def _planner(name: str) -> Callable[[Problem], Plan] | None:
    """The planning function called ``name``, or None when its library is missing."""
    from evgrid.scheduler.assign import assign_slots, reoptimise

    if name == "highs":
        try:
            from evgrid.scheduler.reference import reference_plan
        except ImportError:
            return None
        return reference_plan
    if name == "greedy":
        return lambda problem: assign_slots(problem, rounds=0)
    return reoptimise if name == "reoptimise" else assign_slots


def _write(path: Path, document: object) -> bool:
    try:
        path.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
    except OSError as exc:
        _fail(f"{path}: cannot write: {exc.strerror or exc}")
        return False
    return True


def _fail(reason: str) -> int:
    sys.stderr.write(f"evgrid plan: {reason}\n")
    return 2
