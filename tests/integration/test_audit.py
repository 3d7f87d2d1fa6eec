"""The audit trail on SQLite and PostgreSQL: context columns, JSONL export, and a hash chain that names the
first record someone changed, deleted or moved.

The PostgreSQL variant shares one database per test session: every test starts from an emptied database.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import insert, select, text, update

from bot.cli import main
from bot.observability.audit_head import AuditHeadLog
from bot.restore.lifecycle import Event
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import RequestState
from bot.runtime.supervisor import Supervisor
from bot.store import schema
from bot.store.audit import export_jsonl, parse_expected_head, parse_since, verify_chain
from bot.store.audit_chain import GENESIS_HASH, AuditHead, audit_hash, current_head, hashed_audit_record
from bot.store.sql_store import RequestStore
from tests.support.pg_outage import outage_database

S = RequestState
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
PERMALINK = "https://example.slack.com/archives/C1/p1795770000000100"
FIELDS = [
    "seq",
    "at",
    "request_id",
    "actor",
    "action",
    "from_state",
    "to_state",
    "fingerprint",
    "job_id",
    "error_code",
    "permalink",
    "details",
    "prev_hash",
    "hash",
]


async def reset(url: str) -> None:
    store = RequestStore.from_url(url)
    try:
        async with store.engine.begin() as conn:
            if store.is_sqlite:
                await conn.run_sync(schema.metadata.drop_all)
                await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            else:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await store.close()


async def fresh_store(url: str) -> RequestStore:
    await reset(url)
    store = RequestStore.from_url(url)
    await store.create_schema()
    return store


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[RequestStore]:
    store = await fresh_store(database_url)
    yield store
    await store.close()


def plan(target: str) -> RestorePlan:
    return RestorePlan(
        project_id="p1",
        source=NamedRef(id="srcin09", name="orders-prod"),
        target=NamedRef(id=target, name=f"restore-{target}"),
        restore_time_ms=1_795_000_000_000,
        mappings=(DataNodeMapping(source=NamedRef(id="s1in01", name="rds-0"), target=NamedRef(id="t1in01")),),
    )


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


async def make_history(store: RequestStore) -> list[str]:
    """Twelve audit records over three requests; returns the request ids."""

    async def move(request_id: str, event: Event, minute: int, **kwargs: Any) -> None:
        moved = await store.transition(request_id, event, actor=kwargs.pop("actor", "system"), now=at(minute), **kwargs)
        assert moved is not None

    async def create(target: str, minute: int, required: int = 1) -> str:
        request = await store.create(
            plan=plan(target),
            requester_id="UALICE",
            channel_id="C1",
            required_approvals=required,
            now=at(minute),
            expires_at=at(minute + 60),
        )
        return request.id

    # 1: approved, submitted, and the DDM job failed
    # (two approvals required, one given: the move to APPROVED is a record of its own, a minute later)
    r1 = await create("tgt1in09", 0, required=2)
    r1_fingerprint = plan("tgt1in09").fingerprint()
    assert (await store.approve(r1, user_id="UBOB", fingerprint=r1_fingerprint, now=at(1))).added
    await move(r1, Event.APPROVED, 2, actor="UBOB", details={"approvers": ["UBOB"]})
    await move(r1, Event.SUBMIT, 3)
    await move(r1, Event.JOB_SUBMITTED, 4, values={"job_id": "job-1"}, details={"job_id": "job-1"})
    await move(
        r1,
        Event.JOB_FAILED,
        5,
        values={"error_code": "JOB_FAILED", "error_msg": "disk full"},
        details={"job_id": "job-1", "status": "FAILED", "fail_reason": "disk full"},
    )
    # 2: its card's permalink is known; then cancelled
    r2 = await create("tgt2in09", 10)
    async with store.engine.begin() as conn:
        await conn.execute(update(schema.requests).where(schema.requests.c.id == r2).values(permalink=PERMALINK))
    await move(r2, Event.CANCEL, 11, actor="UALICE")
    # 3: DDM refused the restore
    r3 = await create("tgt3in09", 20)
    await move(r3, Event.APPROVED, 21, actor="UBOB")
    await move(r3, Event.SUBMIT, 22)
    await move(
        r3,
        Event.SUBMIT_FAILED,
        23,
        values={"error_code": "DBS.300372", "error_msg": "target not new"},
        details={"error_code": "DBS.300372", "error_msg": "target not new", "permalink": PERMALINK + "?thread=1"},
    )
    return [r1, r2, r3]


async def seqs(store: RequestStore) -> list[int]:
    async with store.reader.connect() as conn:
        return list((await conn.execute(select(schema.audit.c.seq).order_by(schema.audit.c.seq))).scalars())


async def sql(store: RequestStore, statement: str, **params: Any) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(text(statement), params)


# ---- the records -------------------------------------------------------------------------------------------------


async def test_records_carry_job_id_error_code_and_permalink(store: RequestStore) -> None:
    r1, r2, r3 = await make_history(store)
    trail = [(r.request_id, r.action, r.job_id, r.error_code, r.permalink) for r in await store.audit_trail()]
    assert trail == [
        (r1, "create", None, None, None),
        (r1, "approve", None, None, None),
        (r1, "approved", None, None, None),
        (r1, "submit", None, None, None),
        (r1, "job_submitted", "job-1", None, None),
        (r1, "job_failed", "job-1", "JOB_FAILED", None),
        (r2, "create", None, None, None),
        (r2, "cancel", None, None, PERMALINK),
        (r3, "create", None, None, None),
        (r3, "approved", None, None, None),
        (r3, "submit", None, None, None),
        (r3, "submit_failed", None, "DBS.300372", PERMALINK + "?thread=1"),
    ]


async def test_context_fields_are_inside_the_hash_only_when_set(store: RequestStore) -> None:
    """Records without them hash as the first release's did; with them, the hash covers them too."""
    await make_history(store)
    for record in await store.audit_trail():
        body = {
            "at_ms": record.at_ms,
            "request_id": record.request_id,
            "actor": record.actor,
            "action": record.action,
            "from_state": record.from_state,
            "to_state": record.to_state,
            "fingerprint": record.fingerprint,
            "details": record.details,
        }
        context = {"job_id": record.job_id, "error_code": record.error_code, "permalink": record.permalink}
        body.update({k: v for k, v in context.items() if v is not None})
        assert record.hash == audit_hash(record.prev_hash, body)


