"""The plan lock and log per grid partition; a transformer's own meter.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08

Written out by hand (see 0001).

- ``plan_partitions``: one row per partition (a feeder, or a transformer without one),
  the newest ``seq`` of its log and the row its planner changes lock;
- ``plan_changes`` keyed by partition and ``seq``. The log of the single plan is dropped,
  not converted: it only told running workers what the others changed, and a worker
  started on this revision restores each partition from the slot allocations; a change
  may now also be a transformer's base load read live (``load``);
- ``plan_state`` keeps the registry version's row only;
- ``transformers.meter_number``: the meter whose readings give the transformer's live load.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.String(length=64)
PARTITION = sa.String(length=80)
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Partition the plan log, add the transformer meter."""
    op.create_table(
        "plan_partitions",
        sa.Column("partition_id", PARTITION, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partition_id", name=op.f("pk_plan_partitions")),
    )
    op.drop_table("plan_changes")
    _plan_changes(("partition_id", "seq"), ("place", "release", "load"),
                  sa.Column("partition_id", PARTITION, nullable=False))
    op.execute("DELETE FROM plan_state WHERE id = 1")
    with op.batch_alter_table("transformers") as batch:
        batch.add_column(sa.Column("meter_number", ID, nullable=True))
        batch.create_unique_constraint(batch.f("uq_transformers_meter_number"), ["meter_number"])


def downgrade() -> None:
    """One plan log again (empty), no transformer meter."""
    with op.batch_alter_table("transformers") as batch:
        batch.drop_constraint(batch.f("uq_transformers_meter_number"), type_="unique")
        batch.drop_column("meter_number")
    op.drop_table("plan_changes")
    _plan_changes(("seq",), ("place", "release"))
    op.execute("INSERT INTO plan_state (id, seq) VALUES (1, 0)")
    op.drop_table("plan_partitions")


def _plan_changes(key: tuple[str, ...], kinds: tuple[str, ...], *extra: sa.Column) -> None:
    op.create_table(
        "plan_changes",
        *extra,
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("power_kw", sa.JSON(), nullable=True),
        sa.Column("worker_id", ID, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.CheckConstraint(f"kind IN ({', '.join(repr(kind) for kind in kinds)})", name=op.f("ck_plan_changes_kind")),
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_plan_changes")),
    )
