"""Base-load forecasts: a transformer's kW per 15-minute slot, beating its daily profile.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

Written out by hand (see 0001).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``base_load_forecasts``."""
    op.create_table(
        "base_load_forecasts",
        sa.Column("transformer_id", sa.String(length=64), sa.ForeignKey("transformers.transformer_id"),
                  primary_key=True),
        sa.Column("slot_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("kw", sa.Numeric(precision=10, scale=3), nullable=False),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("base_load_forecasts")