async def test_an_overlong_job_id_is_cut_not_fatal(store: RequestStore) -> None:
    request = await store.create(
        plan=plan("tgt9in09"), requester_id="UALICE", channel_id="C1", required_approvals=1, now=NOW, expires_at=at(60)
    )
    moved = await store.transition(
        request.id,
        Event.CANCEL,
        actor="UALICE",
        now=NOW,
        details={"job_id": "j" * 300},
    )
    assert moved is not None
    last = (await store.audit_trail())[-1]
    assert last.job_id == "j" * 128 and last.details == {"job_id": "j" * 300}
    assert (await verify_chain(store)).ok


# ---- export ----------------------------------------------------------------------------------------------------------


async def test_export_writes_one_json_object_per_record(store: RequestStore) -> None:
    r1, r2, r3 = await make_history(store)
    out = io.StringIO()
    assert await export_jsonl(store, out) == 12
    lines = out.getvalue().splitlines()
    records = [json.loads(line) for line in lines[:-1]]
    assert len(records) == 12
    assert all(list(r) == FIELDS for r in records)
    assert [r["seq"] for r in records] == await seqs(store)
    assert [r["at"] for r in records[:3]] == [
        "2026-11-27T09:00:00.000Z",
        "2026-11-27T09:01:00.000Z",
        "2026-11-27T09:02:00.000Z",
    ]
    first = records[0]
    assert first["request_id"] == r1 and first["actor"] == "UALICE" and first["action"] == "create"
    assert (first["from_state"], first["to_state"]) == (None, "PENDING")
    assert first["fingerprint"] == plan("tgt1in09").fingerprint()
    assert first["details"]["channel_id"] == "C1" and first["details"]["plan"]["target"]["id"] == "tgt1in09"
    assert first["prev_hash"] == GENESIS_HASH
    for before, after in itertools.pairwise(records):
        assert after["prev_hash"] == before["hash"]
    assert (records[5]["job_id"], records[5]["error_code"]) == ("job-1", "JOB_FAILED")
    assert records[5]["details"] == {"job_id": "job-1", "status": "FAILED", "fail_reason": "disk full"}
    assert (records[7]["request_id"], records[7]["permalink"]) == (r2, PERMALINK)
    assert (records[11]["request_id"], records[11]["error_code"]) == (r3, "DBS.300372")


