"""Alembic migrations of the evgrid store, shipped as package data.

:func:`evgrid.adapters.store.database.upgrade` runs them programmatically; no
``alembic.ini`` is needed.
"""
