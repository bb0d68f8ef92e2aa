"""EV Charging Scheduler: time-slot assignment under transformer and feeder limits.

The slot-assignment core is pure (no I/O): :mod:`~evgrid.scheduler.model` holds the
inputs and the :class:`~evgrid.scheduler.model.Plan`, :mod:`~evgrid.scheduler.assign`
the heuristic (whole night, online placement, re-planning), with its working state in
:mod:`~evgrid.scheduler.headroom` and its augmenting pass in
:mod:`~evgrid.scheduler.improve` / :mod:`~evgrid.scheduler.reach`;
:mod:`~evgrid.scheduler.check` verifies and prices a plan. The same problem as a
linear program (scipy/HiGHS) is in :mod:`~evgrid.scheduler.reference`, for tests and
benchmarks only; :mod:`~evgrid.scheduler.synthetic` makes seeded random nights.
"""
