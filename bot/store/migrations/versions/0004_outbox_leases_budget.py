"""The outbox (every Slack notice of a change), named leases and the shared DDM call budget.

Final requests whose final notice nobody posted under the old scheme get outbox rows, so the new announcer
posts them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = "done_ms IS NULL"
# Spelled out as of this revision: a migration must not change when the code does.
_UNANNOUNCED = "final_notice_ms IS NULL AND state IN ('CANCELLED', 'COMPLETED', 'EXPIRED', 'FAILED', 'REJECTED')"


def upgrade() -> None:
    op.create_table(
        "restore_outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(16), nullable=False),
        sa.Column("notice", sa.String(32), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("due_ms", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claim_expires_ms", sa.BigInteger()),
        sa.Column("done_ms", sa.BigInteger()),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index(
        "ix_outbox_pending",
        "restore_outbox",
        ["request_id", "seq"],
        sqlite_where=sa.text(_PENDING),
        postgresql_where=sa.text(_PENDING),
    )
    op.create_table(
        "restore_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "ddm_call_budget",
        sa.Column("credential", sa.String(64), nullable=False),
        sa.Column("minute_ms", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("credential", "minute_ms", name="pk_ddm_call_budget"),
    )
    for notice in ("card", "final"):
        op.execute(
            "INSERT INTO restore_outbox (request_id, notice, params, created_ms, due_ms, attempts) "
            f"SELECT id, '{notice}', '{{}}', updated_ms, updated_ms, 0 FROM restore_requests WHERE {_UNANNOUNCED}"
        )
    op.execute(f"UPDATE restore_requests SET final_notice_ms = updated_ms WHERE {_UNANNOUNCED}")


def downgrade() -> None:
    op.drop_table("ddm_call_budget")
    op.drop_table("restore_leases")
    op.drop_index("ix_outbox_pending", table_name="restore_outbox")
    op.drop_table("restore_outbox")
