"""States for the verification of a completed restore: VERIFYING, VERIFIED and VERIFY_FAILED.

VERIFYING is active (the target stays locked while it is checked), the other two are final. The two partial indexes whose predicates name states are made again with the new lists. No row changes: a request
that completed before this revision stays COMPLETED (final, unverified).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The states as of this revision and the one before (spelled out: a migration must not change when the code does).
_ACTIVE = "state IN ('APPROVED', 'PENDING', 'RUNNING', 'SUBMITTING', 'UNKNOWN', 'VERIFYING')"
_UNANNOUNCED = (
    "final_notice_ms IS NULL AND state IN "
    "('CANCELLED', 'COMPLETED', 'EXPIRED', 'FAILED', 'REJECTED', 'VERIFIED', 'VERIFY_FAILED')"
)
_ACTIVE_BEFORE = "state IN ('APPROVED', 'PENDING', 'RUNNING', 'SUBMITTING', 'UNKNOWN')"
_UNANNOUNCED_BEFORE = "final_notice_ms IS NULL AND state IN ('CANCELLED', 'COMPLETED', 'EXPIRED', 'FAILED', 'REJECTED')"


def _indexes(active: str, unannounced: str) -> None:
    op.drop_index("uq_requests_active_target", table_name="restore_requests")
    op.create_index(
        "uq_requests_active_target",
        "restore_requests",
        ["target_instance_id"],
        unique=True,
        sqlite_where=sa.text(active),
        postgresql_where=sa.text(active),
    )
    op.drop_index("ix_requests_unannounced", table_name="restore_requests")
    op.create_index(
        "ix_requests_unannounced",
        "restore_requests",
        ["updated_ms"],
        sqlite_where=sa.text(unannounced),
        postgresql_where=sa.text(unannounced),
    )


def upgrade() -> None:
    _indexes(_ACTIVE, _UNANNOUNCED)


def downgrade() -> None:
    # Requests still in the new states would no longer fit the old lists: downgrade only a bot with none.
    _indexes(_ACTIVE_BEFORE, _UNANNOUNCED_BEFORE)
