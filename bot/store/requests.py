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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.restore.ids import new_request_id
from bot.restore.lifecycle import LIFECYCLE, REVIEW_AFTER, Event
from bot.restore.notices import Notice, Outgoing, ParamValue
from bot.restore.plan import RestorePlan
from bot.restore.request import Approval, RequestState, RestoreRequest
from bot.restore.review import Review
from bot.restore.timeparse import datetime_of
from bot.store import schema
from bot.store.approvals import ADD_APPROVAL, stage_open
from bot.store.audit_chain import (
    GENESIS_HASH,
    AuditRecord,
    append_records,
    audit_hash,
    audit_record,
    hashed_audit_record,
    read_trail,
)
from bot.store.leases import Leases
from bot.store.outbox import Outbox, append_notices
from bot.store.reads import RequestReads
from bot.store.reviews import Reviews, review_due
from bot.store.rows import LockedRequest, dt, lock_request, ms

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


@dataclass
class _Effects:
    """What a change writes besides its own statements: its audit records and its notices, in order. They are
    written together at the end of the transaction (`RequestStore._finish`), the audit records last."""

    request_id: str
    now_ms: int
    records: list[dict[str, Any]] = field(default_factory=list)
    notices: list[Outgoing] = field(default_factory=list)
    chain_head: str | None = None  # SQLite: read with the request (LockedRequest.chain_head)


