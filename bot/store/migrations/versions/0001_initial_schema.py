"""The schema of the first release, exactly as its `metadata.create_all` made it.

Databases created by that release have these tables but no alembic_version: bot.store.migrate stamps them
as this revision and upgrades them from here. Frozen: never edit, add a revision instead.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The active states of the first release (bot.restore.request.ACTIVE_STATES), written out: a migration must
# not change when the code does.
ACTIVE = "state IN ('APPROVED', 'PENDING', 'RUNNING', 'SUBMITTING', 'UNKNOWN')"


def upgrade() -> None:
    op.create_table(
        "restore_requests",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.Column("source_instance_id", sa.String(128), nullable=False),
        sa.Column("target_instance_id", sa.String(128), nullable=False),
        sa.Column("requester_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.String(128)),
        sa.Column("job_progress", sa.Integer()),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_msg", sa.Text()),
        sa.Column("decided_by", sa.String(32)),
        sa.Column("decision_note", sa.Text()),
        sa.Column("submitted_ms", sa.BigInteger()),
        sa.Column("finished_ms", sa.BigInteger()),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_ms", sa.BigInteger()),
        sa.Column("final_notice_ms", sa.BigInteger()),
    )
    op.create_index("ix_requests_state_expires", "restore_requests", ["state", "expires_ms"])
    op.create_index("ix_requests_job_id", "restore_requests", ["job_id"])
    op.create_index("ix_requests_created", "restore_requests", ["created_ms"])
    op.create_index("ix_requests_requester_created", "restore_requests", ["requester_id", "created_ms"])
    op.create_index(
        "uq_requests_active_target",
        "restore_requests",
        ["target_instance_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )

    op.create_table(
        "restore_approvals",
        sa.Column("request_id", sa.String(16), sa.ForeignKey("restore_requests.id"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "user_id", name="pk_restore_approvals"),
    )

    op.create_table(
        "restore_audit",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16)),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_request", "restore_audit", ["request_id", "seq"])
    op.create_index("ix_audit_at", "restore_audit", ["at_ms"])


def downgrade() -> None:
    op.drop_table("restore_audit")
    op.drop_table("restore_approvals")
    op.drop_table("restore_requests")
