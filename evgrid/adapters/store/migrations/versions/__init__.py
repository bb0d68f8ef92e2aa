"""Migration scripts, one per revision, written out by hand."""
