"""RequestStore: restore requests, approvals and the audit trail on SQLAlchemy Core (async).

One implementation for SQLite (embedded default) and PostgreSQL (shared by several replicas). The rules that
make the bot safe live here as single statements the database decides:
- every state change is `UPDATE … WHERE id = ? AND state IN (…)`: of two racing callers exactly one wins;
- an approval is a row with primary key (request, approver), inserted only while the request is PENDING;
- one active request per target instance is a partial unique index;
- each change writes its audit row in the same transaction, chained to the previous row by hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, event, func, insert, literal, or_, select, text, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Select

from bot.restore.ids import new_request_id
from bot.restore.plan import RestorePlan, canonical_json
from bot.restore.request import ACTIVE_STATES, Approval, RequestState, RestoreRequest
from bot.restore.timeparse import datetime_of, epoch_ms_of
from bot.store import schema

log = logging.getLogger(__name__)
GENESIS_HASH = "0" * 64


class TargetBusy(Exception):
    def __init__(self, holder: RestoreRequest) -> None:
        super().__init__(f"{holder.plan.target.label} is busy with {holder.id} ({holder.state.value.lower()})")
        self.holder = holder


@dataclass(frozen=True)
class ApprovalOutcome:
    added: bool
    count: int
    request: RestoreRequest


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


ms = epoch_ms_of  # the store keeps times as epoch milliseconds


def dt(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime_of(epoch_ms)


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


class RequestStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Reads need no write lock (see _sqlite_write_locking); this engine shares the pool.
        self.reader = engine.execution_options(readonly=True)
        self.is_sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time; queueing this process's writers here is fair and fast, where
        # letting them collide leaves it to SQLite's busy handler, which sleeps (p99 of seconds under load).
        self._sqlite_writer = asyncio.Lock()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        if not self.is_sqlite:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._sqlite_writer, self.engine.begin() as conn:
            yield conn

    @classmethod
    def from_url(cls, url: str, **engine_kwargs: Any) -> RequestStore:
        if url.startswith("sqlite"):
            engine = create_async_engine(url, connect_args={"timeout": 30}, **engine_kwargs)
            _sqlite_write_locking(engine)
        else:
            engine = create_async_engine(url, pool_pre_ping=True, **engine_kwargs)
        return cls(engine)

    async def create_schema(self) -> None:
        """Apply the schema migrations (bot.store.migrate): create, upgrade or leave the database as it is."""
        from bot.store.migrate import upgrade_engine

        await upgrade_engine(self.engine)
        if self.is_sqlite:
            # Without statistics SQLite's planner ignores the partial indexes (PostgreSQL's autovacuum keeps its
            # own): the sweeper's queries would read the whole history on every sweep.
            async with self._write() as conn:
                await conn.exec_driver_sql("ANALYZE")

    async def close(self) -> None:
        await self.engine.dispose()

    # ---- create and read -----------------------------------------------------------------------------------

    async def create(
        self,
        *,
        plan: RestorePlan,
        requester_id: str,
        channel_id: str,
        required_approvals: int,
        now: datetime,
        expires_at: datetime,
    ) -> RestoreRequest:
        """Store a new PENDING request; raises TargetBusy when another active request holds the target."""
        for _ in range(5):
            request_id = new_request_id()
            fingerprint = plan.fingerprint()
            plan_json = plan.model_dump_json()
            row = {
                "id": request_id,
                "state": RequestState.PENDING.value,
                "fingerprint": fingerprint,
                "plan_json": plan_json,
                "source_instance_id": plan.source.id,
                "target_instance_id": plan.target.id,
                "requester_id": requester_id,
                "channel_id": channel_id,
                "required_approvals": required_approvals,
                "created_ms": ms(now),
                "expires_ms": ms(expires_at),
                "updated_ms": ms(now),
            }
            try:
                async with self._write() as conn:
                    await conn.execute(insert(schema.requests).values(**row))
                    await self._audit(
                        conn,
                        request_id=request_id,
                        actor=requester_id,
                        action="create",
                        from_state=None,
                        to_state=RequestState.PENDING.value,
                        fingerprint=fingerprint,
                        details={"plan": json.loads(plan_json), "channel_id": channel_id},
                        at_ms=ms(now),
                    )
            except IntegrityError:
                holder = await self.active_for_target(plan.target.id)
                if holder is not None:
                    raise TargetBusy(holder) from None
                continue  # an id collision: draw another
            created = await self.get(request_id)
            assert created is not None
            return created
        raise RuntimeError("could not allocate a request id")

    async def get(self, request_id: str) -> RestoreRequest | None:
        async with self.reader.connect() as conn:
            return await self._get(conn, request_id)

    async def find_by_job_id(self, job_id: str) -> RestoreRequest | None:
        async with self.reader.connect() as conn:
            row = (
                await conn.execute(select(schema.requests.c.id).where(schema.requests.c.job_id == job_id).limit(1))
            ).first()
            return await self._get(conn, row.id) if row else None

    async def active_for_target(self, target_instance_id: str) -> RestoreRequest | None:
        async with self.reader.connect() as conn:
            row = (
                await conn.execute(
                    select(schema.requests.c.id).where(
                        schema.requests.c.target_instance_id == target_instance_id,
                        text(schema.ACTIVE),
                    )
                )
            ).first()
            return await self._get(conn, row.id) if row else None

    async def in_states(self, states: Iterable[RequestState]) -> list[RestoreRequest]:
        # Sorted here, not in SQL: an ORDER BY makes SQLite walk the created_ms index over the whole history.
        wanted = [s.value for s in states]
        query = select(schema.requests).where(schema.requests.c.state.in_(wanted))
        if set(states) <= ACTIVE_STATES:
            query = query.where(text(schema.ACTIVE))  # lets SQLite read the active rows' partial index only
        async with self.reader.connect() as conn:
            found = await self._load(conn, query)
        return sorted(found, key=lambda r: r.created_at)

    async def recent(
        self, limit: int = 10, *, requester_id: str | None = None, channel_id: str | None = None
    ) -> list[RestoreRequest]:
        query = select(schema.requests).order_by(schema.requests.c.created_ms.desc()).limit(limit)
        if requester_id:
            query = query.where(schema.requests.c.requester_id == requester_id)
        if channel_id:
            query = query.where(schema.requests.c.channel_id == channel_id)
        async with self.reader.connect() as conn:
            return await self._load(conn, query)

    async def due_for_expiry(self, now: datetime) -> list[str]:
        async with self.reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(schema.requests.c.id).where(
                        text(schema.ACTIVE),
                        schema.requests.c.state == RequestState.PENDING.value,
                        schema.requests.c.expires_ms <= ms(now),
                    )
                )
            ).all()
            return [row.id for row in rows]

    async def unannounced_final(self, finished_before: datetime) -> list[str]:
        """Final requests whose final notice nobody holds (never claimed, or given back after a failure)."""
        r = schema.requests
        async with self.reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(r.c.id).where(text(schema.UNANNOUNCED), r.c.updated_ms <= ms(finished_before))
                )
            ).all()
            return [row.id for row in rows]

    async def next_expiry(self) -> datetime | None:
        async with self.reader.connect() as conn:
            value = (
                await conn.execute(
                    select(func.min(schema.requests.c.expires_ms)).where(
                        text(schema.ACTIVE), schema.requests.c.state == RequestState.PENDING.value
                    )
                )
            ).scalar()
            return dt(value)

    # ---- changes -------------------------------------------------------------------------------------------

    async def transition(
        self,
        request_id: str,
        *,
        from_states: Sequence[RequestState],
        to: RequestState,
        actor: str,
        action: str,
        now: datetime,
        values: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> RestoreRequest | None:
        """Move the request to `to` if it is in one of `from_states`. Returns it, or None if someone else won."""
        assignments = {"state": to.value, "updated_ms": ms(now), **(values or {})}
        async with self._write() as conn:
            current = await self._get(conn, request_id)
            if current is None or current.state not in from_states:
                return None
            result = await conn.execute(
                update(schema.requests)
                .where(schema.requests.c.id == request_id, schema.requests.c.state == current.state.value)
                .values(**assignments)
            )
            if result.rowcount != 1:
                return None
            await self._audit(
                conn,
                request_id=request_id,
                actor=actor,
                action=action,
                from_state=current.state.value,
                to_state=to.value,
                fingerprint=current.fingerprint,
                details=details or {},
                at_ms=ms(now),
                row_values=values,
            )
            return await self._get(conn, request_id)

    async def add_approval(self, request_id: str, *, user_id: str, fingerprint: str, now: datetime) -> ApprovalOutcome:
        """Record one approval while the request is PENDING, unexpired, still has `fingerprint` and still needs
        approvals (so the count never passes what is required)."""
        r = schema.requests
        a = schema.approvals
        async with self._write() as conn:
            # Lock the request row (PostgreSQL; SQLite's writer lock already serialises): approvals, cancels and
            # expiries of one request then happen one after the other, and the count below is exact.
            await conn.execute(select(r.c.id).where(r.c.id == request_id).with_for_update())
            so_far = select(func.count()).select_from(a).where(a.c.request_id == request_id).scalar_subquery()
            eligible = select(literal(request_id), literal(user_id), literal(fingerprint), literal(ms(now))).where(
                r.c.id == request_id,
                r.c.state == RequestState.PENDING.value,
                r.c.fingerprint == fingerprint,
                r.c.expires_ms > ms(now),
                so_far < r.c.required_approvals,
            )
            try:
                async with conn.begin_nested():
                    result = await conn.execute(
                        insert(schema.approvals).from_select(
                            ["request_id", "user_id", "fingerprint", "at_ms"], eligible
                        )
                    )
                added = result.rowcount == 1
            except IntegrityError:
                added = False
            if added:
                await self._audit(
                    conn,
                    request_id=request_id,
                    actor=user_id,
                    action="approve",
                    from_state=RequestState.PENDING.value,
                    to_state=RequestState.PENDING.value,
                    fingerprint=fingerprint,
                    details={},
                    at_ms=ms(now),
                )
            request = await self._get(conn, request_id)
        assert request is not None
        return ApprovalOutcome(added=added, count=len(request.approvals), request=request)

    async def set_message(
        self, request_id: str, *, channel_id: str, message_ts: str, permalink: str | None = None
    ) -> None:
        """Where the card is; the permalink then goes into every later audit record of the request."""
        async with self._write() as conn:
            await conn.execute(
                update(schema.requests)
                .where(schema.requests.c.id == request_id)
                .values(channel_id=channel_id, message_ts=message_ts, permalink=permalink)
            )

    async def set_progress(self, request_id: str, progress: int) -> bool:
        """Store job progress while RUNNING; True when it changed."""
        async with self._write() as conn:
            result = await conn.execute(
                update(schema.requests)
                .where(
                    schema.requests.c.id == request_id,
                    schema.requests.c.state == RequestState.RUNNING.value,
                    or_(schema.requests.c.job_progress.is_(None), schema.requests.c.job_progress != progress),
                )
                .values(job_progress=progress)
            )
            return result.rowcount == 1

    async def claim_final_notice(self, request_id: str, now: datetime) -> bool:
        """True for exactly one caller: the one that posts the final thread message."""
        async with self._write() as conn:
            result = await conn.execute(
                update(schema.requests)
                .where(schema.requests.c.id == request_id, schema.requests.c.final_notice_ms.is_(None))
                .values(final_notice_ms=ms(now))
            )
            return result.rowcount == 1

    async def release_final_notice(self, request_id: str) -> None:
        """Give a claimed final notice back (posting it failed), so that it is tried again."""
        async with self._write() as conn:
            await conn.execute(
                update(schema.requests).where(schema.requests.c.id == request_id).values(final_notice_ms=None)
            )

    async def take_lease(self, request_id: str, *, owner: str, now: datetime, seconds: float) -> bool:
        """Own the job watch of a request until now+seconds, if nobody else holds a live lease."""
        r = schema.requests
        async with self._write() as conn:
            result = await conn.execute(
                update(r)
                .where(
                    r.c.id == request_id,
                    or_(r.c.lease_owner.is_(None), r.c.lease_owner == owner, r.c.lease_expires_ms <= ms(now)),
                )
                .values(lease_owner=owner, lease_expires_ms=ms(now) + int(seconds * 1000))
            )
            return result.rowcount == 1

    async def release_lease(self, request_id: str, *, owner: str) -> None:
        r = schema.requests
        async with self._write() as conn:
            await conn.execute(
                update(r)
                .where(and_(r.c.id == request_id, r.c.lease_owner == owner))
                .values(lease_owner=None, lease_expires_ms=None)
            )

    # ---- audit ---------------------------------------------------------------------------------------------

    async def audit_trail(self, request_id: str | None = None, *, since: datetime | None = None) -> list[AuditRecord]:
        query = select(schema.audit).order_by(schema.audit.c.seq)
        if request_id:
            query = query.where(schema.audit.c.request_id == request_id)
        if since:
            query = query.where(schema.audit.c.at_ms >= ms(since))
        async with self.reader.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AuditRecord(
                seq=row.seq,
                at_ms=row.at_ms,
                request_id=row.request_id,
                actor=row.actor,
                action=row.action,
                from_state=row.from_state,
                to_state=row.to_state,
                fingerprint=row.fingerprint,
                details=json.loads(row.details),
                prev_hash=row.prev_hash,
                hash=row.hash,
                job_id=row.job_id,
                error_code=row.error_code,
                permalink=row.permalink,
            )
            for row in rows
        ]

    async def _audit(
        self,
        conn: AsyncConnection,
        *,
        request_id: str,
        actor: str,
        action: str,
        from_state: str | None,
        to_state: str | None,
        fingerprint: str | None,
        details: dict[str, Any],
        at_ms: int,
        row_values: dict[str, Any] | None = None,
    ) -> None:
        if not self.is_sqlite:
            # Serialise chain appends across replicas; SQLite writers are serialised by BEGIN IMMEDIATE.
            await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242001)")
        prev = (await conn.execute(select(schema.audit.c.hash).order_by(schema.audit.c.seq.desc()).limit(1))).scalar()
        prev_hash = prev or GENESIS_HASH
        # Hash the details as they will read back from the table (e.g. non-string keys become strings), so
        # that `audit verify` recomputes the same hash.
        details = json.loads(canonical_json(details))
        # Context columns: from the details, else from what the transition wrote on the request.
        context = {**(row_values or {}), **details}
        permalink = _text(context.get("permalink"), None)
        if permalink is None:
            permalink = (
                await conn.execute(select(schema.requests.c.permalink).where(schema.requests.c.id == request_id))
            ).scalar()
        record = hashed_audit_record(
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
            permalink=permalink,
        )
        await conn.execute(
            insert(schema.audit).values(
                **{**record, "details": canonical_json(details)},
                prev_hash=prev_hash,
                hash=audit_hash(prev_hash, record),
            )
        )

    async def _get(self, conn: AsyncConnection, request_id: str) -> RestoreRequest | None:
        found = await self._load(conn, select(schema.requests).where(schema.requests.c.id == request_id))
        return found[0] if found else None

    async def _load(self, conn: AsyncConnection, query: Select[Any]) -> list[RestoreRequest]:
        """Requests of `query` with their approvals: two statements, whatever the number of rows."""
        rows = (await conn.execute(query)).all()
        if not rows:
            return []
        approval_rows = (
            await conn.execute(
                select(schema.approvals)
                .where(schema.approvals.c.request_id.in_([row.id for row in rows]))
                .order_by(schema.approvals.c.at_ms, schema.approvals.c.user_id)
            )
        ).all()
        by_request: dict[str, list[Approval]] = {}
        for a in approval_rows:
            by_request.setdefault(a.request_id, []).append(Approval(user_id=a.user_id, at=_dt(a.at_ms)))
        return [_request_of(row, tuple(by_request.get(row.id, ()))) for row in rows]


def _request_of(row: Row[Any], approvals: tuple[Approval, ...]) -> RestoreRequest:
    return RestoreRequest(
        id=row.id,
        plan=RestorePlan.model_validate_json(row.plan_json),
        fingerprint=row.fingerprint,
        requester_id=row.requester_id,
        channel_id=row.channel_id,
        state=RequestState(row.state),
        required_approvals=row.required_approvals,
        created_at=_dt(row.created_ms),
        expires_at=_dt(row.expires_ms),
        updated_at=_dt(row.updated_ms),
        message_ts=row.message_ts,
        approvals=approvals,
        job_id=row.job_id,
        job_progress=row.job_progress,
        error_code=row.error_code,
        error_msg=row.error_msg,
        decided_by=row.decided_by,
        decision_note=row.decision_note,
        submitted_at=dt(row.submitted_ms),
        finished_at=dt(row.finished_ms),
    )


def _text(value: Any, limit: int | None) -> str | None:
    """A context value as the column stores it (cut to the column's length: an audit row must never fail)."""
    if value is None or value == "":
        return None
    text = str(value)
    return text[:limit] if limit else text


def _dt(epoch_ms: int) -> datetime:
    value = dt(epoch_ms)
    assert value is not None
    return value


def _sqlite_write_locking(engine: AsyncEngine) -> None:
    """Make every SQLite transaction take the write lock up front (BEGIN IMMEDIATE).

    pysqlite's default deferred transactions let two writers read the same state and then fail on upgrade;
    taking the lock at BEGIN makes conditional updates and the audit chain serialise cleanly, even across
    processes. WAL lets readers continue meanwhile. (SQLAlchemy's documented recipe.)
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE")
