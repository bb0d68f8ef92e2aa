"""Benchmark the slot assignment against the HiGHS optimum, at scale, and online.

Run ``python benchmarks/bench_scheduler.py``. On realistic nights of the use case's
western utility (:func:`~evgrid.scheduler.synthetic.western_night`, the instances
``evgrid plan --generate N --seed S`` writes) it prints, in one run:

- for 1,000 and 10,000 sessions, on the same instance: our assignment (and the greedy
  alone) beside the HiGHS optimum of the same problem as a linear program, with the
  wall time (best of the runs shown), the objective (energy cost at the slot prices
  plus the penalty for unmet energy), the gap to the optimum, the speed ratio and the
  number of limit violations found by ``check.violations``;
- for 100,000 sessions: our time and violations (HiGHS takes minutes at this size and
  is skipped unless ``--highs-at-scale``);
- online placement: 200 new requests placed one by one against 10,000 planned, each
  timed: p50, p99 and max;
- the same comparison and at-scale run on congested nights (``western_night(...,
  congested=True)``: feeders of 30-50 transformers rated at 50-70 % of their sum, so
  every feeder is full through the night and energy goes unmet at 1.50 per kWh).

Targets (issues 4 and 14), on both kinds of night: 10,000 sessions within 0.5 % of the
optimum and at least 20x faster than HiGHS; 100,000 sessions in under 5 s with no
limit exceeded; online p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from evgrid.scheduler.assign import assign_slots, place_session
from evgrid.scheduler.check import max_utilisation, plan_cost, violations
from evgrid.scheduler.model import Problem
from evgrid.scheduler.plan import Plan
from evgrid.scheduler.reference import reference_plan
from evgrid.scheduler.synthetic import western_night


def timed(method: Callable[[Problem], Plan], problem: Problem, runs: int) -> tuple[Plan, float]:
    """Run ``method`` ``runs`` times; the last plan and the best wall time in seconds."""
    best, plan = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        plan = method(problem)
        best = min(best, time.perf_counter() - start)
    assert plan is not None
    return plan, best


def describe(problem: Problem, seed: int, congested: bool) -> str:
    """One line about the instance."""
    third = sum(s.third_party for s in problem.sessions)
    wanted = sum(s.energy_wh for s in problem.sessions) / 1e6
    return (
        f"{'congested: ' if congested else ''}{len(problem.sessions):,} sessions ({third:,} third-party,"
        f" {wanted:,.1f} MWh wanted), {len(problem.transformers):,} transformers, {len(problem.feeders)} feeders,"
        f" {problem.horizon.slot_count} slots, seed {seed}"
    )


def compare(sessions: int, seed: int, runs: int, highs_runs: int, congested: bool = False) -> None:
    """Ours and the greedy beside HiGHS on one instance."""
    problem = western_night(sessions, seed, congested=congested)
    print(f"\n{describe(problem, seed, congested)}")
    methods: list[tuple[str, Callable[[Problem], Plan], int]] = [
        ("ours (assign_slots)", assign_slots, runs),
        ("greedy alone", lambda p: assign_slots(p, rounds=0), runs),
        ("HiGHS (LP optimum)", reference_plan, highs_runs),
    ]
    results = [(name, *timed(method, problem, n), n) for name, method, n in methods]
    optimum = plan_cost(problem, results[-1][1]).total
    highs_seconds = results[-1][2]
    print(f"{'method':<22}{'runs':>5}{'time':>11}{'objective':>13}{'unmet kWh':>11}{'gap':>10}{'speed':>9}{'viol.':>7}")
    for name, plan, seconds, n in results:
        cost = plan_cost(problem, plan)
        print(
            f"{name:<22}{n:>5}{seconds * 1000:>9.1f}ms{cost.total:>13.2f}{cost.unmet_kwh:>11.1f}"
            f"{100 * (cost.total / optimum - 1):>8.4f}%{highs_seconds / seconds:>8.1f}x{len(violations(problem, plan)):>7}"
        )
    wanted_kwh = sum(s.energy_wh for s in problem.sessions) / 1000
    print(f"the optimum leaves {100 * plan_cost(problem, results[-1][1]).unmet_kwh / wanted_kwh:.1f} % of the energy unmet")


def at_scale(sessions: int, seed: int, runs: int, with_highs: bool, congested: bool = False) -> None:
    """Our time and violations on a large night (HiGHS optional)."""
    problem = western_night(sessions, seed, congested=congested)
    print(f"\n{describe(problem, seed, congested)}")
    plan, seconds = timed(assign_slots, problem, runs)
    cost = plan_cost(problem, plan)
    print(
        f"ours (assign_slots): {seconds:.2f} s (best of {runs}), objective {cost.total:.2f},"
        f" unmet {cost.unmet_kwh:.1f} kWh, violations {len(violations(problem, plan))},"
        f" max utilisation {max_utilisation(problem, plan):.4f}"
    )
    if with_highs:
        optimum, highs_seconds = timed(reference_plan, problem, 1)
        best = plan_cost(problem, optimum).total
        print(
            f"HiGHS: {highs_seconds:.1f} s, objective {best:.2f}: gap {100 * (cost.total / best - 1):.3f} %,"
            f" speed {highs_seconds / seconds:.1f}x"
        )
    else:
        print("HiGHS: skipped at this size (it takes minutes; --highs-at-scale runs it)")


def online(planned: int, placements: int, seed: int) -> None:
    """Place requests one by one against a planned night, timing each placement."""
    night = western_night(planned + placements, seed)
    problem = replace(night, sessions=night.sessions[:planned])
    plan = assign_slots(problem)
    before = plan.power_kw.copy()
    print(f"\nonline: {placements} requests placed one by one against {planned:,} planned (seed {seed})")
    place_ms, with_problem_ms = [], []
    for request in night.sessions[planned:]:
        start = time.perf_counter()
        placed = place_session(plan, problem, request)
        middle = time.perf_counter()
        problem = problem.with_session(request)  # what WindowPlanner.place does as well
        end = time.perf_counter()
        plan = placed
        place_ms.append((middle - start) * 1000)
        with_problem_ms.append((end - start) * 1000)
    untouched = np.array_equal(plan.power_kw[:planned], before)
    for name, values in (("place_session", place_ms), ("+ Problem.with_session", with_problem_ms)):
        p50, p99 = statistics.median(values), float(np.percentile(values, 99))
        print(f"{name:<24} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   max {max(values):6.2f} ms")
    print(f"planned sessions untouched: {untouched}; violations after: {len(violations(problem, plan))}")


def main() -> None:
    """Parse the options and run everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--runs", type=int, default=3, help="runs of our planner; the best time counts")
    parser.add_argument("--highs-runs", type=int, default=1, help="runs of HiGHS; the best time counts")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--scale", type=int, default=100_000, help="size of the at-scale run (0: skip)")
    parser.add_argument("--highs-at-scale", action="store_true", help="also run HiGHS at --scale")
    parser.add_argument("--placements", type=int, default=200)
    parser.add_argument(
        "--congested", type=int, nargs="*", default=[10_000], help="sizes compared on congested nights (none: skip)"
    )
    parser.add_argument("--congested-scale", type=int, default=100_000, help="congested at-scale run (0: skip)")
    args = parser.parse_args()
    for sessions in args.sessions:
        compare(sessions, args.seed, args.runs, args.highs_runs)
    if args.scale:
        at_scale(args.scale, args.seed, args.runs, args.highs_at_scale)
    if args.placements:
        online(10_000, args.placements, args.seed)
    for sessions in args.congested:
        compare(sessions, args.seed, args.runs, args.highs_runs, congested=True)
    if args.congested_scale:
        at_scale(args.congested_scale, args.seed, args.runs, args.highs_at_scale, congested=True)


if __name__ == "__main__":
    main()
