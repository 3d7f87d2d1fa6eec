"""The in-memory outbox, named leases and DDM call budget counters: MemoryStore's parts that are not requests
(bot.ports.RequestOutbox and NamedLeases; bot.huawei.budget.BudgetStorage), with the SQL tables' semantics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.ports import OutboxRow
from bot.restore.drills import SlotRecord
from bot.restore.notices import Notice, Outgoing, ParamValue
from bot.restore.timeparse import epoch_ms_of as ms
from bot.store.changes import Effects, slot_record, slot_row
from bot.store.rows import LockedRequest

Turn = Callable[[], Awaitable[None]]  # MemoryStore._turn: a database's round trip, where an outage is felt
# MemoryStore._commit: a change of a request, written with its notices and audit records.
Commit = Callable[[str, LockedRequest, Effects], None]


@dataclass
class _Notice:
    """One row of the outbox table."""

    seq: int
    request_id: str
    notice: Notice
    params: dict[str, ParamValue]
    created_ms: int
    due_ms: int
    attempts: int = 0
    claimed_by: str | None = None
    claim_expires_ms: int | None = None
    done_ms: int | None = None
    last_error: str | None = None

    def held_by_other(self, owner: str, now_ms: int) -> bool:
        return (
            self.claimed_by is not None
            and self.claimed_by != owner
            and self.claim_expires_ms is not None
            and self.claim_expires_ms > now_ms
        )

    def row(self) -> OutboxRow:
        return OutboxRow(self.seq, self.request_id, self.notice, dict(self.params), self.created_ms, self.attempts)


class MemoryOutbox:
    def __init__(self, turn: Turn) -> None:
        self._turn = turn
        self._rows: list[_Notice] = []

    def append(self, request_id: str, notices: Iterable[Outgoing], *, now_ms: int) -> None:
        """Write `notices` as part of the caller's change."""
        for each in notices:
            # Stored as the table stores them: JSON.
            params = json.loads(json.dumps(dict(each.params), sort_keys=True))
            self._rows.append(_Notice(len(self._rows) + 1, request_id, each.notice, params, now_ms, now_ms))

    def _waiting(self, request_id: str | None = None) -> list[_Notice]:
        return [row for row in self._rows if row.done_ms is None and request_id in (None, row.request_id)]

    async def claim(self, owner: str, *, now: datetime, lease_seconds: float, requests: int = 20) -> list[OutboxRow]:
        await self._turn()
        now_ms = ms(now)
        by_request: dict[str, list[_Notice]] = {}
        for row in self._waiting():
            by_request.setdefault(row.request_id, []).append(row)
        ids = [
            request_id
            for request_id, rows in by_request.items()
            if all(row.due_ms <= now_ms and not row.held_by_other(owner, now_ms) for row in rows)
        ][:requests]
        for request_id in ids:
            for row in by_request[request_id]:
                row.claimed_by, row.claim_expires_ms = owner, now_ms + int(lease_seconds * 1000)
                row.attempts += 1
        return [row.row() for request_id in sorted(ids) for row in by_request[request_id]]

    async def done(self, seqs: Sequence[int], *, now: datetime) -> None:
        if not seqs:
            return
        await self._turn()
        wanted = set(seqs)
        for row in self._rows:
            if row.seq in wanted:
                row.done_ms, row.claim_expires_ms = ms(now), None

    async def retry_later(self, request_id: str, owner: str, *, due: datetime, error: str) -> None:
        await self._turn()
        for row in self._waiting(request_id):
            if row.claimed_by == owner:
                row.claimed_by, row.claim_expires_ms, row.due_ms, row.last_error = None, None, ms(due), error[:500]

    async def renew(self, request_id: str, owner: str, *, now: datetime, lease_seconds: float) -> bool:
        await self._turn()
        held = [row for row in self._waiting(request_id) if row.claimed_by == owner]
        for row in held:
            row.claim_expires_ms = ms(now) + int(lease_seconds * 1000)
        return bool(held)

    async def release(self, owner: str) -> None:
        await self._turn()
        for row in self._waiting():
            if row.claimed_by == owner:
                row.claimed_by, row.claim_expires_ms = None, None

    async def depth(self) -> tuple[int, int | None]:
        await self._turn()
        waiting = self._waiting()
        return len(waiting), min((row.created_ms for row in waiting), default=None)

    async def pending(self, request_id: str) -> list[OutboxRow]:
        await self._turn()
        return [row.row() for row in self._waiting(request_id)]


class MemoryLeases:
    def __init__(self, turn: Turn) -> None:
        self._turn = turn
        self._held: dict[str, tuple[str, int]] = {}  # name -> (owner, expires_ms)

    async def take(self, name: str, *, owner: str, now: datetime, seconds: float) -> bool:
        await self._turn()
        held = self._held.get(name)
        if held is not None and held[0] != owner and held[1] > ms(now):
            return False
        self._held[name] = (owner, ms(now) + int(seconds * 1000))
        return True

    async def release(self, name: str, *, owner: str) -> None:
        await self._turn()
        if name in self._held and self._held[name][0] == owner:
            del self._held[name]

    async def holder(self, name: str, *, now: datetime) -> str | None:
        await self._turn()
        held = self._held.get(name)
        return held[0] if held is not None and held[1] > ms(now) else None


class MemoryDrillSlots:
    def __init__(self, turn: Turn) -> None:
        self._turn = turn
        self._rows: dict[tuple[str, int], dict[str, Any]] = {}

    def claimed(self, drill: str, slot: datetime) -> bool:
        return (drill, ms(slot)) in self._rows

    def claim(self, row: dict[str, Any]) -> None:
        """Part of the request's change (MemoryStore.create), which checked it was free."""
        self._rows[(row["drill"], row["slot_ms"])] = row

    async def record(
        self,
        drill: str,
        slot: datetime,
        outcome: str,
        *,
        now: datetime,
        detail: str = "",
        targets_left: int | None = None,
    ) -> bool:
        await self._turn()
        if self.claimed(drill, slot):
            return False
        self.claim(slot_row(drill, slot, outcome, now_ms=ms(now), detail=detail, targets_left=targets_left))
        return True

    async def latest(self, drill: str) -> SlotRecord | None:
        found = await self.recent(drill, 1)
        return found[0] if found else None

    async def recent(self, drill: str, limit: int) -> list[SlotRecord]:
        await self._turn()
        mine = sorted((row for (name, _), row in self._rows.items() if name == drill), key=lambda row: -row["slot_ms"])
        return [slot_record(row) for row in mine[:limit]]


class MemoryBudget:
    """The DDM call budget's counters (bot.huawei.budget.BudgetStorage): one per (credential, minute)."""

    def __init__(self) -> None:
        self._used: dict[tuple[str, int], int] = {}

    async def take(self, credential: str, minute_ms: int, limit: int, count: int = 1) -> bool:
        await asyncio.sleep(0)
        if limit < 1 or count < 1 or count > limit:
            return False
        used = self._used.get((credential, minute_ms), 0)
        if used + count > limit:
            return False
        self._used[(credential, minute_ms)] = used + count
        return True

    async def used(self, credential: str, minute_ms: int) -> int:
        await asyncio.sleep(0)
        return self._used.get((credential, minute_ms), 0)

    async def prune(self, before_ms: int) -> int:
        await asyncio.sleep(0)
        gone = [key for key in self._used if key[1] < before_ms]
        for key in gone:
            del self._used[key]
        return len(gone)
