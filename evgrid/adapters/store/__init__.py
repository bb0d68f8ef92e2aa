"""The evgrid store: SQLAlchemy 2 models, Alembic migrations and bulk importers.

The only package of evgrid that imports SQLAlchemy or Alembic. Modules:

- :mod:`.models`: the tables (money Decimal, energy integer Wh, times aware UTC);
- :mod:`.database`: URL, engine, session factory, ``upgrade`` (Alembic, programmatic);
- :mod:`.registry` with :mod:`.staging`: the registry CSV import (customers, premises,
  meters, transformers, stations, EVs), bulk and all-or-nothing;
- :mod:`.tariff`: the tariff TOML import (time-of-use intervals, EV night rate);
- :mod:`.night_records`: the simulated night's reads (the report, the demo's polls) as
  plain records, and the transformers' base load;
- :mod:`.errors`: :class:`StoreError` and :class:`ImportRejected`;
- :mod:`.testing`: a throw-away PostgreSQL schema for tests and benchmarks.
"""
