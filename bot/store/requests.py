"""RequestStore: restore requests, approvals, their audit chain and their outbox, on SQLAlchemy Core (async).

One implementation for SQLite (embedded default) and PostgreSQL (shared by several replicas). The rules that
make the bot safe live here as single statements the database decides:
- every state change is a move of the lifecycle table (bot.restore.lifecycle), applied as
  `UPDATE … WHERE id = ? AND state = ?`: of two racing callers exactly one wins;
- an approval is a row with primary key (request, approver), inserted only while the request is PENDING, and
  the last one needed moves the request to APPROVED in the same transaction;
- one active request per target instance is a partial unique index;
- each change writes its audit row and its outbox rows (what people must hear) in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.restore.ids import new_request_id
from bot.restore.lifecycle import LIFECYCLE, Event
from bot.restore.notices import Notice, Outgoing, ParamValue
from bot.restore.plan import RestorePlan
from bot.restore.request import ACTIVE_STATES, RequestState, RestoreRequest
from bot.store import schema
from bot.store.audit_chain import (
    GENESIS_HASH,
    AuditRecord,
    append_audit,
    audit_hash,
    hashed_audit_record,
    read_trail,
)
from bot.store.database import Database
from bot.store.leases import Leases
from bot.store.outbox import Outbox, append_notices
from bot.store.rows import dt, get_request, load_requests, ms

__all__ = [
    "GENESIS_HASH",
    "ApprovalOutcome",
    "AuditRecord",
    "RequestStore",
    "TargetBusy",
    "audit_hash",
    "dt",
    "hashed_audit_record",
    "ms",
]

r = schema.requests
# What a move may write on the request besides its state (anything else is a programming error).
MOVE_VALUES = frozenset(
    {"job_id", "job_progress", "error_code", "error_msg", "decided_by", "decision_note", "submitted_ms", "finished_ms"}
)


class TargetBusy(Exception):
    def __init__(self, holder: RestoreRequest) -> None:
        super().__init__(f"{holder.plan.target.label} is busy with {holder.id} ({holder.state.value.lower()})")
        self.holder = holder


@dataclass(frozen=True)
class ApprovalOutcome:
    added: bool
    count: int
    request: RestoreRequest
    approved: bool = False  # this approval was the last one needed: the request is now APPROVED


class RequestStore(Database):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.outbox = Outbox(self)
        self.leases = Leases(self)
        # Called after a commit that wrote notices, so that this replica's announcer delivers them at once.
        self.on_notices: Callable[[], None] = lambda: None

    # ---- reads ---------------------------------------------------------------------------------------------

    async def get(self, request_id: str) -> RestoreRequest | None:
        async with self.read() as conn:
            return await get_request(conn, request_id)

    async def find_by_job_id(self, job_id: str) -> RestoreRequest | None:
        async with self.read() as conn:
            row = (await conn.execute(select(r.c.id).where(r.c.job_id == job_id).limit(1))).first()
            return await get_request(conn, row.id) if row else None

    async def active_for_target(self, target_instance_id: str) -> RestoreRequest | None:
        async with self.read() as conn:
            row = (
                await conn.execute(
                    select(r.c.id).where(r.c.target_instance_id == target_instance_id, text(schema.ACTIVE))
                )
            ).first()
            return await get_request(conn, row.id) if row else None

    async def in_states(self, states: Iterable[RequestState]) -> list[RestoreRequest]:
        # Sorted here, not in SQL: an ORDER BY makes SQLite walk the created_ms index over the whole history.
        wanted = set(states)
        query = select(r).where(r.c.state.in_([s.value for s in wanted]))
        if wanted <= ACTIVE_STATES:
            query = query.where(text(schema.ACTIVE))  # lets SQLite read the active rows' partial index only
        async with self.read() as conn:
            found = await load_requests(conn, query)
        return sorted(found, key=lambda req: req.created_at)

    async def recent(
        self, limit: int = 10, *, requester_id: str | None = None, channel_id: str | None = None
    ) -> list[RestoreRequest]:
        query = select(r).order_by(r.c.created_ms.desc()).limit(limit)
        if requester_id:
            query = query.where(r.c.requester_id == requester_id)
        if channel_id:
            query = query.where(r.c.channel_id == channel_id)
        async with self.read() as conn:
            return await load_requests(conn, query)

    async def due_for_expiry(self, now: datetime) -> list[str]:
        async with self.read() as conn:
            rows = (
                await conn.execute(
                    select(r.c.id).where(
                        text(schema.ACTIVE), r.c.state == RequestState.PENDING.value, r.c.expires_ms <= ms(now)
                    )
                )
            ).all()
            return [row.id for row in rows]

    async def next_expiry(self) -> datetime | None:
        async with self.read() as conn:
            value = (
                await conn.execute(
                    select(func.min(r.c.expires_ms)).where(text(schema.ACTIVE), r.c.state == RequestState.PENDING.value)
                )
            ).scalar()
            return dt(value)

    # ---- changes -------------------------------------------------------------------------------------------

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
        """Store a new PENDING request and its card notice; raises TargetBusy when another active request holds
        the target."""
        fingerprint = plan.fingerprint()
        plan_json = plan.model_dump_json()
        for _ in range(5):
            request_id = new_request_id()
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
                async with self.write() as conn:
                    await conn.execute(insert(r).values(**row))
                    await self._audit(
                        conn,
                        request_id,
                        actor=requester_id,
                        action="create",
                        from_state=None,
                        to_state=RequestState.PENDING.value,
                        fingerprint=fingerprint,
                        details={"plan": json.loads(plan_json), "channel_id": channel_id},
                        now=now,
                    )
                    await append_notices(conn, request_id, [Outgoing(Notice.CARD)], now_ms=ms(now))
                    created = await get_request(conn, request_id)
            except IntegrityError:
                holder = await self.active_for_target(plan.target.id)
                if holder is not None:
                    raise TargetBusy(holder) from None
                continue  # an id collision: draw another
            self.on_notices()
            assert created is not None
            return created
        raise RuntimeError("could not allocate a request id")

    async def transition(
        self,
        request_id: str,
        event: Event,
        *,
        actor: str,
        now: datetime,
        values: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
        params: dict[str, ParamValue] | None = None,
    ) -> RestoreRequest | None:
        """Apply `event` if the lifecycle table has a move for the request's state: one conditional update,
        its audit row and its notices, in one transaction. Returns the moved request, or None when the table
        has no such move for the state the request is in (someone else moved it first)."""
        if values and not set(values) <= MOVE_VALUES:
            raise ValueError(f"a move cannot write {sorted(set(values) - MOVE_VALUES)}")
        async with self.write() as conn:
            moved = await self._move(
                conn, request_id, event, actor=actor, now=now, values=values, details=details, params=params
            )
        if moved is not None:
            self.on_notices()
        return moved

    async def approve(self, request_id: str, *, user_id: str, fingerprint: str, now: datetime) -> ApprovalOutcome:
        """Record one approval while the request is PENDING, unexpired, still has `fingerprint` and still needs
        approvals; when it is the last one needed, move the request to APPROVED in the same transaction."""
        a = schema.approvals
        approved = False
        async with self.write() as conn:
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
                        insert(a).from_select(["request_id", "user_id", "fingerprint", "at_ms"], eligible)
                    )
                added = result.rowcount == 1
            except IntegrityError:
                added = False
            request = await get_request(conn, request_id)
            assert request is not None
            if added:
                count = len(request.approvals)
                await self._audit(
                    conn,
                    request_id,
                    actor=user_id,
                    action="approve",
                    from_state=RequestState.PENDING.value,
                    to_state=RequestState.PENDING.value,
                    fingerprint=fingerprint,
                    details={},
                    now=now,
                )
                approval = Outgoing(
                    Notice.APPROVAL, {"user_id": user_id, "count": count, "required": request.required_approvals}
                )
                last = count >= request.required_approvals
                await append_notices(
                    conn, request_id, [approval] if last else [approval, Outgoing(Notice.CARD)], now_ms=ms(now)
                )
                if last:
                    moved = await self._move(
                        conn,
                        request_id,
                        Event.APPROVED,
                        actor=user_id,
                        now=now,
                        details={"approvers": list(request.approver_ids)},
                    )
                    approved = moved is not None
                    request = moved or request
        if added:
            self.on_notices()
        return ApprovalOutcome(added=added, count=len(request.approvals), request=request, approved=approved)

    async def set_message(
        self, request_id: str, *, channel_id: str, message_ts: str, permalink: str | None = None
    ) -> None:
        """Where the card is; the permalink then goes into every later audit record of the request."""
        async with self.write() as conn:
            await conn.execute(
                update(r)
                .where(r.c.id == request_id)
                .values(channel_id=channel_id, message_ts=message_ts, permalink=permalink)
            )

    async def set_progress(self, request_id: str, progress: int, *, now: datetime) -> bool:
        """Store job progress while RUNNING, with a card notice; True when it changed."""
        async with self.write() as conn:
            result = await conn.execute(
                update(r)
                .where(
                    r.c.id == request_id,
                    r.c.state == RequestState.RUNNING.value,
                    r.c.job_progress.is_(None) | (r.c.job_progress != progress),
                )
                .values(job_progress=progress)
            )
            changed = result.rowcount == 1
            if changed:
                await append_notices(conn, request_id, [Outgoing(Notice.CARD)], now_ms=ms(now))
        if changed:
            self.on_notices()
        return changed

    async def notify(self, request_id: str, notices: Sequence[Outgoing], *, now: datetime) -> None:
        """Notices that go with no change of state (e.g. the job can't be read)."""
        async with self.write() as conn:
            await append_notices(conn, request_id, notices, now_ms=ms(now))
        self.on_notices()

    # ---- audit ---------------------------------------------------------------------------------------------

    async def audit_trail(self, request_id: str | None = None, *, since: datetime | None = None) -> list[AuditRecord]:
        return await read_trail(self, request_id, since=since)

    # ---- inside a transaction ------------------------------------------------------------------------------

    async def _move(
        self,
        conn: AsyncConnection,
        request_id: str,
        event: Event,
        *,
        actor: str,
        now: datetime,
        values: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
        params: dict[str, ParamValue] | None = None,
    ) -> RestoreRequest | None:
        current = (
            await conn.execute(select(r.c.state, r.c.fingerprint, r.c.permalink).where(r.c.id == request_id))
        ).first()
        if current is None:
            return None
        move = LIFECYCLE.get((RequestState(current.state), event))
        if move is None:
            return None
        result = await conn.execute(
            update(r)
            .where(r.c.id == request_id, r.c.state == current.state)
            .values(state=move.to.value, updated_ms=ms(now), **(values or {}))
        )
        if result.rowcount != 1:
            return None
        await self._audit(
            conn,
            request_id,
            actor=actor,
            action=event.value,
            from_state=current.state,
            to_state=move.to.value,
            fingerprint=current.fingerprint,
            details=details or {},
            now=now,
            permalink=current.permalink,
            row_values=values,
        )
        await append_notices(conn, request_id, [Outgoing(n, params or {}) for n in move.notices], now_ms=ms(now))
        return await get_request(conn, request_id)

    async def _audit(
        self,
        conn: AsyncConnection,
        request_id: str,
        *,
        actor: str,
        action: str,
        from_state: str | None,
        to_state: str | None,
        fingerprint: str | None,
        details: dict[str, Any],
        now: datetime,
        permalink: str | None = None,
        row_values: dict[str, Any] | None = None,
    ) -> None:
        if permalink is None:
            permalink = (await conn.execute(select(r.c.permalink).where(r.c.id == request_id))).scalar()
        await append_audit(
            conn,
            is_sqlite=self.is_sqlite,
            request_id=request_id,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=to_state,
            fingerprint=fingerprint,
            details=details,
            at_ms=ms(now),
            permalink=permalink,
            row_values=row_values,
        )
