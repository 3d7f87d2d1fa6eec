"""Audit records carry the Slack permalink, the DDM job id and the DDM error code.

restore_requests.permalink holds the card's permalink; restore_audit gets permalink, job_id and error_code
(all nullable: records written before stay as they were, and so do their hashes).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("restore_requests", sa.Column("permalink", sa.Text(), nullable=True))
    op.add_column("restore_audit", sa.Column("permalink", sa.Text(), nullable=True))
    op.add_column("restore_audit", sa.Column("job_id", sa.String(128), nullable=True))
    op.add_column("restore_audit", sa.Column("error_code", sa.String(64), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN: PostgreSQL, and SQLite from 3.35 (none of these columns is indexed).
    op.drop_column("restore_audit", "error_code")
    op.drop_column("restore_audit", "job_id")
    op.drop_column("restore_audit", "permalink")
    op.drop_column("restore_requests", "permalink")
