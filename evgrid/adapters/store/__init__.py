"""The evgrid store: SQLAlchemy 2 models, Alembic migrations and bulk importers.

The only package of evgrid that imports SQLAlchemy or Alembic. Modules:

- :mod:`.models`: the tables (money Decimal, energy integer Wh, times aware UTC);
- :mod:`.database`: URL, engine, session factory, ``upgrade`` (Alembic, programmatic);
- :mod:`.registry` with :mod:`.staging`: the registry CSV import (customers, premises,
  meters, transformers, stations, EVs), bulk and all-or-nothing;
- :mod:`.tariff`: the tariff TOML import (time-of-use intervals, EV night rate, plain
  price, the default tariff);
- :mod:`.night_records`: the simulated night's reads (the report, the demo's polls) as
  plain records, and the transformers' base load;
- :mod:`.uow`: the operation system's ports on the store, one unit of work per message;
- :mod:`.outbox`: the outbox table, the worker's store-and-forward queue;
- :mod:`.planning`: a night's planning problem and the plan already in the store;
- :mod:`.sqlite_store`: the small stdlib-sqlite3 store of the portal host and the
  reference billing service (journal, unit of work, outbox), which keep their own files;
- :mod:`.mdm`: the reference meter data management's registers, intervals and journal
  (SQLAlchemy Core, SQLite or PostgreSQL);
- scale-out (several ``serve`` workers on one PostgreSQL): :mod:`.leases` (which worker
  dispatches a station), :mod:`.dispatch` (the once-only fence and what each worker schedules), :mod:`.plan_log` (one night plan);
- :mod:`.errors`: :class:`StoreError` and :class:`ImportRejected`;
- :mod:`.testing`: a throw-away PostgreSQL schema for tests and benchmarks.
"""
