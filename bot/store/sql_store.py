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

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Select, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.ports import ApprovalOutcome, ChangeObserver, RequestPage, SlotTaken, TargetBusy
from bot.restore.drills import SlotClaim
from bot.restore.flow import Flow
from bot.restore.ids import new_request_id
from bot.restore.lifecycle import Event
from bot.restore.notices import Notice, Outgoing, ParamValue
from bot.restore.plan import RestorePlan
from bot.restore.request import Approval, RequestState, RestoreRequest
from bot.restore.review import Review
from bot.restore.timeparse import datetime_of
from bot.store import queries as q
from bot.store import schema
from bot.store.approvals import ADD_APPROVAL
from bot.store.audit_chain import AuditRecord, append_records, read_trail
from bot.store.changes import (
    EMPTY_ROW,
    Effects,
    check_move_values,
    claimed_slot_row,
    created,
    drill_created,
    freeze_changes,
    may_approve,
    may_freeze,
    move_changes,
    named_stages,
    new_row,
    stage_rule,
    tell,
    write_approval,
    write_freeze,
    write_move,
)
from bot.store.database import Database
from bot.store.drill_slots import DrillSlotTable, slot_claimed
from bot.store.engine import make_engine
from bot.store.home_tabs import HomeTabTable
from bot.store.leases import Leases
from bot.store.outbox import Outbox, append_notices
from bot.store.reminders import ReminderTable
from bot.store.reviews import Reviews
from bot.store.rows import LockedRequest, dt, get_request, load_requests, lock_request, ms

r = schema.requests


