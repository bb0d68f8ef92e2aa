"""The EV Operation System: use-case handlers over a pure domain model and ports."""
