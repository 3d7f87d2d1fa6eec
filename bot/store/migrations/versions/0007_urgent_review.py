"""The follow-up review of urgent (break-glass) requests.

Who reviews and within how long (set when the request is made), when it is due (when the request ends), when it
was reminded, and who reviewed it when.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("review_json", "review_due_ms", "review_reminded_ms", "reviewed_by", "reviewed_ms")


def upgrade() -> None:
    op.add_column("restore_requests", sa.Column("review_json", sa.Text()))
    op.add_column("restore_requests", sa.Column("review_due_ms", sa.BigInteger()))
    op.add_column("restore_requests", sa.Column("review_reminded_ms", sa.BigInteger()))
    op.add_column("restore_requests", sa.Column("reviewed_by", sa.String(32)))
    op.add_column("restore_requests", sa.Column("reviewed_ms", sa.BigInteger()))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN: PostgreSQL, and SQLite from 3.35 (none of these columns is indexed).
    for name in _COLUMNS:
        op.drop_column("restore_requests", name)
