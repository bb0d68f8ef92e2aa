"""One package per process: each composes its process (``build``) and runs it (``run``), nothing else."""
