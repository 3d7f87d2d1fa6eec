"""Drills: a row per drill and slot, so that each slot runs once across replicas and restarts.

The row is claimed with the request made for the slot, or with its outcome when none was (missed, no target,
failed).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drill_slots",
        sa.Column("drill", sa.String(64), nullable=False),
        sa.Column("slot_ms", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(16)),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("drill", "slot_ms", name="pk_drill_slots"),
    )


def downgrade() -> None:
    op.drop_table("drill_slots")
