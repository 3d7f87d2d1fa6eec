"""The audit trail from outside the bot: `ddm-restore-bot audit export` and `ddm-restore-bot audit verify`.

Each record's hash is sha256(prev_hash + canonical JSON of the record) (bot.store.audit_chain.hashed_audit_record)
and its prev_hash is the hash of the record before it, from GENESIS_HASH on. Verifying recomputes every hash in
seq order, so a changed record, a deleted one, an inserted one and a reordering all break the chain at a seq
this module names; then the chain's end must be the head table's (bot.store.audit_tail), which shows records
cut off the end and records written behind the head's back. What the database alone cannot show is a chain
cut or rebuilt by someone who also rewrote the head: `verify --expect-head` checks against a head kept
elsewhere (`verify` prints it, `export` ends with it, the bot logs it hourly).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import inspect, select
from sqlalchemy.engine import Row
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import DependencyError, StoreUnavailable
from bot.store import schema
from bot.store.audit_chain import GENESIS_HASH, AuditHead, audit_hash, read_head, stored_record
from bot.store.audit_tail import ChainBreak, ChainEnd
from bot.store.migrate import configured_database_url, fail, one_line, shown_url
from bot.store.rows import dt, ms
from bot.store.sql_store import RequestStore

FORMATS = ("jsonl",)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# `SEQ:HASH` as `audit verify` prints it, or `seq=SEQ hash=HASH` as the bot logs it (`audit head seq=… hash=…`).
_HEAD_RE = re.compile(r"^(?:(\d+):|seq=(\d+)\s+hash=)([0-9a-fA-F]{64})$")
# Rows fetched per round trip while streaming the table.
_BATCH = 1000


class AuditUnavailable(DependencyError):
    """The database cannot be read as an audit trail (no table, an old schema); the message says what to do."""


@dataclass(frozen=True)
class Verification:
    count: int  # records checked and found intact (all of them when the chain is whole)
    last_seq: int | None
    last_hash: str | None
    broken: ChainBreak | None = None
    head: AuditHead | None = None  # the head table's, read in the same snapshot as the records
    after_expected: int = 0  # records after the head kept elsewhere (`expect`), when it was found

    @property
    def ok(self) -> bool:
        return self.broken is None


def parse_since(text: str) -> datetime:
    """`YYYY-MM-DD` (midnight UTC) or an ISO-8601 time with a zone; ValueError naming what is wrong."""
    value = text.strip()
    if _DATE_RE.fullmatch(value):
        try:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
        except ValueError:
            raise ValueError(f"--since: {text!r} is not a calendar date (YYYY-MM-DD)") from None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--since: {text!r} is neither a date (YYYY-MM-DD) nor an ISO-8601 time with a zone "
            "(e.g. 2026-11-27T09:00:00Z or 2026-11-27T17:00:00+08:00)"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"--since: {text!r} has no time zone; add one (Z, +08:00) or give a date (YYYY-MM-DD, UTC)")
    return moment.astimezone(UTC)


def parse_expected_head(text: str) -> AuditHead:
    """`SEQ:HASH` (or the log line's `seq=SEQ hash=HASH`); ValueError naming what is wrong."""
    found = _HEAD_RE.fullmatch(text.strip().removeprefix("audit head ").strip())
    if found is None:
        raise ValueError(
            f"--expect-head: {text!r} is not SEQ:HASH (the record's seq, a colon and its 64 hex digit hash, "
            "as `audit verify` prints them or the bot logs them: audit head seq=… hash=…)"
        )
    seq = int(found[1] or found[2])
    hash_ = found[3].lower()
    if seq == 0 and hash_ != GENESIS_HASH:
        raise ValueError(f"--expect-head: seq 0 is the empty chain, whose hash is {GENESIS_HASH}")
    return AuditHead(seq or None, hash_)


def iso_utc(epoch_ms: int) -> str:
    moment = dt(epoch_ms)
    assert moment is not None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def export_record(row: Row[Any]) -> dict[str, Any]:
    """One audit row as the JSON object `audit export` writes."""
    try:
        details: Any = json.loads(row.details)
    except ValueError:
        details = row.details  # not JSON any more: shown as stored (verify reports it)
    return {
        "seq": row.seq,
        "at": iso_utc(row.at_ms),
        "request_id": row.request_id,
        "actor": row.actor,
        "action": row.action,
        "from_state": row.from_state,
        "to_state": row.to_state,
        "fingerprint": row.fingerprint,
        "job_id": row.job_id,
        "error_code": row.error_code,
        "permalink": row.permalink,
        "details": details,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def expected_hash(row: Row[Any]) -> str:
    """The hash the row must carry, recomputed from its content and prev_hash; ValueError if details is not JSON."""
    return audit_hash(row.prev_hash, stored_record(row))


async def export_jsonl(store: RequestStore, out: TextIO, *, since: datetime | None = None) -> int:
    """Write the records (from `since` on, in seq order) as JSON lines, then the chain's head as the head table
    holds it, in the same snapshot: `{"head": {"seq": …, "hash": …}}` (null when the head row is gone). An
    export cut short lacks that last line. Returns how many records."""
    query = select(schema.audit).order_by(schema.audit.c.seq)
    if since is not None:
        query = query.where(schema.audit.c.at_ms >= ms(since))
    count = 0
    async with _snapshot(store) as conn:
        await _check_table(conn)
        head = await read_head(conn)
        result = await conn.stream(query.execution_options(yield_per=_BATCH))
        async for row in result:
            out.write(_json_line(export_record(row)))
            count += 1
    out.write(_json_line({"head": {"seq": head.seq, "hash": head.hash} if head is not None else None}))
    return count


def _json_line(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


async def verify_chain(store: RequestStore, *, expect: AuditHead | None = None) -> Verification:
    """Recompute the chain from the first record, stopping at the first record that breaks it; then check that
    the chain ends where the head table says (a record cut off the end, or one appended without the bot, shows
    only there) and, given `expect` (a head kept outside the database), that the chain still holds it."""
    count = 0
    last_seq: int | None = None
    last_hash = GENESIS_HASH
    async with _snapshot(store) as conn:
        await _check_table(conn)
        head = await read_head(conn)
        tail = ChainEnd(head, expect)
        result = await conn.stream(
            select(schema.audit).order_by(schema.audit.c.seq).execution_options(yield_per=_BATCH)
        )
        async for row in result:
            if row.prev_hash != last_hash:
                await result.close()
                reason = await _explain_link(conn, row, last_seq)
                return Verification(count, last_seq, _last(last_seq, last_hash), ChainBreak(row.seq, reason), head)
            try:
                intact = expected_hash(row) == row.hash
                why = "its content does not match its hash: the record was changed after it was written"
            except ValueError:
                intact = False
                why = "its details are not valid JSON: the record was changed after it was written"
            if not intact:
                await result.close()
                return Verification(count, last_seq, _last(last_seq, last_hash), ChainBreak(row.seq, why), head)
            tail.saw(row.seq, row.hash)
            count += 1
            last_seq, last_hash = row.seq, row.hash
    last = _last(last_seq, last_hash)
    found = tail.expected_break(last_seq) or tail.head_break(last_seq)
    if found is not None:
        broken, intact = found
        return Verification(intact, last_seq, last, broken, head)
    return Verification(count, last_seq, last, None, head, tail.after_expected)


@asynccontextmanager
async def _snapshot(store: RequestStore) -> AsyncIterator[AsyncConnection]:
    """A read-only connection whose statements all see one snapshot, so that the head and the records agree
    while the bot goes on appending (SQLite: one deferred transaction; PostgreSQL: REPEATABLE READ)."""
    async with store.reader.connect() as conn:
        if not store.is_sqlite:
            await conn.execution_options(isolation_level="REPEATABLE READ")
        yield conn


def _last(seq: int | None, hash_: str) -> str | None:
    return hash_ if seq is not None else None


async def _explain_link(conn: AsyncConnection, row: Row[Any], prev_seq: int | None) -> str:
    """Why `row` does not follow the record before it (`prev_seq`, None when it is the first one)."""
    a = schema.audit
    followed = (await conn.execute(select(a.c.seq).where(a.c.hash == row.prev_hash).limit(1))).scalar()
    if followed is not None:
        if followed > row.seq:
            return f"it follows seq {followed}, which comes after it: records were reordered"
        where = f"not seq {prev_seq}" if prev_seq is not None else "but is stored first"
        return f"it follows seq {followed}, {where}: a record was inserted before it or records were reordered"
    if prev_seq is None:
        return "the first record does not start the chain (its prev_hash is not the genesis hash): records before it were deleted"
    if row.seq > prev_seq + 1:
        missing = f"seq {prev_seq + 1}" if row.seq == prev_seq + 2 else f"seq {prev_seq + 1}…{row.seq - 1}"
        return (
            f"its prev_hash is not the hash of seq {prev_seq} and matches no record: "
            f"the record before it ({missing}) was deleted"
        )
    return (
        f"its prev_hash is not the hash of seq {prev_seq} and matches no record: seq {prev_seq} was rewritten "
        "(content and hash), or the record between them was deleted"
    )


async def _check_table(conn: AsyncConnection) -> None:
    def columns(sync_conn: Any) -> tuple[set[str] | None, bool]:
        inspector = inspect(sync_conn)
        has_head = inspector.has_table(schema.audit_head.name)
        if not inspector.has_table(schema.audit.name):
            return None, has_head
        return {column["name"] for column in inspector.get_columns(schema.audit.name)}, has_head

    found, has_head = await conn.run_sync(columns)
    if found is None:
        raise AuditUnavailable("the database has no audit table: run `ddm-restore-bot migrate` (or the bot) first")
    missing = sorted(set(schema.audit.c.keys()) - found)
    if missing or not has_head:
        what = f"the audit table has no {', '.join(missing)}" if missing else "the database has no audit head table"
        raise AuditUnavailable(f"{what} yet (an older schema): run `ddm-restore-bot migrate` first")


# ---- command line --------------------------------------------------------------------------------------------


def audit_cli(
    action: str | None,
    *,
    since: str | None = None,
    fmt: str | None = None,
    expect_head: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`audit export|verify`: 0 done (chain intact), 1 chain broken or database problem, 2 bad arguments."""
    out = out or sys.stdout
    err = err or sys.stderr
    if action not in ("export", "verify"):
        return fail(
            "audit: say what to do: `audit export [--since …] [--format jsonl]` or `audit verify [--expect-head SEQ:HASH]`",
            err,
        )
    moment = None
    expected = None
    if expect_head is not None:
        try:
            expected = parse_expected_head(expect_head)
        except ValueError as exc:
            return fail(str(exc), err)
    if action == "export":
        if fmt is not None and fmt not in FORMATS:
            return fail(f"--format: {fmt!r} is not supported (formats: {', '.join(FORMATS)})", err)
        if since is not None:
            try:
                moment = parse_since(since)
            except ValueError as exc:
                return fail(str(exc), err)
    try:
        url = configured_database_url()
        shown = shown_url(url)
        missing_file = _missing_sqlite_file(url)
        if missing_file:
            return fail(f"audit {action}: no database file at {missing_file} (check DATABASE_URL)", err, code=1)
        store = RequestStore.from_url(url)
    except ValueError as exc:
        return fail(str(exc), err)
    except (ArgumentError, ImportError) as exc:  # a driver the bot does not install (e.g. postgresql+psycopg)
        return fail(f"DATABASE_URL: {one_line(exc)}", err)

    async def run(work: Callable[[RequestStore], Any]) -> Any:
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        if action == "export":
            asyncio.run(run(lambda s: export_jsonl(s, out, since=moment)))
            out.flush()
            return 0
        result: Verification = asyncio.run(run(lambda s: verify_chain(s, expect=expected)))
    except BrokenPipeError:  # `audit export | head`: the reader has all it wanted
        with suppress(OSError, ValueError):  # and Python's flush of stdout at exit must not complain
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0
    except AuditUnavailable as exc:
        return fail(f"audit {action}: {exc} ({shown})", err, code=1)
    except (SQLAlchemyError, OSError, StoreUnavailable) as exc:
        return fail(f"audit {action}: cannot read the database at {shown}: {one_line(exc)}", err, code=1)
    if result.broken is not None:
        at = f" at seq {result.broken.seq}" if result.broken.seq is not None else ""
        print(f"audit chain BROKEN{at}: {result.broken.reason}", file=out)
        print(f"({result.count} record(s) before it are intact)", file=out)
        return 1
    print(f"audit chain OK: {result.count} records", file=out)
    if result.last_seq is not None:
        print(f"head: seq {result.last_seq} hash {result.last_hash}", file=out)
    if expected is not None and expected.seq is not None:
        print(
            f"the head kept elsewhere (seq {expected.seq}) holds; {result.after_expected} record(s) after it", file=out
        )
    return 0


def _missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite URL whose file does not exist (reading must not create an empty database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return None if Path(parsed.database).exists() else parsed.database
