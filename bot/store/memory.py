"""MemoryStore: the request repository (bot.ports.RequestRepository) in this process's memory, for unit tests of
the workflow (and anyone who wants a bot without a database). It keeps the SQL store's contract
(tests/integration/contract) and takes the same decisions (bot.store.changes); what it lacks is durability and sharing
between processes.

Each operation yields to the event loop once where a database would make its round trip, then decides and
writes everything at once: nothing else runs in between, so a change is one transaction, racing callers see
each other's changes, and of two conditional moves exactly one wins. `available = False` makes every
operation raise StoreUnavailable, as an outage of the database does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.errors import StoreUnavailable
from bot.ports import ApprovalOutcome, ChangeObserver, RequestPage, RequestRepository, SlotTaken, TargetBusy
from bot.restore.drills import SlotClaim
from bot.restore.flow import Flow
from bot.restore.ids import new_request_id
from bot.restore.lifecycle import ACTIVE_STATES, Event
from bot.restore.notices import Notice, Outgoing, ParamValue
from bot.restore.plan import RestorePlan
from bot.restore.request import Approval, RequestState, RestoreRequest
from bot.restore.review import Review
from bot.restore.timeparse import datetime_of
from bot.restore.timeparse import epoch_ms_of as ms
from bot.store.audit_chain import GENESIS_HASH, AuditRecord, audit_hash
from bot.store.changes import (
    EMPTY_ROW,
    Effects,
    check_move_values,
    claimed_slot_row,
    created,
    drill_created,
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
from bot.store.memory_homes import MemoryHomeTabs
from bot.store.memory_queues import MemoryDrillSlots, MemoryLeases, MemoryOutbox
from bot.store.memory_reminders import MemoryReminders
from bot.store.memory_reviews import MemoryReviews
from bot.store.rows import LockedRequest

_ACTIVE = frozenset(state.value for state in ACTIVE_STATES)


class MemoryStore:
    def __init__(
        self, *, observers: Sequence[ChangeObserver] = (), on_notices: Callable[[], None] = lambda: None
    ) -> None:
        self._rows: dict[str, LockedRequest] = {}
        self._audit: list[AuditRecord] = []
        self.available = True
        self.outbox = MemoryOutbox(self._turn)
        self.leases = MemoryLeases(self._turn)
        self.drills = MemoryDrillSlots(self._turn)
        self.homes = MemoryHomeTabs(self._turn)
        self.reviews = MemoryReviews(self._turn, self._rows, self._commit)
        self.reminders = MemoryReminders(self._turn, self._rows, self._commit)
        self.observers = tuple(observers)
        self.on_notices = on_notices

    async def _turn(self) -> None:
        """Where a database makes its round trip: other tasks run meanwhile, and an outage is felt."""
        await asyncio.sleep(0)
        if not self.available:
            raise StoreUnavailable("the in-memory store is switched off")

    def _commit(self, request_id: str, row: LockedRequest, effects: Effects) -> None:
        """Write a change: the request's row, its notices, its audit records (chained onto the last one)."""
        self._rows[request_id] = row
        self.outbox.append(request_id, effects.notices, now_ms=effects.now_ms)
        prev_hash = self._audit[-1].hash if self._audit else GENESIS_HASH
        for record in effects.records:
            hash_ = audit_hash(prev_hash, record)
            self._audit.append(AuditRecord(seq=len(self._audit) + 1, prev_hash=prev_hash, hash=hash_, **record))
            prev_hash = hash_
        if effects.notices:
            self.on_notices()

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
        await self._turn()
        if claim is not None and self.drills.claimed(claim.drill, claim.slot):
            raise SlotTaken(f"{claim.drill} at {claim.slot.isoformat()}")
        holder = self._active_for_target(plan.target.id)
        if holder is not None:
            raise TargetBusy(holder.request())
        request_id = new_request_id()
        while request_id in self._rows:
            request_id = new_request_id()
        values = EMPTY_ROW | new_row(
            request_id,
            plan=plan,
            requester_id=requester_id,
            channel_id=channel_id,
            required_approvals=required_approvals,
            now_ms=ms(now),
            expires_ms=ms(expires_at),
            review=review,
            flow=flow,
        )
        effects = created(values)
        if claim is not None:
            values = drill_created(values, effects, claim)
            self.drills.claim(claimed_slot_row(claim, request_id, now_ms=ms(now)))
        row = LockedRequest(values, ())
        self._commit(request_id, row, effects)
        tell(self.observers, "create", row.request())
        if claim is not None and claim.approved_by is not None:
            tell(self.observers, Event.APPROVED.value, row.request())
        return row.request()

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
        check_move_values(values)
        await self._turn()
        row = self._rows.get(request_id)
        if row is None:
            return None
        changes = move_changes(row, event, now_ms=ms(now), values=values)
        if changes is None:
            return None
        effects = Effects(request_id, ms(now))
        moved = write_move(row, event, changes, effects, actor=actor, values=values, details=details, params=params)
        self._commit(request_id, moved, effects)
        tell(self.observers, event.value, moved.request())
        return moved.request()

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
        now_ms = ms(now)
        await self._turn()
        row = self._rows.get(request_id)
        assert row is not None, f"no request {request_id}"
        rule = stage_rule(row)
        if not may_approve(row, user_id=user_id, fingerprint=fingerprint, now_ms=now_ms, stage=stage, rule=rule):
            return ApprovalOutcome(added=False, count=len(row.approvals), request=row.request())
        row = row.changed(approval=Approval(user_id=user_id, at=datetime_of(now_ms), stage=stage))
        effects = Effects(request_id, now_ms)
        last = write_approval(
            row,
            effects,
            user_id=user_id,
            stage=stage,
            rule=rule,
            named_stages=named_stages(row),
            params=params,
        )
        changes = move_changes(row, Event.APPROVED, now_ms=now_ms) if last else None
        if changes is not None:
            approvers = [each.user_id for each in row.approvals]
            row = write_move(row, Event.APPROVED, changes, effects, actor=user_id, details={"approvers": approvers})
        self._commit(request_id, row, effects)
        if changes is not None:
            tell(self.observers, Event.APPROVED.value, row.request())
        return ApprovalOutcome(
            added=True, count=len(row.approvals), request=row.request(), approved=changes is not None
        )

    async def freeze_flow(self, request_id: str, flow: Flow, *, now: datetime) -> RestoreRequest | None:
        await self._turn()
        row = self._rows.get(request_id)
        if row is None or not may_freeze(row):
            return None
        effects = Effects(request_id, ms(now))
        frozen = write_freeze(row, flow, effects)
        self._commit(request_id, frozen, effects)
        return frozen.request()

    async def set_message(
        self, request_id: str, *, channel_id: str, message_ts: str, permalink: str | None = None
    ) -> None:
        await self._turn()
        if (row := self._rows.get(request_id)) is not None:
            self._rows[request_id] = row.changed(
                {"channel_id": channel_id, "message_ts": message_ts, "permalink": permalink}
            )

    async def set_progress(self, request_id: str, progress: int, *, now: datetime) -> bool:
        await self._turn()
        row = self._rows.get(request_id)
        if row is None or row.values["state"] != RequestState.RUNNING.value or row.values["job_progress"] == progress:
            return False
        self._commit(
            request_id,
            row.changed({"job_progress": progress}),
            Effects(request_id, ms(now), notices=[Outgoing(Notice.CARD)]),
        )
        return True

    async def notify(self, request_id: str, notices: Sequence[Outgoing], *, now: datetime) -> None:
        await self._turn()
        row = self._rows.get(request_id)
        assert row is not None, f"no request {request_id}"  # the outbox's rows belong to a request (a foreign key)
        self._commit(request_id, row, Effects(request_id, ms(now), notices=list(notices)))

    # ---- reads ---------------------------------------------------------------------------------------------

    def _active_for_target(self, target_instance_id: str) -> LockedRequest | None:
        return next(
            (
                row
                for row in self._rows.values()
                if row.values["target_instance_id"] == target_instance_id and row.values["state"] in _ACTIVE
            ),
            None,
        )

    async def get(self, request_id: str) -> RestoreRequest | None:
        await self._turn()
        row = self._rows.get(request_id)
        return row.request() if row is not None else None

    async def find_by_job_id(self, job_id: str) -> RestoreRequest | None:
        await self._turn()
        return next((row.request() for row in self._rows.values() if row.values["job_id"] == job_id), None)

    async def active_for_target(self, target_instance_id: str) -> RestoreRequest | None:
        await self._turn()
        row = self._active_for_target(target_instance_id)
        return row.request() if row is not None else None

    async def in_states(self, states: Iterable[RequestState]) -> list[RestoreRequest]:
        await self._turn()
        wanted = {state.value for state in states}
        found = [row.request() for row in self._rows.values() if row.values["state"] in wanted]
        return sorted(found, key=lambda request: request.created_at)

    async def recent(
        self, limit: int = 10, *, requester_id: str | None = None, channel_id: str | None = None
    ) -> list[RestoreRequest]:
        await self._turn()
        rows = [
            row
            for row in self._rows.values()
            if (not requester_id or row.values["requester_id"] == requester_id)
            and (not channel_id or row.values["channel_id"] == channel_id)
        ]
        rows.sort(key=lambda row: row.values["created_ms"], reverse=True)
        return [row.request() for row in rows[:limit]]

    async def made_since(
        self, since: datetime, *, channel_ids: Collection[str] | None = None, limit: int = 10, offset: int = 0
    ) -> RequestPage:
        await self._turn()
        rows = [
            row
            for row in self._rows.values()
            if row.values["created_ms"] >= ms(since)
            and (channel_ids is None or row.values["channel_id"] in channel_ids)
        ]
        rows.sort(key=lambda row: (row.values["created_ms"], row.values["id"]), reverse=True)
        return RequestPage([row.request() for row in rows[offset : offset + limit]], len(rows))

    async def finished_since(self, since: datetime) -> list[RestoreRequest]:
        await self._turn()
        rows = [
            row
            for row in self._rows.values()
            if row.values["finished_ms"] is not None and row.values["finished_ms"] >= ms(since)
        ]
        rows.sort(key=lambda row: (row.values["finished_ms"], row.values["id"]))
        return [row.request() for row in rows]

    async def due_for_expiry(self, now: datetime) -> list[str]:
        await self._turn()
        return [row.values["id"] for row in self._pending() if row.values["expires_ms"] <= ms(now)]

    async def count_by_state(self) -> dict[str, int]:
        await self._turn()
        counts: dict[str, int] = {}
        for row in self._rows.values():
            counts[row.values["state"]] = counts.get(row.values["state"], 0) + 1
        return counts

    async def next_expiry(self) -> datetime | None:
        await self._turn()
        soonest = min((row.values["expires_ms"] for row in self._pending()), default=None)
        return None if soonest is None else datetime_of(soonest)

    def _pending(self) -> list[LockedRequest]:
        return [row for row in self._rows.values() if row.values["state"] == RequestState.PENDING.value]

    async def audit_trail(self, request_id: str | None = None, *, since: datetime | None = None) -> list[AuditRecord]:
        await self._turn()
        return [
            record
            for record in self._audit
            if (not request_id or record.request_id == request_id) and (since is None or record.at_ms >= ms(since))
        ]


if TYPE_CHECKING:  # mypy holds MemoryStore to the port
    _: RequestRepository = MemoryStore()
