"""Test support: a throw-away PostgreSQL schema per test, so suites never meet.

Used by the store tests (and usable by any test or benchmark that needs an empty
PostgreSQL database): the schema is created empty, reached through ``search_path`` in
the returned URL (so commands given ``--database-url`` land in it too), and dropped
with everything in it afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

SCHEMA_PREFIX = "evgrid_t_"


@contextmanager
def scratch_schema(base_url: str) -> Iterator[str]:
    """Create an empty schema in the PostgreSQL at ``base_url``; yield a URL that uses it.

    Args:
        base_url: a PostgreSQL URL (``postgresql+psycopg://user@host/db``).

    Yields:
        ``base_url`` with ``options=-c search_path=<schema>``; commits are not flushed
        to disk (``synchronous_commit=off``): nothing in a scratch schema must survive.
    """
    base = make_url(base_url)
    schema = f"{SCHEMA_PREFIX}{secrets.token_hex(6)}"
    admin = create_engine(base, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            options = f"-c search_path={schema} -c synchronous_commit=off"
            yield base.update_query_dict({"options": options}).render_as_string(hide_password=False)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
