"""Scale-out: worker heartbeats, dispatch orders and the night plan's change log.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-26

Written out by hand (see 0001). ``station_leases`` came with 0001 already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.String(length=64)
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create workers, dispatch_orders, plan_state (with its one row) and plan_changes."""
    op.create_table(
        "workers",
        sa.Column("worker_id", ID, nullable=False),
        sa.Column("seen_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_workers")),
    )
    op.create_table(
        "dispatch_orders",
        sa.Column("session_id", ID, nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("worker_id", ID, nullable=False),
        sa.Column("ordered_at", UTC_TIME, nullable=False),
        sa.CheckConstraint("action IN ('start', 'stop')", name=op.f("ck_dispatch_orders_action")),
        sa.ForeignKeyConstraint(["session_id"], ["charging_sessions.session_id"],
                                name=op.f("fk_dispatch_orders_session_id_charging_sessions")),
        sa.PrimaryKeyConstraint("session_id", "action", name=op.f("pk_dispatch_orders")),
    )
    plan_state = op.create_table(
        "plan_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_state")),
    )
    # The row every planner change locks: it exists from the start, so no two workers race to make it.
    op.bulk_insert(plan_state, [{"id": 1, "seq": 0}])
    op.create_table(
        "plan_changes",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("power_kw", sa.JSON(), nullable=True),
        sa.Column("worker_id", ID, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.CheckConstraint("kind IN ('place', 'release')", name=op.f("ck_plan_changes_kind")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_plan_changes")),
    )


def downgrade() -> None:
    """Drop the tables of this revision."""
    for table in ("plan_changes", "plan_state", "dispatch_orders", "workers"):
        op.drop_table(table)
