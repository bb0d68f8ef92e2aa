"""Each customer's own rate: a tariff per account, EV-rate enrolment, the default tariff, the session's rate.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Written out by hand (see 0001).

- ``tariffs.is_default`` (one tariff is the default: the newest imported one of a
  database upgraded from 0003, as ``tariffs`` was read until now) and
  ``tariffs.plain_price_per_kwh`` (NULL: the highest price of the other intervals);
- ``customer_accounts.tariff_id`` (NULL: the default tariff);
- ``evs.ev_rate`` (true: enrolled in the EV rate; every existing EV is);
- ``charging_sessions.rate`` (``evNight``, ``plain``, ``quickCharge``); sessions rated
  before it were priced at ``evNight`` (home) or ``quickCharge`` (third party).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.String(length=64)
MONEY = sa.Numeric(precision=14, scale=6)


def upgrade() -> None:
    """Add the columns, mark the newest tariff the default and rate the sessions already rated."""
    with op.batch_alter_table("tariffs") as batch:
        batch.add_column(sa.Column("plain_price_per_kwh", MONEY, nullable=True))
        batch.add_column(sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(op.f("ix_tariffs_is_default"), "tariffs", ["is_default"], unique=True,
                    sqlite_where=sa.text("is_default"), postgresql_where=sa.text("is_default"))
    op.execute(
        "UPDATE tariffs SET is_default = true WHERE tariff_id = "
        "(SELECT tariff_id FROM tariffs ORDER BY imported_at DESC, tariff_id LIMIT 1)"
    )
    with op.batch_alter_table("customer_accounts") as batch:
        batch.add_column(sa.Column("tariff_id", ID, nullable=True))
        batch.create_index(batch.f("ix_customer_accounts_tariff_id"), ["tariff_id"])
        batch.create_foreign_key(batch.f("fk_customer_accounts_tariff_id_tariffs"), "tariffs",
                                 ["tariff_id"], ["tariff_id"])
    with op.batch_alter_table("evs") as batch:
        batch.add_column(sa.Column("ev_rate", sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table("charging_sessions") as batch:
        batch.add_column(sa.Column("rate", sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE charging_sessions SET rate = CASE WHEN kind = 'thirdParty' THEN 'quickCharge' ELSE 'evNight' END "
        "WHERE tariff_id IS NOT NULL"
    )


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("charging_sessions") as batch:
        batch.drop_column("rate")
    with op.batch_alter_table("evs") as batch:
        batch.drop_column("ev_rate")
    with op.batch_alter_table("customer_accounts") as batch:
        batch.drop_constraint(batch.f("fk_customer_accounts_tariff_id_tariffs"), type_="foreignkey")
        batch.drop_index(batch.f("ix_customer_accounts_tariff_id"))
        batch.drop_column("tariff_id")
    op.drop_index(op.f("ix_tariffs_is_default"), table_name="tariffs")
    with op.batch_alter_table("tariffs") as batch:
        batch.drop_column("is_default")
        batch.drop_column("plain_price_per_kwh")
