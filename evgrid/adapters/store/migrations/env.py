"""Alembic environment of the evgrid store.

:func:`evgrid.adapters.store.database.upgrade` passes an open connection in
``config.attributes["connection"]``. Developers running the ``alembic`` command itself
(``alembic -x url=... revision -m ...``, with a two-line alembic.ini naming
``script_location = evgrid.adapters.store:migrations``) get an engine built from
``-x url=``, else ``EVGRID_DATABASE_URL``, else the default SQLite file.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from evgrid.adapters.store.database import database_url, make_engine
from evgrid.adapters.store.models import Base


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _run_offline() -> None:
    """``alembic upgrade --sql``: write the SQL instead of running it."""
    context.configure(
        url=database_url(context.get_x_argument(as_dictionary=True).get("url")),
        target_metadata=Base.metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(database_url(context.get_x_argument(as_dictionary=True).get("url")))
    try:
        with engine.connect() as own:
            _configure(own)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
