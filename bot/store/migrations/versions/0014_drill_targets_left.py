"""Drills: how many of a drill's targets were left is kept with each slot, so every replica shows the same.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("drill_slots", sa.Column("targets_left", sa.Integer()))  # older slots: not known (NULL)


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN: PostgreSQL, and SQLite from 3.35 (the column is not indexed).
    op.drop_column("drill_slots", "targets_left")
