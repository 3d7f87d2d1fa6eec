"""Schema migrations on SQLite and PostgreSQL: from an empty database, from the first release's `create_all`
database and from revision 0001 (with data), twice in a row, concurrently, and the metadata against them.

The PostgreSQL variant shares one database per test session, so every test starts by emptying it completely
(alembic_version included).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
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
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

from bot.cli import main
from bot.huawei.auth import AkSkAuth
from bot.huawei.ddm import DdmClient
from bot.huawei.ddm_gateway import HuaweiDdmGateway
from bot.restore.flow import Flow, Stage
from bot.restore.lifecycle import Event
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan, canonical_json
from bot.restore.policy import ApprovalPolicy
from bot.restore.request import RequestState
from bot.store import schema
from bot.store.audit import verify_chain
from bot.store.audit_chain import GENESIS_HASH, audit_hash
from bot.store.migrate import (
    BOT_TABLES,
    MigrationError,
    alembic_config,
    current_revisions,
    head_revision,
    migrate,
    upgrade_engine,
)
from bot.store.rows import ms
from bot.store.sql_store import RequestStore
from bot.workflow.desk import RestoreDesk
from bot.workflow.places import Places

ALL = ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011", "0012", "0013", "0014"]
AFTER_FIRST = ALL[1:]
ROOT = Path(__file__).resolve().parents[2]
# What `migrate` says of each revision it applies, in order.
APPLIED = [
    "applied 0001: The schema of the first release, exactly as its `metadata.create_all` made it.",
    "applied 0002: Audit records carry the Slack permalink, the DDM job id and the DDM error code.",
    'applied 0003: A partial index for the sweeper\'s "final but not announced" query.',
    "applied 0004: The outbox (every Slack notice of a change), named leases and the shared DDM call budget.",
    "applied 0005: The audit chain's head in a table of one row, filled from the existing chain.",
    "applied 0006: Each approval records the approval stage it counts for (environments with staged approvals).",
    "applied 0007: The follow-up review of urgent (break-glass) requests.",
    "applied 0008: The figures of a restore: when it was approved and when its job started, and an index for "
    "the finished ones.",
    "applied 0009: States for the verification of a completed restore: VERIFYING, VERIFIED and VERIFY_FAILED.",
    "applied 0010: Each request keeps the approval flow it was made with: its stages, their approvers, the rule "
    "that chose them.",
    "applied 0011: Drills: a row per drill and slot, so that each slot runs once across replicas and restarts.",
    "applied 0012: Reminders: what was sent for each request's current stage, and when its requester last nudged.",
    "applied 0013: The App Home: who has opened it, and whose is stale, so that any replica publishes it once "
    "after a change.",
    "applied 0014: Drills: how many of a drill's targets were left is kept with each slot, so every replica shows "
    "the same.",
]
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


# ---- helpers ---------------------------------------------------------------------------------------------------


async def reset(url: str) -> None:
    """An empty database: nothing of the bot's, no alembic_version."""
    store = RequestStore.from_url(url)
    try:
        async with store.engine.begin() as conn:
            if store.is_sqlite:
                for name in ["restore_approvals", "restore_audit", "restore_requests", "alembic_version"]:
                    await conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
            else:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await store.close()


async def on(url: str, work: Any) -> Any:
    """Run `work(sync_connection)` in a committed transaction on `url`."""
    store = RequestStore.from_url(url)
    try:
        async with store.engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await store.close()


