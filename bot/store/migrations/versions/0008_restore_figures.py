"""The figures of a restore: when it was approved and when its job started, and an index for the finished ones.

Requests made before keep their figures where the history tells them: the time of the last approval of every
request that got past approval, and the time the job was recorded (its audit record; else the submission) of
every request that has a job.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, as this revision knows them: the states a request reaches only once it was approved.
_APPROVED_STATES = "('APPROVED', 'SUBMITTING', 'RUNNING', 'UNKNOWN', 'COMPLETED', 'FAILED')"


def upgrade() -> None:
    op.add_column("restore_requests", sa.Column("approved_ms", sa.BigInteger()))
    op.add_column("restore_requests", sa.Column("job_started_ms", sa.BigInteger()))
    op.create_index("ix_requests_finished", "restore_requests", ["finished_ms"])
    op.execute(
        "UPDATE restore_requests SET approved_ms = (SELECT MAX(a.at_ms) FROM restore_approvals a "
        f"WHERE a.request_id = restore_requests.id) WHERE state IN {_APPROVED_STATES}"
    )
    op.execute(
        "UPDATE restore_requests SET job_started_ms = COALESCE((SELECT MIN(au.at_ms) FROM restore_audit au "
        "WHERE au.request_id = restore_requests.id AND au.action IN ('job_submitted', 'reconciled')), submitted_ms) "
        "WHERE job_id IS NOT NULL"
    )


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN: PostgreSQL, and SQLite from 3.35 (neither column is indexed).
    op.drop_index("ix_requests_finished", table_name="restore_requests")
    op.drop_column("restore_requests", "job_started_ms")
    op.drop_column("restore_requests", "approved_ms")