class RequestStore(RequestReads):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.outbox = Outbox(self)
        self.leases = Leases(self)
        self.reviews = Reviews(self, lambda: self.on_notices())
        # Called after a commit that wrote notices, so that this replica's announcer delivers them at once.
        self.on_notices: Callable[[], None] = lambda: None

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
        review: Review | None = None,
    ) -> RestoreRequest:
        """Store a new PENDING request and its card notice; raises TargetBusy when another active request holds
        the target. An urgent request carries its follow-up `review` (due when it ends)."""
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
                "review_json": review.to_json() if review is not None else None,
            }
            try:
                async with self.write() as conn:
                    await conn.execute(insert(r).values(**row))
                    effects = _Effects(request_id, ms(now), notices=[Outgoing(Notice.CARD)])
                    effects.records.append(
                        audit_record(
                            request_id=request_id,
                            actor=requester_id,
                            action="create",
                            from_state=None,
                            to_state=RequestState.PENDING.value,
                            fingerprint=fingerprint,
                            details={"plan": json.loads(plan_json), "channel_id": channel_id},
                            at_ms=ms(now),
                            permalink=None,
                        )
                    )
                    await self._finish(conn, effects)
            except IntegrityError:
                holder = await self.active_for_target(plan.target.id)
                if holder is not None:
                    raise TargetBusy(holder) from None
                continue  # an id collision: draw another
            self.on_notices()
            return LockedRequest({c.name: None for c in r.columns} | row, ()).request()
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
            locked = await lock_request(conn, request_id)
            if locked is None:
                return None
            effects = _Effects(request_id, ms(now), chain_head=locked.chain_head)
            moved = await self._move(
                conn, locked, event, effects, actor=actor, now=now, values=values, details=details, params=params
            )
            if moved is None:
                return None
            await self._finish(conn, effects)
        self.on_notices()
        return moved.request()

    async def approve(
        self,
        request_id: str,
        *,
        user_id: str,
        fingerprint: str,
        now: datetime,
        stage: int = 1,
        stages_required: tuple[int, ...] | None = None,
        params: Mapping[str, ParamValue] | None = None,
    ) -> ApprovalOutcome:
        """Record one approval for `stage` while the request is PENDING, unexpired, still has `fingerprint`, every
        earlier stage is complete and this one still needs approvals (`stages_required`: each stage's count; by
        default one stage of the request's required_approvals); when it completes the last stage, move the
        request to APPROVED in the same transaction. `params` go with the thread's approval notice."""
        now_ms = ms(now)
        approved = False
        async with self.write() as conn:
            # The request's row and approvals, its row locked (PostgreSQL; SQLite's writer lock already
            # serialises): approvals, cancels and expiries of one request happen one after the other, and the
            # count below is exact.
            locked = await lock_request(conn, request_id)
            assert locked is not None, f"no request {request_id}"
            row = locked.values
            required_each = stages_required or (row["required_approvals"],)
            added = False
            if (
                row["state"] == RequestState.PENDING.value
                and row["fingerprint"] == fingerprint
                and row["expires_ms"] > now_ms
                and len(locked.approvals) < row["required_approvals"]
                and user_id not in {each.user_id for each in locked.approvals}
                and stage_open(locked.approvals, stage, required_each)
            ):
                # The database still decides, in one statement, as if nothing had been read before.
                result = await conn.execute(
                    ADD_APPROVAL[self.is_sqlite],
                    {
                        "request_id": request_id,
                        "user_id": user_id,
                        "fingerprint": fingerprint,
                        "at_ms": now_ms,
                        "stage": stage,
                    },
                )
                added = result.rowcount == 1
            if added:
                locked = locked.changed(approval=Approval(user_id=user_id, at=datetime_of(now_ms), stage=stage))
                count, required = len(locked.approvals), row["required_approvals"]
                stage_count = sum(1 for a in locked.approvals if a.stage == stage)
                effects = _Effects(request_id, now_ms, chain_head=locked.chain_head)
                effects.records.append(
                    audit_record(
                        request_id=request_id,
                        actor=user_id,
                        action="approve",
                        from_state=RequestState.PENDING.value,
                        to_state=RequestState.PENDING.value,
                        fingerprint=fingerprint,
                        details={"stage": stage} if stages_required is not None else {},
                        at_ms=now_ms,
                        permalink=row["permalink"],
                    )
                )
                last = count >= required and stage == len(required_each)
                notice: dict[str, ParamValue] = {"user_id": user_id, "count": count, "required": required}
                if stages_required is not None:
                    notice.update(stage=stage, stage_count=stage_count, stage_required=required_each[stage - 1])
                    notice["stage_done"] = int(stage_count >= required_each[stage - 1])
                notice.update(params or {})
                effects.notices.append(Outgoing(Notice.APPROVAL, notice))
                if not last:
                    effects.notices.append(Outgoing(Notice.CARD))
                else:
                    moved = await self._move(
                        conn,
                        locked,
                        Event.APPROVED,
                        effects,
                        actor=user_id,
                        now=now,
                        details={"approvers": [each.user_id for each in locked.approvals]},
                    )
                    approved = moved is not None
                    locked = moved or locked
                await self._finish(conn, effects)
        if added:
            self.on_notices()
        return ApprovalOutcome(added=added, count=len(locked.approvals), request=locked.request(), approved=approved)

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
        locked: LockedRequest,
        event: Event,
        effects: _Effects,
        *,
        actor: str,
        now: datetime,
        values: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
        params: dict[str, ParamValue] | None = None,
    ) -> LockedRequest | None:
        """The move `event` makes from the state the request was read in, as one conditional update; its audit
        record and notices go to `effects`. Returns the request as moved, or None (no such move, or someone
        else moved the request first)."""
        state = locked.values["state"]
        move = LIFECYCLE.get((RequestState(state), event))
        if move is None:
            return None
        request_id = locked.values["id"]
        changes = {"state": move.to.value, "updated_ms": ms(now), **(values or {})}
        result = await conn.execute(update(r).where(r.c.id == request_id, r.c.state == state).values(**changes))
        if result.rowcount != 1:
            return None
        effects.records.append(
            audit_record(
                request_id=request_id,
                actor=actor,
                action=event.value,
                from_state=state,
                to_state=move.to.value,
                fingerprint=locked.values["fingerprint"],
                details=details or {},
                at_ms=ms(now),
                permalink=locked.values["permalink"],
                row_values=values,
            )
        )
        effects.notices.extend(Outgoing(n, params or {}) for n in move.notices)
        moved = locked.changed(changes)
        if move.to in REVIEW_AFTER and locked.values.get("review_json"):
            moved = await review_due(conn, moved, effects, now_ms=ms(now))
        return moved

    async def _finish(self, conn: AsyncConnection, effects: _Effects) -> None:
        """Write the change's notices, then its audit records: the chain's head stays locked from its read to
        the commit, so it is taken last."""
        await append_notices(conn, effects.request_id, effects.notices, now_ms=effects.now_ms)
        await append_records(conn, effects.records, head=effects.chain_head)
