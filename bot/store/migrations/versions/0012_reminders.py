"""Reminders: what was sent for each request's current stage, and when its requester last nudged.

The reminders and the escalation are numbered per stage, so that each is written once across replicas.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("restore_requests", sa.Column("reminders_json", sa.Text()))
    op.add_column("restore_requests", sa.Column("nudged_ms", sa.BigInteger()))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN: PostgreSQL, and SQLite from 3.35 (the columns are not indexed).
    op.drop_column("restore_requests", "nudged_ms")
    op.drop_column("restore_requests", "reminders_json")
