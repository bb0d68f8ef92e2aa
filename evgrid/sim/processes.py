"""The demo's child processes: :mod:`evgrid.adapters.processes`, where ``serve`` finds them too."""

from evgrid.adapters.processes import READY, Service, ServiceFailed, evgrid_command, free_port

__all__ = ["READY", "Service", "ServiceFailed", "evgrid_command", "free_port"]