class RequestStore(Database):
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        observers: Sequence[ChangeObserver] = (),
        on_notices: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(engine)
        self.outbox = Outbox(self)
        self.leases = Leases(self)
        self.drills = DrillSlotTable(self)
        self.homes = HomeTabTable(self)
        # Called after a commit that wrote notices, so that this replica's announcer delivers them at once.
        self.on_notices = on_notices
        self.reviews = Reviews(self, on_notices)
        self.reminders = ReminderTable(self, on_notices)
        self.observers = tuple(observers)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        observers: Sequence[ChangeObserver] = (),
        on_notices: Callable[[], None] = lambda: None,
        **engine_kwargs: Any,
    ) -> Self:
        return cls(make_engine(url, **engine_kwargs), observers=observers, on_notices=on_notices)

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
        flow: Flow | None = None,
        claim: SlotClaim | None = None,
    ) -> RestoreRequest:
        """Store a new PENDING request and its card notice (RequestRepository.create: TargetBusy, SlotTaken); an
        urgent request carries its follow-up `review`, `flow` is frozen into it and its fingerprint."""
        for _ in range(5):
            row = new_row(
                new_request_id(),
                plan=plan,
                requester_id=requester_id,
                channel_id=channel_id,
                required_approvals=required_approvals,
                now_ms=ms(now),
                expires_ms=ms(expires_at),
                review=review,
                flow=flow,
            )
            effects = created(row)
            if claim is not None:
                row = drill_created(row, effects, claim)
            try:
                async with self.write() as conn:
                    await conn.execute(insert(r).values(**row))
                    if claim is not None:
                        slot = claimed_slot_row(claim, row["id"], now_ms=ms(now))
                        await conn.execute(insert(schema.drill_slots).values(**slot))
                    await self._finish(conn, effects)
            except IntegrityError:
                if claim is not None:
                    async with self.read() as conn:
                        if await slot_claimed(conn, claim.drill, claim.slot):
                            raise SlotTaken(f"{claim.drill} at {claim.slot.isoformat()}") from None
                holder = await self.active_for_target(plan.target.id)
                if holder is not None:
                    raise TargetBusy(holder) from None
                continue  # an id collision: draw another
            self.on_notices()
            request = LockedRequest(EMPTY_ROW | row, ()).request()
            tell(self.observers, "create", request)
            if claim is not None and claim.approved_by is not None:
                tell(self.observers, Event.APPROVED.value, request)
            return request
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
        check_move_values(values)
        async with self.write() as conn:
            locked = await lock_request(conn, request_id)
            if locked is None:
                return None
            effects = Effects(request_id, ms(now))
            moved = await self._move(
                conn, locked, event, effects, actor=actor, now=now, values=values, details=details, params=params
            )
            if moved is None:
                return None
            await self._finish(conn, effects, head=locked.chain_head)
        self.on_notices()
        request = moved.request()
        tell(self.observers, event.value, request)
        return request

    async def approve(
        self,
        request_id: str,
        *,
        user_id: str,
        fingerprint: str,
        now: datetime,
        stage: int = 1,
        params: Mapping[str, ParamValue] | None = None,
    ) -> ApprovalOutcome:
        """Record one approval for `stage` while the request is PENDING, unexpired, still has `fingerprint` and the
        stage rule (bot.restore.stages) of its frozen flow takes one for `stage` (without a flow: one stage of the
        request's required_approvals); when it completes the last stage, move the request to APPROVED in the same
        transaction. `params` go with the thread's approval notice."""
        now_ms = ms(now)
        approved = False
        async with self.write() as conn:
            # The request's row and approvals, its row locked (PostgreSQL; SQLite's writer lock already
            # serialises): approvals, cancels and expiries of one request happen one after the other, and the
            # count below is exact.
            locked = await lock_request(conn, request_id)
            assert locked is not None, f"no request {request_id}"
            rule = stage_rule(locked)
            added = False
            if may_approve(locked, user_id=user_id, fingerprint=fingerprint, now_ms=now_ms, stage=stage, rule=rule):
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
                effects = Effects(request_id, now_ms)
                last = write_approval(
                    locked,
                    effects,
                    user_id=user_id,
                    stage=stage,
                    rule=rule,
                    named_stages=named_stages(locked),
                    params=params,
                )
                if last:
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
                await self._finish(conn, effects, head=locked.chain_head)
        if added:
            self.on_notices()
        request = locked.request()
        if approved:
            tell(self.observers, Event.APPROVED.value, request)
        return ApprovalOutcome(added=added, count=len(locked.approvals), request=request, approved=approved)

    async def freeze_flow(self, request_id: str, flow: Flow, *, now: datetime) -> RestoreRequest | None:
        """Freeze `flow` (marked backfilled) into a pending request that has none, with its audit record; None when
        the request is not pending or has a flow already (another replica froze it first)."""
        async with self.write() as conn:
            locked = await lock_request(conn, request_id)
            if locked is None or not may_freeze(locked):
                return None
            result = await conn.execute(
                update(r)
                .where(r.c.id == request_id, r.c.state == locked.values["state"], r.c.flow_json.is_(None))
                .values(**freeze_changes(flow))
            )
            if result.rowcount != 1:
                return None
            effects = Effects(request_id, ms(now))
            frozen = write_freeze(locked, flow, effects)
            await self._finish(conn, effects, head=locked.chain_head)
        return frozen.request()

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

    # ---- reads: single statements over the partial indexes, no locks (bot.store.queries) --------------------

    async def get(self, request_id: str) -> RestoreRequest | None:
        async with self.read() as conn:
            return await get_request(conn, request_id)

    async def find_by_job_id(self, job_id: str) -> RestoreRequest | None:
        return await self._first(q.by_job_id(job_id))

    async def active_for_target(self, target_instance_id: str) -> RestoreRequest | None:
        return await self._first(q.active_for_target(target_instance_id))

    async def in_states(self, states: Iterable[RequestState]) -> list[RestoreRequest]:
        # Sorted here, not in SQL: an ORDER BY makes SQLite walk the created_ms index over the whole history.
        return sorted(await self._load(q.in_states(set(states))), key=lambda req: req.created_at)

    async def recent(
        self, limit: int = 10, *, requester_id: str | None = None, channel_id: str | None = None
    ) -> list[RestoreRequest]:
        return await self._load(q.recent(limit, requester_id=requester_id, channel_id=channel_id))

    async def made_since(
        self, since: datetime, *, channel_ids: Collection[str] | None = None, limit: int = 10, offset: int = 0
    ) -> RequestPage:
        page, total = q.made_since(ms(since), channel_ids, limit=limit, offset=offset)
        async with self.read() as conn:
            return RequestPage(await load_requests(conn, page), int((await conn.execute(total)).scalar_one()))

    async def finished_since(self, since: datetime) -> list[RestoreRequest]:
        return await self._load(q.finished_since(ms(since)))

    async def due_for_expiry(self, now: datetime) -> list[str]:
        async with self.read() as conn:
            return [row.id for row in (await conn.execute(q.due_for_expiry(ms(now)))).all()]

    async def count_by_state(self) -> dict[str, int]:
        async with self.read() as conn:
            rows = (await conn.execute(q.COUNT_BY_STATE)).all()
        return {str(state): int(count) for state, count in rows}

    async def next_expiry(self) -> datetime | None:
        async with self.read() as conn:
            return dt((await conn.execute(q.NEXT_EXPIRY)).scalar())

    async def _load(self, query: Select[Any]) -> list[RestoreRequest]:
        async with self.read() as conn:
            return await load_requests(conn, query)

    async def _first(self, ids: Select[Any]) -> RestoreRequest | None:
        async with self.read() as conn:
            row = (await conn.execute(ids.limit(1))).first()
            return await get_request(conn, row.id) if row else None

    async def audit_trail(self, request_id: str | None = None, *, since: datetime | None = None) -> list[AuditRecord]:
        return await read_trail(self, request_id, since=since)

    # ---- inside a transaction ------------------------------------------------------------------------------

    async def _move(
        self,
        conn: AsyncConnection,
        locked: LockedRequest,
        event: Event,
        effects: Effects,
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
        changes = move_changes(locked, event, now_ms=ms(now), values=values)
        if changes is None:
            return None
        state, request_id = locked.values["state"], locked.values["id"]
        result = await conn.execute(update(r).where(r.c.id == request_id, r.c.state == state).values(**changes))
        if result.rowcount != 1:
            return None
        return write_move(locked, event, changes, effects, actor=actor, values=values, details=details, params=params)

    async def _finish(self, conn: AsyncConnection, effects: Effects, *, head: str | None = None) -> None:
        """Write the change's notices, then its audit records: the chain's head stays locked from its read to
        the commit, so it is taken last. `head`: SQLite's, as read with the request (LockedRequest.chain_head)."""
        await append_notices(conn, effects.request_id, effects.notices, now_ms=effects.now_ms)
        await append_records(conn, effects.records, head=head)
