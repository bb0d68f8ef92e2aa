"""EV Charging Scheduler: time-slot assignment under transformer and feeder limits.

The slot-assignment core is pure (no I/O) and vectorised with numpy:
:mod:`~evgrid.scheduler.model` holds the inputs, :mod:`~evgrid.scheduler.plan` the
:class:`~evgrid.scheduler.plan.Plan` (numpy-backed, cheap to extend online),
:mod:`~evgrid.scheduler.assign` the heuristic (whole night, online placement,
re-planning) built from the greedy fill of :mod:`~evgrid.scheduler.greedy` and the
exchange pass of :mod:`~evgrid.scheduler.repair` over the arrays of
:mod:`~evgrid.scheduler.tables`; :mod:`~evgrid.scheduler.check` verifies and prices a
plan. The same problem as a linear program (scipy/HiGHS) is in
:mod:`~evgrid.scheduler.reference`, for tests and benchmarks only;
:mod:`~evgrid.scheduler.synthetic` makes seeded nights and
:mod:`~evgrid.scheduler.instance` reads and writes the files of ``evgrid plan``.
"""
