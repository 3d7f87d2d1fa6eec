"""Each approval records the approval stage it counts for (environments with staged approvals).

Existing approvals were given under one stage: they get 1.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("restore_approvals", sa.Column("stage", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN: PostgreSQL, and SQLite from 3.35 (the column is not indexed).
    op.drop_column("restore_approvals", "stage")