async def test_export_since(store: RequestStore) -> None:
    await make_history(store)
    out = io.StringIO()
    assert await export_jsonl(store, out, since=at(11)) == 5
    records = [json.loads(line) for line in out.getvalue().splitlines()[:-1]]
    assert [r["action"] for r in records] == ["cancel", "create", "approved", "submit", "submit_failed"]
    assert records[0]["at"] == "2026-11-27T09:11:00.000Z"


def test_since_accepts_a_date_or_a_zoned_time() -> None:
    assert parse_since("2026-11-27") == datetime(2026, 11, 27, tzinfo=UTC)
    assert parse_since("2026-11-27T17:11:00+08:00") == at(11)
    assert parse_since("2026-11-27T09:11:00Z") == at(11)
    for bad, why in [
        ("2026-11-27T09:11:00", "has no time zone"),
        ("yesterday", "neither a date (YYYY-MM-DD) nor an ISO-8601 time with a zone"),
        ("2026-02-30", "is not a calendar date"),
    ]:
        with pytest.raises(ValueError, match=re.escape(why)):
            parse_since(bad)


# ---- verify ----------------------------------------------------------------------------------------------------------


async def test_an_untouched_chain_verifies(store: RequestStore) -> None:
    empty = await verify_chain(store)
    assert empty.ok and empty.count == 0 and empty.last_seq is None
    await make_history(store)
    result = await verify_chain(store)
    trail = await store.audit_trail()
    assert result.ok and result.count == 12
    assert (result.last_seq, result.last_hash) == (trail[-1].seq, trail[-1].hash)


async def rewrite_with_new_hash(store: RequestStore, seq: int) -> None:
    """A careful forger: change a record and give it the hash that matches (the next record still points at
    the old one)."""
    async with store.engine.begin() as conn:
        row = (await conn.execute(select(schema.audit).where(schema.audit.c.seq == seq))).one()
        body = hashed_audit_record(
            at_ms=row.at_ms,
            request_id=row.request_id,
            actor="UMALLORY",
            action=row.action,
            from_state=row.from_state,
            to_state=row.to_state,
            fingerprint=row.fingerprint,
            details=json.loads(row.details),
        )
        await conn.execute(
            update(schema.audit)
            .where(schema.audit.c.seq == seq)
            .values(actor="UMALLORY", hash=audit_hash(row.prev_hash, body))
        )


