"""The follow-up review of urgent requests (bot.ports.UrgentReviews), on MemoryStore's rows: due when the request
ends, reminded once when overdue, marked reviewed (the SQL store's: bot.store.reviews)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.restore.lifecycle import REVIEW_MOVES, ReviewEvent
from bot.restore.notices import Outgoing, ParamValue
from bot.restore.request import SYSTEM, RestoreRequest
from bot.restore.timeparse import epoch_ms_of as ms
from bot.store.changes import Effects, review_record
from bot.store.memory_queues import Commit, Turn
from bot.store.rows import LockedRequest


class MemoryReviews:
    """The follow-up review of urgent requests (bot.ports.UrgentReviews), on MemoryStore's rows."""

    def __init__(self, turn: Turn, rows: Mapping[str, LockedRequest], commit: Commit) -> None:
        self._turn, self._rows, self._commit = turn, rows, commit  # MemoryStore's

    async def overdue(self, now: datetime) -> list[str]:
        await self._turn()
        return [row.values["id"] for row in self._rows.values() if _overdue(row, ms(now))]

    async def remind(self, request_id: str, *, now: datetime) -> RestoreRequest | None:
        await self._turn()
        row = self._rows.get(request_id)
        if row is None or not _overdue(row, ms(now)):
            return None
        return self._change(row, ReviewEvent.REMINDED, SYSTEM, ms(now), {"review_reminded_ms": ms(now)})

    async def mark_reviewed(self, request_id: str, *, user_id: str, now: datetime) -> RestoreRequest | None:
        await self._turn()
        row = self._rows.get(request_id)
        if row is None or row.values["review_due_ms"] is None or row.values["reviewed_ms"] is not None:
            return None
        values = {"reviewed_by": user_id, "reviewed_ms": ms(now)}
        return self._change(row, ReviewEvent.REVIEWED, user_id, ms(now), values, {"user_id": user_id})

    def _change(
        self,
        row: LockedRequest,
        event: ReviewEvent,
        actor: str,
        now_ms: int,
        values: dict[str, Any],
        params: dict[str, ParamValue] | None = None,
    ) -> RestoreRequest:
        request_id = row.values["id"]
        effects = Effects(request_id, now_ms, notices=[Outgoing(n, params or {}) for n in REVIEW_MOVES[event]])
        effects.records.append(review_record(row, event, actor, now_ms, dict(values)))
        changed = row.changed(values)
        self._commit(request_id, changed, effects)
        return changed.request()


def _overdue(row: LockedRequest, now_ms: int) -> bool:
    """Its review is due by now, not done and not yet reminded."""
    due, done = row.values["review_due_ms"], (row.values["reviewed_ms"], row.values["review_reminded_ms"])
    return due is not None and due <= now_ms and done == (None, None)