def snapshot(conn: Connection) -> dict[str, Any]:
    """The bot's tables as the database reports them, in a form that does not depend on column order."""
    inspector = inspect(conn)
    dialect = conn.dialect.name
    tables: dict[str, Any] = {}
    for name in sorted(set(inspector.get_table_names()) & BOT_TABLES):
        columns = sorted(
            (c["name"], str(c["type"]), bool(c["nullable"]), str(c.get("default"))) for c in inspector.get_columns(name)
        )
        indexes = sorted(
            (
                i["name"],
                tuple(i["column_names"]),
                bool(i["unique"]),
                str(i.get("dialect_options", {}).get(f"{dialect}_where")),
            )
            for i in inspector.get_indexes(name)
        )
        pk = inspector.get_pk_constraint(name)
        fks = sorted(
            (f["name"] or "", tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
            for f in inspector.get_foreign_keys(name)
        )
        uniques = sorted((u["name"] or "", tuple(u["column_names"])) for u in inspector.get_unique_constraints(name))
        tables[name] = {
            "columns": columns,
            "indexes": indexes,
            "pk": (pk.get("name"), tuple(pk["constrained_columns"])),
            "fks": fks,
            "uniques": uniques,
        }
    return tables


def differences(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), schema.metadata))


def first_release_metadata() -> MetaData:
    """bot/store/schema.py of the first release, frozen: what its `create_all` made in users' databases."""
    md = MetaData()
    active = "state IN ('APPROVED', 'PENDING', 'RUNNING', 'SUBMITTING', 'UNKNOWN')"
    Table(
        "restore_requests",
        md,
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
        Column("lease_owner", String(64)),
        Column("lease_expires_ms", BigInteger),
        Column("final_notice_ms", BigInteger),
        Index("ix_requests_state_expires", "state", "expires_ms"),
        Index("ix_requests_job_id", "job_id"),
        Index("ix_requests_created", "created_ms"),
        Index("ix_requests_requester_created", "requester_id", "created_ms"),
        Index(
            "uq_requests_active_target",
            "target_instance_id",
            unique=True,
            sqlite_where=text(active),
            postgresql_where=text(active),
        ),
    )
    Table(
        "restore_approvals",
        md,
        Column("request_id", String(16), ForeignKey("restore_requests.id"), nullable=False),
        Column("user_id", String(32), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("at_ms", BigInteger, nullable=False),
        PrimaryKeyConstraint("request_id", "user_id", name="pk_restore_approvals"),
    )
    Table(
        "restore_audit",
        md,
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
        Index("ix_audit_request", "request_id", "seq"),
        Index("ix_audit_at", "at_ms"),
    )
    return md


def plan(target: str = "tgt1in09") -> RestorePlan:
    return RestorePlan(
        project_id="p1",
        source=NamedRef(id="srcin09", name="orders-prod"),
        target=NamedRef(id=target, name="orders-restore-1"),
        restore_time_ms=1_795_000_000_000,
        mappings=(DataNodeMapping(source=NamedRef(id="s1in01", name="rds-0"), target=NamedRef(id="t1in01")),),
    )


def write_first_release_data(conn: Connection) -> str:
    """A pending request with one approval and its two audit records, written as the first release did."""
    md = first_release_metadata()
    the_plan = plan()
    request_id = "R-OLD0001"
    conn.execute(
        insert(md.tables["restore_requests"]).values(
            id=request_id,
            state="PENDING",
            fingerprint=the_plan.fingerprint(),
            plan_json=the_plan.model_dump_json(),
            source_instance_id=the_plan.source.id,
            target_instance_id=the_plan.target.id,
            requester_id="UALICE",
            channel_id="C1",
            message_ts="1700000000.000100",
            required_approvals=2,
            created_ms=ms(NOW),
            expires_ms=ms(NOW + timedelta(hours=1)),
            updated_ms=ms(NOW),
        )
    )
    conn.execute(
        insert(md.tables["restore_approvals"]).values(
            request_id=request_id, user_id="UBOB", fingerprint=the_plan.fingerprint(), at_ms=ms(NOW)
        )
    )
    prev = GENESIS_HASH
    for actor, action, from_state, details in [
        ("UALICE", "create", None, {"plan": json.loads(the_plan.model_dump_json()), "channel_id": "C1"}),
        ("UBOB", "approve", "PENDING", {}),
    ]:
        record = {
            "at_ms": ms(NOW),
            "request_id": request_id,
            "actor": actor,
            "action": action,
            "from_state": from_state,
            "to_state": "PENDING",
            "fingerprint": the_plan.fingerprint(),
            "details": details,
        }
        digest = audit_hash(prev, record)
        conn.execute(
            insert(md.tables["restore_audit"]).values(
                **{**record, "details": canonical_json(details)}, prev_hash=prev, hash=digest
            )
        )
        prev = digest
    return request_id


# ---- tests -------------------------------------------------------------------------------------------------------


async def test_migrate_an_empty_database(database_url: str) -> None:
    await reset(database_url)
    assert await migrate(database_url) == ALL
    assert await on(database_url, current_revisions) == (head_revision(),)
    assert await on(database_url, differences) == []
    assert head_revision() == ALL[-1]


async def test_migrating_twice_is_a_no_op(database_url: str) -> None:
    await reset(database_url)
    await migrate(database_url)
    before = await on(database_url, snapshot)
    assert await migrate(database_url) == []
    assert await migrate(database_url) == []
    assert await on(database_url, snapshot) == before
    assert await on(database_url, current_revisions) == (head_revision(),)


async def test_metadata_equals_the_migrated_schema(database_url: str) -> None:
    """schema.py and the revisions describe the same tables, partial unique index predicate included (which
    alembic's compare_metadata does not look at: the reflected snapshots are compared as well)."""
    await reset(database_url)
    await migrate(database_url)
    assert await on(database_url, differences) == []
    migrated = await on(database_url, snapshot)
    await reset(database_url)
    await on(database_url, schema.metadata.create_all)
    created = await on(database_url, snapshot)
    assert migrated == created
    assert set(migrated) == BOT_TABLES
    (active_index,) = [i for i in migrated["restore_requests"]["indexes"] if i[0] == "uq_requests_active_target"]
    assert active_index[2] is True and "PENDING" in active_index[3] and "COMPLETED" not in active_index[3]
    assert ("permalink", "TEXT", True, "None") in migrated["restore_requests"]["columns"]


async def test_revision_0001_is_the_first_release_schema(database_url: str) -> None:
    await reset(database_url)
    await on(database_url, first_release_metadata().create_all)
    first_release = await on(database_url, snapshot)
    await reset(database_url)
    assert await migrate(database_url, "0001") == ["0001"]
    assert await on(database_url, snapshot) == first_release


@pytest.mark.parametrize("previous", ["create_all", "0001"])
async def test_upgrade_keeps_the_data_of_the_previous_schema(database_url: str, previous: str) -> None:
    """From a first-release database (tables made by create_all, no alembic_version) or one at revision 0001."""
    await reset(database_url)
    if previous == "create_all":
        await on(database_url, first_release_metadata().create_all)
    else:
        assert await migrate(database_url, "0001") == ["0001"]
    request_id = await on(database_url, write_first_release_data)

    assert await migrate(database_url) == AFTER_FIRST
    assert await on(database_url, current_revisions) == (ALL[-1],)
    assert await on(database_url, differences) == []

    store = RequestStore.from_url(database_url)
    try:
        request = await store.get(request_id)
        assert request is not None
        assert request.state is RequestState.PENDING and request.plan == plan()
        assert [a.user_id for a in request.approvals] == ["UBOB"]
        trail = await store.audit_trail()
        assert [(r.action, r.job_id, r.error_code, r.permalink) for r in trail] == [
            ("create", None, None, None),
            ("approve", None, None, None),
        ]
        # The old records keep their hashes and the chain goes on through the new columns.
        await store.transition(request_id, Event.APPROVED, actor="UCAROL", now=NOW)
        await store.transition(request_id, Event.SUBMIT, actor="system", now=NOW)
        await store.transition(
            request_id,
            Event.JOB_SUBMITTED,
            actor="system",
            now=NOW,
            values={"job_id": "job-42"},
            details={"job_id": "job-42"},
        )
        trail = await store.audit_trail()
        assert trail[-1].job_id == "job-42" and trail[-1].prev_hash == trail[-2].hash
        result = await verify_chain(store)
        assert result.ok and result.count == 5
    finally:
        await store.close()


async def test_concurrent_migrations_take_turns(database_url: str) -> None:
    """Stores starting together in one process: one migrates, the others wait for it and find nothing to do."""
    await reset(database_url)
    results = await asyncio.gather(*[migrate(database_url) for _ in range(4)])
    assert sorted(results, key=len) == [[], [], [], ALL]
    assert await on(database_url, current_revisions) == (head_revision(),)
    assert await on(database_url, differences) == []


MIGRATE_AND_PRINT = "import asyncio, json, sys; from bot.store.migrate import migrate; print(json.dumps(asyncio.run(migrate(sys.argv[1]))))"


@pytest.mark.parametrize("previous", ["empty", "create_all"])
async def test_replica_processes_migrating_at_once(database_url: str, previous: str) -> None:
    """Separate processes (as replicas are) started together: exactly one applies each revision."""
    await reset(database_url)
    if previous == "create_all":
        await on(database_url, first_release_metadata().create_all)
        await on(database_url, write_first_release_data)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MIGRATE_AND_PRINT,
            database_url,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outputs = await asyncio.gather(*[p.communicate() for p in processes])
    assert [p.returncode for p in processes] == [0] * 4, [err.decode() for _, err in outputs]
    applied = sorted((json.loads(out) for out, _ in outputs), key=len)
    assert applied == [[], [], [], ALL if previous == "empty" else AFTER_FIRST]
    assert await on(database_url, current_revisions) == (head_revision(),)
    assert await on(database_url, differences) == []


async def test_concurrent_start_ups_on_a_first_release_database(database_url: str) -> None:
    await reset(database_url)
    await on(database_url, first_release_metadata().create_all)
    await on(database_url, write_first_release_data)
    stores = [RequestStore.from_url(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*[s.create_schema() for s in stores])
        assert len(await stores[0].audit_trail()) == 2
        assert (await verify_chain(stores[0])).ok
    finally:
        for s in stores:
            await s.close()
    assert await on(database_url, current_revisions) == (head_revision(),)


async def test_create_schema_applies_the_migrations(database_url: str) -> None:
    await reset(database_url)
    store = RequestStore.from_url(database_url)
    try:
        await store.create_schema()
        await store.create_schema()
    finally:
        await store.close()
    assert await on(database_url, current_revisions) == (head_revision(),)


async def test_tables_dropped_behind_alembic_s_back_are_made_again(database_url: str) -> None:
    """alembic_version says head but the tables are gone (e.g. `metadata.drop_all`): build them afresh."""
    await reset(database_url)
    await migrate(database_url)
    await on(database_url, schema.metadata.drop_all)
    assert await migrate(database_url) == ALL
    assert await on(database_url, differences) == []


async def test_a_revision_this_release_does_not_know_is_refused(database_url: str) -> None:
    await reset(database_url)
    await migrate(database_url)
    await on(database_url, lambda c: c.execute(text("UPDATE alembic_version SET version_num = '0099'")))
    with pytest.raises(MigrationError, match=r"revision 0099, which this version of the bot does not know"):
        await migrate(database_url)


async def test_some_tables_without_alembic_version_are_refused(database_url: str) -> None:
    await reset(database_url)
    await on(database_url, lambda c: first_release_metadata().tables["restore_requests"].create(c))
    with pytest.raises(MigrationError, match=r"some of the bot's tables but not restore_approvals, restore_audit"):
        await migrate(database_url)
    tables = await on(database_url, lambda c: set(inspect(c).get_table_names()))
    assert tables == {"restore_requests"}  # nothing was changed


async def test_downgrade_to_0001_and_back(database_url: str) -> None:
    """The downgrade of 0002 works on both engines (and leaves the first release's data alone)."""
    await reset(database_url)
    await migrate(database_url, "0001")
    request_id = await on(database_url, write_first_release_data)
    await migrate(database_url)
    store = RequestStore.from_url(database_url)
    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0001"))
        first_release = await on(database_url, snapshot)
        await reset(database_url)
        await on(database_url, first_release_metadata().create_all)
        assert await on(database_url, snapshot) == first_release
    finally:
        await store.close()
    del request_id


async def test_upgrade_engine_on_the_store_s_own_engine(database_url: str) -> None:
    await reset(database_url)
    store = RequestStore.from_url(database_url)
    try:
        assert await upgrade_engine(store.engine) == ALL
        async with store.reader.connect() as conn:
            count = (await conn.execute(select(schema.audit.c.seq))).all()
        assert count == []
    finally:
        await store.close()


# ---- command line -------------------------------------------------------------------------------------------------


def test_cli_migrate(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    asyncio.run(reset(database_url))
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUIRED_APPROVALS", "not-a-number")  # other settings do not matter to `migrate`

    assert main(["migrate"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == APPLIED
    assert main(["migrate"]) == 0
    out, err = capsys.readouterr()
    assert out == "database is up to date (revision 0014)\n" and err == ""


def test_cli_migrate_from_a_first_release_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    asyncio.run(reset(database_url))
    asyncio.run(on(database_url, first_release_metadata().create_all))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["migrate"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == APPLIED[1:]


def test_cli_migrate_problems(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "not a url")
    assert main(["migrate"]) == 2
    _, err = capsys.readouterr()
    assert err.splitlines() == [
        "ddm-restore-bot: DATABASE_URL is not a database URL: give sqlite:///path/to/file.sqlite3 "
        "or postgresql://user:password@host/db"
    ]
    monkeypatch.setenv("DATABASE_URL", "mysql://root@db/bot")
    assert main(["migrate"]) == 2
    _, err = capsys.readouterr()
    assert err == "ddm-restore-bot: DATABASE_URL: the bot stores its data in SQLite or PostgreSQL, not mysql\n"

    asyncio.run(reset(database_url))
    asyncio.run(migrate(database_url))
    asyncio.run(on(database_url, lambda c: c.execute(text("UPDATE alembic_version SET version_num = '0099'"))))
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["migrate"]) == 1
    _, err = capsys.readouterr()
    assert len(err.splitlines()) == 1
    assert err.startswith("ddm-restore-bot: migrate: the database is at revision 0099, which this version")


def test_cli_migrate_hides_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:s3cret@127.0.0.1:1/bot")
    assert main(["migrate"]) == 1
    _, err = capsys.readouterr()
    assert len(err.splitlines()) == 1
    assert "s3cret" not in err and "cannot migrate the database at postgresql+asyncpg://bot:***@127.0.0.1:1/bot" in err


# ---- revision 0005: the audit chain's head -------------------------------------------------------------------------


async def head_row(url: str) -> tuple[int | None, str]:
    def read(conn: Connection) -> tuple[int | None, str]:
        row = conn.execute(select(schema.audit_head.c.seq, schema.audit_head.c.hash)).one()
        return row.seq, row.hash

    assert (await on(url, lambda c: c.execute(select(schema.audit_head)).all().__len__())) == 1
    return await on(url, read)


async def last_record(url: str) -> tuple[int, str]:
    def read(conn: Connection) -> tuple[int, str]:
        row = conn.execute(
            select(schema.audit.c.seq, schema.audit.c.hash).order_by(schema.audit.c.seq.desc()).limit(1)
        ).one()
        return row.seq, row.hash

    return await on(url, read)


async def test_0005_starts_the_head_of_an_empty_chain_at_the_genesis_hash(database_url: str) -> None:
    await reset(database_url)
    await migrate(database_url)
    assert await head_row(database_url) == (None, GENESIS_HASH)


async def test_0005_fills_the_head_from_the_existing_chain(database_url: str) -> None:
    """A database with records written before the head existed: the head is its newest record, the next append
    chains onto it, and after a downgrade to 0004 and back the head is filled again from the chain."""
    await reset(database_url)
    await migrate(database_url, "0001")
    request_id = await on(database_url, write_first_release_data)
    await migrate(database_url, "0004")
    before = await last_record(database_url)
    assert await migrate(database_url) == ALL[ALL.index("0005") :]
    assert await head_row(database_url) == before

    store = RequestStore.from_url(database_url)
    try:
        assert await store.transition(request_id, Event.CANCEL, actor="UALICE", now=NOW)
        after = await last_record(database_url)
        assert after[0] > before[0] and await head_row(database_url) == after
        trail = await store.audit_trail()
        assert trail[-1].prev_hash == trail[-2].hash == before[1]
        assert (await verify_chain(store)).ok
        async with store.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0004"))
    finally:
        await store.close()
    assert await migrate(database_url) == ALL[ALL.index("0005") :]
    assert await head_row(database_url) == after


def old_request_row(request_id: str, the_plan: RestorePlan, index: int, **extra: Any) -> dict[str, Any]:
    """A request's row as an earlier revision wrote it: two approvals required, target `tgt<index>in09`."""
    return dict(
        id=request_id,
        fingerprint=the_plan.fingerprint(),
        plan_json=the_plan.model_dump_json(),
        source_instance_id=the_plan.source.id,
        target_instance_id=f"tgt{index}in09",
        requester_id="UALICE",
        channel_id="C1",
        required_approvals=2,
        created_ms=ms(NOW),
        expires_ms=ms(NOW + timedelta(hours=1)),
        updated_ms=ms(NOW),
        **extra,
    )


# ---- revision 0008: the figures' times -----------------------------------------------------------------------------


def write_0007_history(conn: Connection) -> dict[str, str]:
    """Requests as revision 0007 left them: one completed (two approvals, its job recorded), one running whose
    history names no job_submitted or reconciled record, one rejected after an approval."""
    the_plan = plan()
    ids = {"completed": "R-DONE001", "running": "R-RUNN001", "rejected": "R-REJE001"}
    rows: dict[str, dict[str, Any]] = {
        "completed": dict(
            state="COMPLETED", job_id="job-1", submitted_ms=ms(NOW) + 600_000, finished_ms=ms(NOW) + 900_000
        ),
        "running": dict(state="RUNNING", job_id="job-2", submitted_ms=ms(NOW) + 120_000),
        "rejected": dict(state="REJECTED", decided_by="UCAROL"),
    }
    for index, (name, extra) in enumerate(rows.items()):
        conn.execute(insert(schema.requests).values(old_request_row(ids[name], the_plan, index, **extra)))
    approvals = [("completed", "UBOB", 60_000), ("completed", "UCAROL", 300_000), ("running", "UBOB", 30_000)]
    approvals += [("running", "UCAROL", 90_000), ("rejected", "UBOB", 10_000)]
    for name, user, after_ms in approvals:
        conn.execute(
            insert(schema.approvals).values(
                request_id=ids[name], user_id=user, fingerprint=the_plan.fingerprint(), at_ms=ms(NOW) + after_ms
            )
        )
    for seq, (name, action, after_ms) in enumerate(
        [("completed", "job_submitted", 601_500), ("running", "outcome_unknown", 121_000)], start=1
    ):
        conn.execute(
            insert(schema.audit).values(
                seq=seq,
                at_ms=ms(NOW) + after_ms,
                request_id=ids[name],
                actor="system",
                action=action,
                details="{}",
                prev_hash=GENESIS_HASH,
                hash=GENESIS_HASH,
            )
        )
    return ids


async def test_0008_fills_the_figures_times_of_earlier_requests_from_their_history(database_url: str) -> None:
    await reset(database_url)
    await migrate(database_url, "0007")
    ids = await on(database_url, write_0007_history)
    assert await migrate(database_url) == ["0008", "0009", "0010", "0011", "0012", "0013", "0014"]
    store = RequestStore.from_url(database_url)
    try:
        completed, running, rejected = [await store.get(ids[name]) for name in ("completed", "running", "rejected")]
    finally:
        await store.close()
    assert completed is not None and running is not None and rejected is not None
    # Approved with its last approval; its job started when the job was recorded.
    assert completed.approved_at == NOW + timedelta(minutes=5)
    assert completed.job_started_at == NOW + timedelta(milliseconds=601_500)
    # No job_submitted or reconciled record: the submission stands in for the job's start.
    assert running.approved_at == NOW + timedelta(seconds=90)
    assert running.job_started_at == NOW + timedelta(minutes=2)
    # Never approved, whatever approvals it had; no job.
    assert rejected.approved_at is None and rejected.job_started_at is None


def test_cli_migrate_and_audit_read_database_url_file_as_the_bot_does(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Compose and Kubernetes give DATABASE_URL as a secret file (README): `migrate` and `audit` read it too."""
    asyncio.run(reset(database_url))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    secret = tmp_path / "database_url"
    secret.write_text(database_url + "\n", encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL_FILE", str(secret))
    assert main(["migrate"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith("applied 0001") and err == ""
    assert main(["audit", "verify"]) == 0
    capsys.readouterr()

    monkeypatch.setenv("DATABASE_URL", database_url)  # both: which was meant can't be known
    assert main(["migrate"]) == 2
    _, err = capsys.readouterr()
    assert err == "ddm-restore-bot: DATABASE_URL and DATABASE_URL_FILE are both set: keep one.\n"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("DATABASE_URL_FILE", str(tmp_path / "missing"))
    assert main(["migrate"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("ddm-restore-bot: DATABASE_URL_FILE: cannot read ") and len(err.splitlines()) == 1


# ---- revision 0010: the frozen approval flow ------------------------------------------------------------------------


def write_0008_requests(conn: Connection) -> dict[str, str]:
    """As revision 0008 left them: a pending request of two stages with its first approval, and a completed one."""
    the_plan = plan()
    ids = {"pending": "R-PEND001", "completed": "R-DONE001"}
    for index, (name, state) in enumerate((("pending", "PENDING"), ("completed", "COMPLETED"))):
        conn.execute(insert(schema.requests).values(old_request_row(ids[name], the_plan, index, state=state)))
        conn.execute(
            insert(schema.approvals).values(
                request_id=ids[name], user_id="UBOB", fingerprint=the_plan.fingerprint(), at_ms=ms(NOW), stage=1
            )
        )
    return ids


async def test_0010_and_the_start_freeze_the_environments_stages_into_pending_requests_made_before(
    database_url: str,
) -> None:
    await reset(database_url)
    await migrate(database_url, "0009")
    ids = await on(database_url, write_0008_requests)
    assert await migrate(database_url) == ["0010", "0011", "0012", "0013", "0014"]
    store = RequestStore.from_url(database_url)
    lead, owner = Stage("DBA lead", frozenset({"UBOB"})), Stage("Service owner", frozenset({"UDAN"}))
    gateway = HuaweiDdmGateway(
        DdmClient(
            endpoint="http://127.0.0.1:9",  # never called: freezing a flow asks nothing of DDM
            project_id="p1",
            auth=AkSkAuth(ak="AK", sk="SK", project_id="p1"),
            region="cn-north-4",
        )
    )
    try:
        pending = await store.get(ids["pending"])
        assert pending is not None and pending.flow is None  # the database alone does not know the stages
        # The bot starts with the environment as it was: its stages are frozen into the pending request.
        policy = ApprovalPolicy(stages=(lead, owner))
        desk = RestoreDesk(
            store=store,
            places=Places.one(gateway, policy),
            directory=None,
            clock=lambda: NOW,
            submit=None,  # type: ignore[arg-type]
        )
        assert await desk.freeze_flows() == [ids["pending"]]
        frozen = await store.get(ids["pending"])
        assert frozen is not None and frozen.flow == Flow((lead, owner), backfilled=True)
        assert frozen.fingerprint == pending.fingerprint and frozen.fingerprint_matches_plan
        assert (await store.get(ids["completed"])).flow is None  # type: ignore[union-attr]
        assert [r.action for r in await store.audit_trail(ids["pending"])] == ["flow_frozen"]
        assert (await verify_chain(store)).ok
        # Its approval from before counts in stage 1; the owner completes stage 2.
        done = await store.approve(ids["pending"], user_id="UDAN", fingerprint=pending.fingerprint, now=NOW, stage=2)
        assert done.added and done.approved
    finally:
        await gateway.aclose()
        await store.close()
