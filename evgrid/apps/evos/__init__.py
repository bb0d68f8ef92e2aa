"""The utility's worker, ``evgrid serve``: the EV Operation System and the EV Charging Scheduler.

- :mod:`.system`: the operation system on its store (router, planner, units of work,
  outbox worker, scale-out dispatch);
- :mod:`.dispatch`: a scale-out worker's station leases and jobs;
- :mod:`.health`: ``GET /health``;
- :mod:`.check`: ``--check-config``;
- :mod:`.worker`: :func:`build` composes all of it from the settings, :func:`run` serves.
"""

from evgrid.apps.evos.worker import Worker, build, run

__all__ = ["Worker", "build", "run"]
