"""The audit trail from outside the bot: `ddm-restore-bot audit export` and `ddm-restore-bot audit verify`.

Each record's hash is sha256(prev_hash + canonical JSON of the record) (bot.store.audit_chain.hashed_audit_record)
and its prev_hash is the hash of the record before it, from GENESIS_HASH on. Verifying recomputes every hash in
seq order, so a changed record, a deleted one, an inserted one and a reordering all break the chain at a seq
this module names. What a chain cannot show by itself is records cut off at its end (or a chain rewritten
from some point on by someone who can write to the database): keep the head that `verify` prints somewhere
else (a ticket, the channel) and compare later.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Callable
from contextlib import suppress
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
from bot.store.audit_chain import GENESIS_HASH, audit_hash, stored_record
from bot.store.migrate import configured_database_url, fail, one_line, shown_url
from bot.store.rows import dt, ms
from bot.store.sql_store import RequestStore

FORMATS = ("jsonl",)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Rows fetched per round trip while streaming the table.
_BATCH = 1000


class AuditUnavailable(DependencyError):
    """The database cannot be read as an audit trail (no table, an old schema); the message says what to do."""


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


@dataclass(frozen=True)
class Verification:
    count: int  # records checked and found intact (all of them when the chain is whole)
    last_seq: int | None
    last_hash: str | None
    broken: ChainBreak | None = None

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
    """Write the records (from `since` on, in seq order) as JSON lines; returns how many."""
    query = select(schema.audit).order_by(schema.audit.c.seq)
    if since is not None:
        query = query.where(schema.audit.c.at_ms >= ms(since))
    count = 0
    async with store.reader.connect() as conn:
        await _check_table(conn)
        result = await conn.stream(query.execution_options(yield_per=_BATCH))
        async for row in result:
            out.write(json.dumps(export_record(row), ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


async def verify_chain(store: RequestStore) -> Verification:
    """Recompute the chain from the first record; stop at the first record that breaks it."""
    count = 0
    last_seq: int | None = None
    last_hash = GENESIS_HASH
    async with store.reader.connect() as conn:
        await _check_table(conn)
        result = await conn.stream(
            select(schema.audit).order_by(schema.audit.c.seq).execution_options(yield_per=_BATCH)
        )
        async for row in result:
            if row.prev_hash != last_hash:
                await result.close()
                reason = await _explain_link(conn, row, last_seq)
                return Verification(count, last_seq, _last(last_seq, last_hash), ChainBreak(row.seq, reason))
            try:
                intact = expected_hash(row) == row.hash
                why = "its content does not match its hash: the record was changed after it was written"
            except ValueError:
                intact = False
                why = "its details are not valid JSON: the record was changed after it was written"
            if not intact:
                await result.close()
                return Verification(count, last_seq, _last(last_seq, last_hash), ChainBreak(row.seq, why))
            count += 1
            last_seq, last_hash = row.seq, row.hash
    return Verification(count, last_seq, _last(last_seq, last_hash))


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
    def columns(sync_conn: Any) -> set[str] | None:
        inspector = inspect(sync_conn)
        if not inspector.has_table(schema.audit.name):
            return None
        return {column["name"] for column in inspector.get_columns(schema.audit.name)}

    found = await conn.run_sync(columns)
    if found is None:
        raise AuditUnavailable("the database has no audit table: run `ddm-restore-bot migrate` (or the bot) first")
    missing = sorted(set(schema.audit.c.keys()) - found)
    if missing:
        raise AuditUnavailable(
            f"the audit table has no {', '.join(missing)} yet (an older schema): run `ddm-restore-bot migrate` first"
        )


# ---- command line --------------------------------------------------------------------------------------------


def audit_cli(
    action: str | None,
    *,
    since: str | None = None,
    fmt: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`audit export|verify`: 0 done (chain intact), 1 chain broken or database problem, 2 bad arguments."""
    out = out or sys.stdout
    err = err or sys.stderr
    if action not in ("export", "verify"):
        return fail("audit: say what to do: `audit export [--since …] [--format jsonl]` or `audit verify`", err)
    moment = None
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
        result: Verification = asyncio.run(run(verify_chain))
    except BrokenPipeError:  # `audit export | head`: the reader has all it wanted
        with suppress(OSError, ValueError):  # and Python's flush of stdout at exit must not complain
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0
    except AuditUnavailable as exc:
        return fail(f"audit {action}: {exc} ({shown})", err, code=1)
    except (SQLAlchemyError, OSError, StoreUnavailable) as exc:
        return fail(f"audit {action}: cannot read the database at {shown}: {one_line(exc)}", err, code=1)
    if result.broken is not None:
        print(f"audit chain BROKEN at seq {result.broken.seq}: {result.broken.reason}", file=out)
        print(f"({result.count} record(s) before it are intact)", file=out)
        return 1
    print(f"audit chain OK: {result.count} records", file=out)
    if result.last_seq is not None:
        print(f"head: seq {result.last_seq} hash {result.last_hash}", file=out)
    return 0


def _missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite URL whose file does not exist (reading must not create an empty database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return None if Path(parsed.database).exists() else parsed.database
