"""Bind each journaled MessageID to its message: ``inbound_messages.payload_digest``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

Written out by hand (see 0001). Rows journaled before this revision keep NULL: a
replay of them matches on verb and noun only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

DIGEST = sa.String(length=64)  # SHA-256, hex


def upgrade() -> None:
    """Add the nullable ``payload_digest`` column to ``inbound_messages``."""
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("payload_digest", DIGEST, nullable=True))


def downgrade() -> None:
    """Drop ``payload_digest`` again."""
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("payload_digest")
