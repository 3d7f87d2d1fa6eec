"""Each request keeps the approval flow it was made with: its stages, their approvers, the rule that chose them.

Requests made before have none here: the database does not know the environments file. The bot freezes the
environment's stages into each pending one when it starts (bot.workflow.desk.RestoreDesk.freeze_flows), with an
audit record; the finished ones keep none (their cards show their environment's stages, as before).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("restore_requests", sa.Column("flow_json", sa.Text()))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN: PostgreSQL, and SQLite from 3.35 (the column is not indexed).
    op.drop_column("restore_requests", "flow_json")
