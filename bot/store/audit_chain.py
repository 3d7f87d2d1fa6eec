"""The append-only audit chain: each record hashes the previous record's hash and its own canonical JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.restore.plan import canonical_json
from bot.store import schema
from bot.store.database import Database
from bot.store.rows import ms

GENESIS_HASH = "0" * 64
# Appends serialise on the head row (schema.audit_head, revision 0005); before it, on this advisory lock.
CHAIN_LOCK_KEY = 4242001


@dataclass(frozen=True)
class AuditHead:
    """The chain's head as the head table holds it: the newest record's seq and hash (no seq, GENESIS_HASH:
    an empty chain). `SEQ:HASH` is how `audit verify --expect-head` takes it back (seq 0 for the empty chain)."""

    seq: int | None
    hash: str

    @property
    def text(self) -> str:
        return f"{self.seq or 0}:{self.hash}"


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at_ms: int
    request_id: str
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    fingerprint: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str
    job_id: str | None = None
    error_code: str | None = None
    permalink: str | None = None


def audit_hash(prev_hash: str, record: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(record)).encode("utf-8")).hexdigest()


def hashed_audit_record(
    *,
    at_ms: int,
    request_id: str,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str | None,
    fingerprint: str | None,
    details: dict[str, Any],
    job_id: str | None = None,
    error_code: str | None = None,
    permalink: str | None = None,
) -> dict[str, Any]:
    """What an audit record's hash covers: the fields of the first release, plus job_id, error_code and
    permalink (revision 0002) when set, so that records written without them keep their hashes."""
    record: dict[str, Any] = {
        "at_ms": at_ms,
        "request_id": request_id,
        "actor": actor,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "fingerprint": fingerprint,
        "details": details,
    }
    for name, value in (("job_id", job_id), ("error_code", error_code), ("permalink", permalink)):
        if value is not None:
            record[name] = value
    return record


def stored_record(row: Any) -> dict[str, Any]:
    """What the hash of a row of the audit table covers, read back from its columns: the one mapping from the
    table to a record, for reading the trail and for verifying the chain. ValueError if details is not JSON."""
    return hashed_audit_record(
        at_ms=row.at_ms,
        request_id=row.request_id,
        actor=row.actor,
        action=row.action,
        from_state=row.from_state,
        to_state=row.to_state,
        fingerprint=row.fingerprint,
        details=json.loads(row.details),
        job_id=row.job_id,
        error_code=row.error_code,
        permalink=row.permalink,
    )


def audit_record(
    *,
    request_id: str,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str | None,
    fingerprint: str | None,
    details: dict[str, Any],
    at_ms: int,
    permalink: str | None,
    row_values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One record to append (`append_records`): what its hash covers, before it knows the record before it."""
    # Hash the details as they will read back from the table (e.g. non-string keys become strings), so
    # that `audit verify` recomputes the same hash.
    details = json.loads(canonical_json(details))
    # Context columns: from the details, else from what the transition wrote on the request.
    context = {**(row_values or {}), **details}
    return hashed_audit_record(
        at_ms=at_ms,
        request_id=request_id,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        fingerprint=fingerprint,
        details=details,
        job_id=_text(context.get("job_id"), 128),
        error_code=_text(context.get("error_code"), 64),
        permalink=_text(context.get("permalink"), None) or permalink,
    )


async def append_records(conn: AsyncConnection, records: Sequence[dict[str, Any]], *, head: str | None = None) -> None:
    """Append `records` (from `audit_record`), in order, to the chain, inside the caller's transaction.

    Two statements whatever their number: lock the head row and read its hash, insert the records chained onto
    it (the head's trigger moves the head to each record inserted). The head's row lock (PostgreSQL; SQLite's writer lock already
    serialises) is held from here to the commit, so callers append last, just before they commit: one append
    at a time, in seq order, and the shortest time possible holding up the other writers."""
    if not records:
        return
    # `head`: the head's hash as the caller read it on SQLite, where its writer lock, held since BEGIN
    # IMMEDIATE, keeps the head as it was (PostgreSQL's lock is taken here).
    prev_hash = head if head is not None else (await conn.execute(_LOCK_HEAD)).scalar_one()
    rows = []
    for record in records:
        hash_ = audit_hash(prev_hash, record)
        rows.append(
            {
                **{name: record.get(name) for name in _CONTEXT},
                **record,
                "details": canonical_json(record["details"]),
                "prev_hash": prev_hash,
                "hash": hash_,
            }
        )
        prev_hash = hash_
    # One executemany: the rows take their seqs in the order given (nobody else appends meanwhile), and the
    # head's trigger (revision 0005) moves the head to each of them.
    await conn.execute(_INSERT_RECORDS, rows)


_CONTEXT = ("job_id", "error_code", "permalink")
_head = schema.audit_head
_LOCK_HEAD = select(_head.c.hash).where(_head.c.id == schema.AUDIT_HEAD_ID).with_for_update()
_INSERT_RECORDS = insert(schema.audit)


def _text(value: Any, limit: int | None) -> str | None:
    """A context value as the column stores it (cut to the column's length: an audit row must never fail)."""
    if value is None or value == "":
        return None
    text = str(value)
    return text[:limit] if limit else text


async def read_head(conn: AsyncConnection) -> AuditHead | None:
    """The head row (None when someone deleted it), in the caller's transaction."""
    row = (await conn.execute(_READ_HEAD)).one_or_none()
    return AuditHead(row.seq, row.hash) if row is not None else None


async def current_head(db: Database) -> AuditHead | None:
    """The head as committed now; StoreUnavailable when the database can't be reached."""
    async with db.read() as conn:
        return await read_head(conn)


_READ_HEAD = select(_head.c.seq, _head.c.hash).where(_head.c.id == schema.AUDIT_HEAD_ID)


async def read_trail(
    db: Database, request_id: str | None = None, *, since: datetime | None = None
) -> list[AuditRecord]:
    query = select(schema.audit).order_by(schema.audit.c.seq)
    if request_id:
        query = query.where(schema.audit.c.request_id == request_id)
    if since:
        query = query.where(schema.audit.c.at_ms >= ms(since))
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    return [AuditRecord(seq=row.seq, prev_hash=row.prev_hash, hash=row.hash, **stored_record(row)) for row in rows]