# What is done to the table -> (index of the record reported, words of the reason, records intact before it).
TAMPERING: dict[str, tuple[str, int, str, int]] = {
    "actor changed": ("UPDATE restore_audit SET actor = 'UMALLORY' WHERE seq = {2}", 2, "was changed", 2),
    "details changed": (
        'UPDATE restore_audit SET details = \'{{"reason":"forged"}}\' WHERE seq = {7}',
        7,
        "was changed",
        7,
    ),
    "details not json": ("UPDATE restore_audit SET details = '{{oops' WHERE seq = {3}", 3, "not valid JSON", 3),
    "job id changed": ("UPDATE restore_audit SET job_id = 'job-forged' WHERE seq = {4}", 4, "was changed", 4),
    "error code removed": ("UPDATE restore_audit SET error_code = NULL WHERE seq = {11}", 11, "was changed", 11),
    "state changed": ("UPDATE restore_audit SET to_state = 'COMPLETED' WHERE seq = {5}", 5, "was changed", 5),
    "time changed": ("UPDATE restore_audit SET at_ms = at_ms + 1 WHERE seq = {6}", 6, "was changed", 6),
    "middle deleted": ("DELETE FROM restore_audit WHERE seq = {5}", 6, "the record before it (seq {5}) was deleted", 5),
    "two deleted": ("DELETE FROM restore_audit WHERE seq IN ({5}, {6})", 7, "(seq {5}…{6}) was deleted", 5),
    "first deleted": ("DELETE FROM restore_audit WHERE seq = {0}", 1, "records before it were deleted", 0),
    "reordered": (
        "UPDATE restore_audit SET seq = -1 WHERE seq = {4};"
        "UPDATE restore_audit SET seq = {4} WHERE seq = {5};"
        "UPDATE restore_audit SET seq = {5} WHERE seq = -1",
        4,
        "it follows seq {5}, which comes after it: records were reordered",
        4,
    ),
    "rewritten with a matching hash": ("rewrite", 3, "seq {2} was rewritten", 3),
}


@pytest.mark.parametrize("case", list(TAMPERING))
async def test_tampering_is_found_at_the_right_record(store: RequestStore, case: str) -> None:
    await make_history(store)
    assert (await verify_chain(store)).ok
    numbers = await seqs(store)
    statement, broken_index, reason, intact = TAMPERING[case]
    if statement == "rewrite":
        await rewrite_with_new_hash(store, numbers[2])
    else:
        for part in statement.format(*numbers).split(";"):
            await sql(store, part)

    result = await verify_chain(store)
    assert result.broken is not None and not result.ok
    assert result.broken.seq == numbers[broken_index], result.broken
    assert reason.format(*numbers) in result.broken.reason, result.broken
    assert result.count == intact


# ---- command line ----------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "APPROVER_USER_IDS", "HUAWEICLOUD_SDK_AK"):
        monkeypatch.delenv(name, raising=False)
    return database_url


def with_history(url: str, *, tamper: str | None = None) -> None:
    async def build() -> None:
        store = await fresh_store(url)
        try:
            await make_history(store)
            if tamper:
                await sql(store, tamper.format(*await seqs(store)))
        finally:
            await store.close()

    asyncio.run(build())


