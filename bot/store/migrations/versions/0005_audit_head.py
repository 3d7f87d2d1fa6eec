"""The audit chain's head in a table of one row, filled from the existing chain.

Appends lock this row (SELECT … FOR UPDATE) and chain onto its hash, instead of taking an advisory lock and then
reading the newest record: one round trip less, a lock PostgreSQL and SQLite treat alike, and the newest
committed head even when the append had to wait for the lock. A trigger moves the head to every record
inserted, in the inserting statement.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "restore_audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger()),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    # The newest record's seq and hash, or the genesis hash for an empty chain. The migration runs in one
    # transaction that keeps other writers out (PostgreSQL: the migration lock, and no bot writes the head
    # before the schema is at this revision; SQLite: BEGIN IMMEDIATE).
    op.execute(
        "INSERT INTO restore_audit_head (id, seq, hash) "
        f"SELECT 1, last.seq, COALESCE(last.hash, '{_GENESIS}') "
        "FROM (SELECT 1 AS one) AS one LEFT JOIN "
        "(SELECT seq, hash FROM restore_audit ORDER BY seq DESC LIMIT 1) AS last ON 1 = 1"
    )

    bind = op.get_bind()
    for statement in HEAD_TRIGGER[bind.dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for statement in DROP_HEAD_TRIGGER[bind.dialect.name]:
        op.execute(statement)
    op.drop_table("restore_audit_head")


# Spelled out here as of this revision (bot.store.schema has its own copy, for `metadata.create_all`).
_FOLLOW = "UPDATE restore_audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;"
HEAD_TRIGGER = {
    "sqlite": [
        f"CREATE TRIGGER restore_audit_head_follows AFTER INSERT ON restore_audit BEGIN {_FOLLOW} END",
    ],
    "postgresql": [
        "CREATE FUNCTION restore_audit_head_follows() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {_FOLLOW} RETURN NULL; END $$",
        "CREATE TRIGGER restore_audit_head_follows AFTER INSERT ON restore_audit "
        "FOR EACH ROW EXECUTE FUNCTION restore_audit_head_follows()",
    ],
}
DROP_HEAD_TRIGGER = {
    "sqlite": ["DROP TRIGGER restore_audit_head_follows"],
    "postgresql": [
        "DROP TRIGGER restore_audit_head_follows ON restore_audit",
        "DROP FUNCTION restore_audit_head_follows()",
    ],
}
