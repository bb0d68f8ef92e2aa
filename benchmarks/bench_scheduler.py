"""Benchmark the slot assignment against the reference LP optimum (scipy/HiGHS).

Run ``python benchmarks/bench_scheduler.py``. For random nights of 200 and 1,000
sessions (50 transformers, 96 slots of 15 minutes, fixed seed) it prints, for the
greedy alone, :func:`assign_slots`, :func:`reoptimise` and the LP: the wall time
(best of ``--repeat`` runs), the cost (energy at slot prices plus the penalty for
unmet energy), the cost relative to the optimum, the speed-up over the LP, and the
number of limit violations (always 0).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from evgrid.scheduler.assign import assign_slots, reoptimise
from evgrid.scheduler.check import plan_cost, violations
from evgrid.scheduler.model import Plan, Problem
from evgrid.scheduler.reference import reference_plan
from evgrid.scheduler.synthetic import random_problem

METHODS: dict[str, Callable[[Problem], Plan]] = {
    "greedy only": lambda problem: assign_slots(problem, sweeps=0),
    "assign_slots": assign_slots,
    "reoptimise": reoptimise,
    "LP (HiGHS)": reference_plan,
}


def timed(method: Callable[[Problem], Plan], problem: Problem, repeat: int) -> tuple[Plan, float]:
    """Run ``method`` ``repeat`` times; the plan and the best wall time in seconds."""
    best = float("inf")
    plan = None
    for _ in range(repeat):
        start = time.perf_counter()
        plan = method(problem)
        best = min(best, time.perf_counter() - start)
    assert plan is not None
    return plan, best


def bench(sessions: int, seed: int, repeat: int) -> None:
    """Print one table: every method on one random night."""
    problem = random_problem(seed, sessions=sessions, transformers=50, slots=96)
    third = sum(s.third_party for s in problem.sessions)
    limited = sum(f.capacity_kw is not None for f in problem.feeders)
    print(
        f"\n{sessions} sessions ({third} third-party), {len(problem.transformers)} transformers,"
        f" {limited} limited feeders, {problem.horizon.slot_count} slots, seed {seed}"
    )
    results = {name: timed(method, problem, repeat) for name, method in METHODS.items()}
    optimum = plan_cost(problem, results["LP (HiGHS)"][0]).total
    lp_seconds = results["LP (HiGHS)"][1]
    header = ("method", "time ms", "cost", "unmet kWh", "vs optimum", "speed-up", "viol.")
    print("{:<14} {:>9} {:>10} {:>10} {:>11} {:>9} {:>6}".format(*header))
    for name, (plan, seconds) in results.items():
        cost = plan_cost(problem, plan)
        broken = len(violations(problem, plan))
        print(
            f"{name:<14} {seconds * 1000:>9.1f} {cost.total:>10.2f} {cost.unmet_kwh:>10.1f}"
            f" {cost.total / optimum:>10.4f}x {lp_seconds / seconds:>8.2f}x {broken:>6}"
        )


def main() -> None:
    """Parse the options and run the two sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; the best time counts")
    parser.add_argument("--sessions", type=int, nargs="+", default=[200, 1000])
    args = parser.parse_args()
    for sessions in args.sessions:
        bench(sessions, args.seed, args.repeat)


if __name__ == "__main__":
    main()