def test_cli_export(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    with_history(cli_env)
    assert main(["audit", "export"]) == 0
    out, err = capsys.readouterr()
    *records, head = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 12 and all(list(r) == FIELDS for r in records) and err == ""
    assert head == {"head": {"seq": records[-1]["seq"], "hash": records[-1]["hash"]}}

    assert main(["audit", "export", "--since", "2026-11-27T17:20:00+08:00", "--format", "jsonl"]) == 0
    out, _ = capsys.readouterr()
    assert [json.loads(line).get("action") for line in out.splitlines()] == [
        "create",
        "approved",
        "submit",
        "submit_failed",
        None,
    ]
    assert main(["audit", "export", "--since", "2026-11-28"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == [json.dumps(head, separators=(",", ":"))]  # no records, and the head


def test_cli_verify(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    with_history(cli_env)
    assert main(["audit", "verify"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "audit chain OK: 12 records"
    assert lines[1].startswith("head: seq ") and err == ""

    with_history(cli_env, tamper="UPDATE restore_audit SET actor = 'UMALLORY' WHERE seq = {2}")
    assert main(["audit", "verify"]) == 1
    out, _ = capsys.readouterr()
    assert out.splitlines()[0] == (
        "audit chain BROKEN at seq 3: its content does not match its hash: the record was changed after it was written"
    )

    with_history(cli_env, tamper="DELETE FROM restore_audit WHERE seq = {5}")
    assert main(["audit", "verify"]) == 1
    out, _ = capsys.readouterr()
    assert out.splitlines()[0].startswith("audit chain BROKEN at seq 7: ")
    assert "(seq 6) was deleted" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["audit", "export", "--since", "2026-11-27T09:00"],
            "ddm-restore-bot: --since: '2026-11-27T09:00' has no time zone; add one (Z, +08:00) or give a date (YYYY-MM-DD, UTC)",
        ),
        (
            ["audit", "export", "--since", "last week"],
            "ddm-restore-bot: --since: 'last week' is neither a date (YYYY-MM-DD) nor an ISO-8601 time with a zone "
            "(e.g. 2026-11-27T09:00:00Z or 2026-11-27T17:00:00+08:00)",
        ),
        (["audit", "export", "--format", "csv"], "ddm-restore-bot: --format: 'csv' is not supported (formats: jsonl)"),
        (
            ["audit"],
            "ddm-restore-bot: audit: say what to do: `audit export [--since …] [--format jsonl]` or "
            "`audit verify [--expect-head SEQ:HASH]`",
        ),
        (
            ["audit", "verify", "--expect-head", "12"],
            "ddm-restore-bot: --expect-head: '12' is not SEQ:HASH (the record's seq, a colon and its 64 hex digit "
            "hash, as `audit verify` prints them or the bot logs them: audit head seq=… hash=…)",
        ),
        (
            ["audit", "verify", "--expect-head", "12:" + "g" * 64],
            "ddm-restore-bot: --expect-head: '12:" + "g" * 64 + "' is not SEQ:HASH (the record's seq, a colon and "
            "its 64 hex digit hash, as `audit verify` prints them or the bot logs them: audit head seq=… hash=…)",
        ),
        (
            ["audit", "verify", "--expect-head", "0:" + "a" * 64],
            f"ddm-restore-bot: --expect-head: seq 0 is the empty chain, whose hash is {GENESIS_HASH}",
        ),
    ],
)
def test_cli_bad_arguments(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never-opened.sqlite3'}")
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [message]
    assert not (tmp_path / "never-opened.sqlite3").exists()


def test_cli_on_a_database_without_the_audit_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'missing.sqlite3'}")
    assert main(["audit", "verify"]) == 1
    _, err = capsys.readouterr()
    assert (
        err
        == f"ddm-restore-bot: audit verify: no database file at {tmp_path / 'missing.sqlite3'} (check DATABASE_URL)\n"
    )
    assert not (tmp_path / "missing.sqlite3").exists()

    (tmp_path / "empty.sqlite3").touch()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert main(["audit", "export"]) == 1
    _, err = capsys.readouterr()
    assert err.startswith(
        "ddm-restore-bot: audit export: the database has no audit table: run `ddm-restore-bot migrate`"
    )
    assert len(err.splitlines()) == 1


async def test_details_are_hashed_as_they_read_back(store: RequestStore) -> None:
    """Keys that JSON turns into strings (and so sorts differently) must not break verification."""
    request = await store.create(
        plan=plan("tgt9in09"), requester_id="UALICE", channel_id="C1", required_approvals=1, now=NOW, expires_at=at(60)
    )
    await store.transition(
        request.id,
        Event.CANCEL,
        actor="UALICE",
        now=NOW,
        details={2: "two", 10: (1, 2)},
    )
    assert (await store.audit_trail())[-1].details == {"2": "two", "10": [1, 2]}
    assert (await verify_chain(store)).ok


# ---- the chain's end: the head table and a head kept elsewhere -----------------------------------------------------


async def last_record(store: RequestStore) -> Any:
    async with store.reader.connect() as conn:
        return (await conn.execute(select(schema.audit).order_by(schema.audit.c.seq.desc()).limit(1))).one()


async def head_row(store: RequestStore) -> tuple[int | None, str]:
    async with store.reader.connect() as conn:
        row = (await conn.execute(select(schema.audit_head.c.seq, schema.audit_head.c.hash))).one()
    return row.seq, row.hash


async def append_forged(store: RequestStore, *, behind_the_head: bool) -> int:
    """A forger's record, chained correctly onto the last one (its hash recomputed), as someone with write access
    to the database could write it. `behind_the_head`: written with the head's trigger out of the way (PostgreSQL
    with triggers disabled, as a data-only restore does; SQLite with the trigger dropped meanwhile)."""
    last = await last_record(store)
    record = hashed_audit_record(
        at_ms=last.at_ms + 1000,
        request_id=last.request_id,
        actor="UMALLORY",
        action="approve",
        from_state=None,
        to_state=None,
        fingerprint=last.fingerprint,
        details={"stage": 1},
    )
    values = {
        **record,
        "details": json.dumps(record["details"], separators=(",", ":"), sort_keys=True),
        "prev_hash": last.hash,
        "hash": audit_hash(last.hash, record),
    }
    async with store.engine.begin() as conn:
        if behind_the_head:
            if store.is_sqlite:
                await conn.execute(text("DROP TRIGGER restore_audit_head_follows"))
            else:
                await conn.execute(text("ALTER TABLE restore_audit DISABLE TRIGGER restore_audit_head_follows"))
        seq = (await conn.execute(insert(schema.audit).values(values).returning(schema.audit.c.seq))).scalar_one()
        if behind_the_head:
            if store.is_sqlite:
                await conn.execute(
                    text(
                        "CREATE TRIGGER restore_audit_head_follows AFTER INSERT ON restore_audit BEGIN "
                        "UPDATE restore_audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1; END"
                    )
                )
            else:
                await conn.execute(text("ALTER TABLE restore_audit ENABLE TRIGGER restore_audit_head_follows"))
    return int(seq)


async def test_deleting_the_last_record_breaks_the_chain_at_it(store: RequestStore) -> None:
    await make_history(store)
    numbers = await seqs(store)
    last = await last_record(store)
    await sql(store, "DELETE FROM restore_audit WHERE seq = :seq", seq=numbers[-1])

    result = await verify_chain(store)
    assert result.broken is not None and result.broken.seq == numbers[-1], result.broken
    assert result.broken.reason == (
        f"the audit head names this record (hash {last.hash}), but the chain ends at seq {numbers[-2]}: "
        "the last record(s) were deleted"
    )
    assert result.count == 11


async def test_a_record_appended_behind_the_heads_back_breaks_the_chain(store: RequestStore) -> None:
    await make_history(store)
    head_before = await head_row(store)
    forged = await append_forged(store, behind_the_head=True)
    assert await head_row(store) == head_before  # the head did not follow it

    result = await verify_chain(store)
    assert result.broken is not None and result.broken.seq == forged, result.broken
    assert result.broken.reason == (
        f"it comes after the audit head (seq {head_before[0]}), which every append moves: "
        "it was written into the table behind the bot's back"
    )
    assert result.count == 12


async def test_a_rewritten_head_row_or_a_missing_one_breaks_the_chain(store: RequestStore) -> None:
    await make_history(store)
    numbers = await seqs(store)
    await sql(store, "UPDATE restore_audit_head SET hash = :h", h="f" * 64)
    result = await verify_chain(store)
    assert result.broken is not None and result.broken.seq == numbers[-1]
    assert result.broken.reason == f"its hash is not the one the audit head holds ({'f' * 64}): it was rewritten"

    await sql(store, "DELETE FROM restore_audit_head")
    result = await verify_chain(store)
    assert result.broken is not None and result.broken.seq is None
    assert result.broken.reason == "the audit head row (restore_audit_head, id 1) is missing: it was deleted"


async def test_an_empty_chain_agrees_with_its_head_and_a_record_behind_it_does_not(store: RequestStore) -> None:
    result = await verify_chain(store)
    assert result.ok and result.head == AuditHead(None, GENESIS_HASH)
    request = await store.create(
        plan=plan("tgt9in09"), requester_id="UALICE", channel_id="C1", required_approvals=1, now=NOW, expires_at=at(60)
    )
    assert request.id
    first = (await seqs(store))[0]
    await sql(store, "UPDATE restore_audit_head SET seq = NULL, hash = :h", h=GENESIS_HASH)
    result = await verify_chain(store)
    assert result.broken is not None and result.broken.seq == first
    assert result.broken.reason.startswith("it comes after the audit head (an empty chain)")


async def test_export_carries_the_head(store: RequestStore) -> None:
    await make_history(store)
    out = io.StringIO()
    assert await export_jsonl(store, out, since=at(100)) == 0
    seq, hash_ = await head_row(store)
    assert json.loads(out.getvalue()) == {"head": {"seq": seq, "hash": hash_}}
    assert (seq, hash_) == ((await seqs(store))[-1], (await last_record(store)).hash)


def test_cli_verify_names_a_deleted_last_record(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    with_history(cli_env, tamper="DELETE FROM restore_audit WHERE seq = {11}")
    assert main(["audit", "verify"]) == 1
    out, _ = capsys.readouterr()
    first, second = out.splitlines()
    assert re.fullmatch(
        r"audit chain BROKEN at seq 12: the audit head names this record \(hash [0-9a-f]{64}\), "
        r"but the chain ends at seq 11: the last record\(s\) were deleted",
        first,
    ), first
    assert second == "(11 record(s) before it are intact)"


def test_cli_verify_against_a_head_kept_elsewhere(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    with_history(cli_env)
    assert main(["audit", "verify"]) == 0
    out, _ = capsys.readouterr()
    kept = re.fullmatch(r"head: seq (\d+) hash ([0-9a-f]{64})", out.splitlines()[1])
    assert kept is not None
    seq, hash_ = int(kept[1]), kept[2]

    # The head as verify printed it, and as the bot logs it: held, nothing after it.
    for given in (f"{seq}:{hash_}", f"seq={seq} hash={hash_.upper()}", f"audit head seq={seq} hash={hash_}"):
        assert main(["audit", "verify", "--expect-head", given]) == 0
        out, _ = capsys.readouterr()
        assert out.splitlines()[-1] == f"the head kept elsewhere (seq {seq}) holds; 0 record(s) after it"
    # An earlier head: held, with the records written since.
    assert main(["audit", "verify", "--expect-head", f"0:{GENESIS_HASH}"]) == 0
    capsys.readouterr()

    # Someone with write access cut the last record off and moved the head back: the head table agrees, the
    # head kept elsewhere does not.
    async def cut() -> None:
        store = RequestStore.from_url(cli_env)
        try:
            before = await last_record(store)
            async with store.engine.begin() as conn:
                await conn.execute(text("DELETE FROM restore_audit WHERE seq = :s"), {"s": seq})
                previous = (await conn.execute(text("SELECT seq, hash FROM restore_audit ORDER BY seq DESC"))).first()
                assert previous is not None and before.seq == seq
                await conn.execute(
                    text("UPDATE restore_audit_head SET seq = :s, hash = :h"), {"s": previous.seq, "h": previous.hash}
                )
        finally:
            await store.close()

    asyncio.run(cut())
    assert main(["audit", "verify"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--expect-head", f"{seq}:{hash_}"]) == 1
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        f"audit chain BROKEN at seq {seq}: the chain ends at seq {seq - 1}, short of the head kept elsewhere "
        f"(seq {seq}, hash {hash_}): records up to seq {seq} were deleted",
        f"({seq - 1} record(s) before it are intact)",
    ]

    # A head kept elsewhere whose record now has another hash: the chain was rebuilt.
    wrong = "0" * 63 + "1"
    assert main(["audit", "verify", "--expect-head", f"{seq - 1}:{wrong}"]) == 1
    out, _ = capsys.readouterr()
    assert re.fullmatch(
        rf"audit chain BROKEN at seq {seq - 1}: its hash is [0-9a-f]{{64}}, not the one of the head kept elsewhere "
        rf"\(seq {seq - 1}, hash {wrong}\): the chain was rewritten up to here",
        out.splitlines()[0],
    ), out


async def test_verify_while_the_bot_appends_sees_one_snapshot(store: RequestStore) -> None:
    """The head and the records are read in one snapshot: records appended meanwhile are never taken for
    records behind the head's back (nor the head for one whose record was deleted)."""
    await make_history(store)
    appended = 0
    stop = asyncio.Event()

    async def append() -> None:
        nonlocal appended
        while not stop.is_set():
            await store.create(
                plan=plan(f"tgt{appended}in09"),
                requester_id="UALICE",
                channel_id="C1",
                required_approvals=1,
                now=at(30 + appended),
                expires_at=at(90 + appended),
            )
            appended += 1

    writer = asyncio.create_task(append())
    verified = 0
    try:
        async with asyncio.timeout(30):
            while verified < 30 or appended < 30:
                result = await verify_chain(store)
                assert result.ok, result.broken
                verified += 1
    finally:
        stop.set()
        await writer


# ---- the hourly head line in the log -------------------------------------------------------------------------------

HEAD_LOGGER = "bot.observability.audit_head"


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(what)


def head_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == HEAD_LOGGER]


async def test_the_head_is_logged_at_start_and_every_interval(
    store: RequestStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=HEAD_LOGGER)
    await make_history(store)
    supervisor = Supervisor()
    head_log = AuditHeadLog(lambda: current_head(store), interval=0.1)
    supervisor.every("audit_head", head_log.interval, head_log.step, step_seconds=5)
    supervisor.start()
    try:
        await until(lambda: len(head_lines(caplog)) >= 1, "the first line, at start")
        seq, hash_ = await head_row(store)
        first = head_lines(caplog)[0]
        assert (first.levelno, first.getMessage()) == (logging.INFO, f"audit head seq={seq} hash={hash_}")
        # The line is a head kept elsewhere that `audit verify --expect-head` takes as it is.
        result = await verify_chain(store, expect=parse_expected_head(first.getMessage()))
        assert result.ok and result.after_expected == 0

        await store.create(
            plan=plan("tgt8in09"),
            requester_id="UALICE",
            channel_id="C1",
            required_approvals=1,
            now=at(40),
            expires_at=at(99),
        )
        new_seq, new_hash = await head_row(store)
        assert new_seq != seq
        await until(
            lambda: head_lines(caplog)[-1].getMessage() == f"audit head seq={new_seq} hash={new_hash}",
            "a later line with the new head",
        )
    finally:
        await supervisor.close()
    assert supervisor.health()[1]["audit_head"]["failures"] == 0


async def test_a_database_outage_is_one_line_and_the_head_log_goes_on(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=HEAD_LOGGER)
    async with outage_database() as db:
        store = RequestStore.from_url(db.url)
        await store.create_schema()
        supervisor = Supervisor()
        head_log = AuditHeadLog(lambda: current_head(store), interval=0.1, retry=0.1)
        supervisor.every("audit_head", head_log.interval, head_log.step, step_seconds=5)
        supervisor.start()
        try:
            await until(lambda: bool(head_lines(caplog)), "the first line")
            async with db.down():
                await until(lambda: head_lines(caplog)[-1].levelno == logging.WARNING, "the outage's line")
            outage = head_lines(caplog)[-1]
            assert outage.getMessage().startswith("audit head: the database is unavailable (")
            assert outage.getMessage().endswith("); trying again in 0 s")
            assert outage.exc_info is None and "\n" not in outage.getMessage()
            await until(lambda: head_lines(caplog)[-1].levelno == logging.INFO, "the head again after the outage")
            assert head_lines(caplog)[-1].getMessage() == f"audit head seq=0 hash={GENESIS_HASH}"
            # Nothing else logged a traceback meanwhile (the supervisor logs one for a step that raises).
            assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
        finally:
            await supervisor.close()
            await store.close()
