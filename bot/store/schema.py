"""Tables. Times are epoch milliseconds (BIGINT): exact, zone-free and the same on SQLite and PostgreSQL.

This is the schema the migrations in bot/store/migrations/versions build (tests/integration/test_migrations.py compares
them): change it only together with a new revision.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    event,
    text,
)

from bot.restore.request import ACTIVE_STATES, FINAL_STATES

metadata = MetaData()

# Also the query's condition, verbatim: SQLite uses a partial index only when the query's WHERE visibly
# implies the index's, which bound parameters would hide.
UNANNOUNCED = "final_notice_ms IS NULL AND state IN (" + ", ".join(f"'{s.value}'" for s in sorted(FINAL_STATES)) + ")"
# Like UNANNOUNCED: the partial index's predicate, also added verbatim to queries about active requests.
ACTIVE = "state IN (" + ", ".join(f"'{s.value}'" for s in sorted(ACTIVE_STATES)) + ")"

requests = Table(
    "restore_requests",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("plan_json", Text, nullable=False),
    Column("source_instance_id", String(128), nullable=False),
    Column("target_instance_id", String(128), nullable=False),
    Column("requester_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("message_ts", String(32)),
    Column("required_approvals", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("job_id", String(128)),
    Column("job_progress", Integer),
    Column("error_code", String(64)),
    Column("error_msg", Text),
    Column("decided_by", String(32)),
    Column("decision_note", Text),
    Column("submitted_ms", BigInteger),
    Column("finished_ms", BigInteger),
    # Job-watcher lease: one replica polls a job at a time; a dead replica's lease runs out.
    Column("lease_owner", String(64)),
    Column("lease_expires_ms", BigInteger),
    # Set when the final thread message was claimed, so it is posted once.
    Column("final_notice_ms", BigInteger),
    # Slack permalink of the request's card (revision 0002).
    Column("permalink", Text),
    # Urgent requests' follow-up review (revision 0007): reviewers and window, then due, reminded, done.
    Column("review_json", Text),
    Column("review_due_ms", BigInteger),
    Column("review_reminded_ms", BigInteger),
    Column("reviewed_by", String(32)),
    Column("reviewed_ms", BigInteger),
    # The figures of a restore (revision 0008, bot.restore.figures): when it was approved, when its job started.
    Column("approved_ms", BigInteger),
    Column("job_started_ms", BigInteger),
    # The approval flow frozen into the request when it was made (revision 0010, bot.restore.flow): its stages,
    # their approvers and the routing rule that chose them.
    Column("flow_json", Text),
    # Revision 0012: the reminders and escalation sent for the current stage (bot.restore.reminders.Sent), and
    # the requester's last nudge.
    Column("reminders_json", Text),
    Column("nudged_ms", BigInteger),
    Index("ix_requests_state_expires", "state", "expires_ms"),
    Index("ix_requests_job_id", "job_id"),
    Index("ix_requests_created", "created_ms"),
    Index("ix_requests_requester_created", "requester_id", "created_ms"),
    # `/ddm-restore stats`: the requests finished in a window (revision 0008).
    Index("ix_requests_finished", "finished_ms"),
    # At most one active request per target instance, enforced by the database itself.
    Index(
        "uq_requests_active_target",
        "target_instance_id",
        unique=True,
        sqlite_where=text(ACTIVE),
        postgresql_where=text(ACTIVE),
    ),
    # The sweeper's "final but not announced" query: a handful of rows among the whole history.
    Index(
        "ix_requests_unannounced",
        "updated_ms",
        sqlite_where=text(UNANNOUNCED),
        postgresql_where=text(UNANNOUNCED),
    ),
)

approvals = Table(
    "restore_approvals",
    metadata,
    Column("request_id", String(16), ForeignKey("restore_requests.id"), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    # The approval stage it counts for (1: the first, or the only one); since revision 0006.
    Column("stage", Integer, nullable=False, server_default="1"),
    PrimaryKeyConstraint("request_id", "user_id", name="pk_restore_approvals"),
)

audit = Table(
    "restore_audit",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("request_id", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16)),
    Column("fingerprint", String(64)),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # Revision 0002: context of the record (also inside its hash when set, see bot.store.audit).
    Column("permalink", Text),
    Column("job_id", String(128)),
    Column("error_code", String(64)),
    Index("ix_audit_request", "request_id", "seq"),
    Index("ix_audit_at", "at_ms"),
)

# Revision 0005: the audit chain's head, one row (id 1): the newest record's seq and hash (GENESIS_HASH and no seq
# for an empty chain). An append locks it and chains onto its hash; a trigger on restore_audit moves it to each
# record inserted.
AUDIT_HEAD_ID = 1
audit_head = Table(
    "restore_audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger),
    Column("hash", String(64), nullable=False),
)
_FOLLOW = "UPDATE restore_audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;"


def _ddl(statement: str, dialect: str | None = None) -> DDL:
    made = DDL(statement)  # type: ignore[no-untyped-call]
    return made.execute_if(dialect=dialect) if dialect else made


# What revision 0005 makes besides the table, for databases made by `metadata.create_all` (tests, tools): the
# head row and its trigger.
for _statement in [
    _ddl("INSERT INTO restore_audit_head (id, seq, hash) VALUES (1, NULL, '" + "0" * 64 + "')"),
    _ddl(f"CREATE TRIGGER restore_audit_head_follows AFTER INSERT ON restore_audit BEGIN {_FOLLOW} END", "sqlite"),
    _ddl(
        "CREATE FUNCTION restore_audit_head_follows() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {_FOLLOW} RETURN NULL; END $$",
        "postgresql",
    ),
    _ddl(
        "CREATE TRIGGER restore_audit_head_follows AFTER INSERT ON restore_audit "
        "FOR EACH ROW EXECUTE FUNCTION restore_audit_head_follows()",
        "postgresql",
    ),
]:
    event.listen(audit_head, "after_create", _statement)
event.listen(
    audit_head, "after_drop", _ddl("DROP FUNCTION IF EXISTS restore_audit_head_follows() CASCADE", "postgresql")
)

# Revision 0004: every Slack effect of a change, written in the change's transaction and delivered by the
# announcer (bot.slack.announcer). A row is claimed with a lease, so rows a dead replica held are retried.
PENDING_NOTICE = "done_ms IS NULL"
outbox = Table(
    "restore_outbox",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("request_id", String(16), nullable=False),
    Column("notice", String(32), nullable=False),
    Column("params", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("due_ms", BigInteger, nullable=False),  # not before: backoff after a failure, Retry-After
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(64)),
    Column("claim_expires_ms", BigInteger),
    Column("done_ms", BigInteger),
    Column("last_error", Text),
    Index(
        "ix_outbox_pending",
        "request_id",
        "seq",
        sqlite_where=text(PENDING_NOTICE),
        postgresql_where=text(PENDING_NOTICE),
    ),
)

# Revision 0004: named leases (e.g. the one job follower among the replicas).
leases = Table(
    "restore_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
)

# Revision 0011: a row per drill and slot (bot.restore.drills): a slot runs once across replicas and restarts.
drill_slots = Table(
    "drill_slots",
    metadata,
    Column("drill", String(64), nullable=False),
    Column("slot_ms", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("request_id", String(16)),
    Column("at_ms", BigInteger, nullable=False),
    Column("detail", Text),
    Column("targets_left", Integer),  # revision 0014: the pool's usable targets as the slot found them
    PrimaryKeyConstraint("drill", "slot_ms", name="pk_drill_slots"),
)

# Revision 0013: who has opened the App Home, and whether theirs is stale (published < version), one row per
# person however many changes; claimed with a lease by the replica that publishes it (bot.slack.home_refresh).
home_tabs = Table(
    "home_tabs",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("opened_ms", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),  # changes marked so far
    Column("published_version", BigInteger, nullable=False),
    Column("due_ms", BigInteger, nullable=False),  # not before: backoff after Slack failed
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(64)),
    Column("claim_expires_ms", BigInteger),
    Column("last_error", Text),
)

# Revision 0004: DDM calls per credential per minute, shared by every replica (bot.huawei.budget).
call_budget = Table(
    "ddm_call_budget",
    metadata,
    Column("credential", String(64), nullable=False),
    Column("minute_ms", BigInteger, nullable=False),
    Column("used", Integer, nullable=False),
    PrimaryKeyConstraint("credential", "minute_ms", name="pk_ddm_call_budget"),
)
