"""The follow-up review of urgent requests in the store: due when the request ends (written with that move, see
bot.store.changes), reminded once when overdue, marked reviewed. Each is a conditional update with its audit
record and its notices (bot.restore.lifecycle.REVIEW_MOVES), in one transaction, like every request move."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from bot.restore.lifecycle import REVIEW_MOVES, ReviewEvent
from bot.restore.notices import Outgoing
from bot.restore.request import SYSTEM, RestoreRequest
from bot.restore.timeparse import epoch_ms_of as ms
from bot.store import schema
from bot.store.audit_chain import append_records
from bot.store.changes import review_record
from bot.store.database import Database
from bot.store.outbox import append_notices
from bot.store.rows import lock_request

r = schema.requests


class Reviews:
    def __init__(self, db: Database, on_notices: Callable[[], None]) -> None:
        self.db = db
        self.on_notices = on_notices

    async def overdue(self, now: datetime) -> list[str]:
        """Requests whose review is overdue and not yet reminded."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(r.c.id).where(
                    r.c.review_due_ms <= ms(now), r.c.reviewed_ms.is_(None), r.c.review_reminded_ms.is_(None)
                )
            )
            return [row.id for row in rows]

    async def remind(self, request_id: str, *, now: datetime) -> RestoreRequest | None:
        """Record the one reminder of an overdue review (None when it was reviewed or reminded meanwhile)."""
        return await self._change(
            request_id,
            ReviewEvent.REMINDED,
            actor=SYSTEM,
            now=now,
            where=(r.c.reviewed_ms.is_(None), r.c.review_reminded_ms.is_(None), r.c.review_due_ms <= ms(now)),
            values={"review_reminded_ms": ms(now)},
        )

    async def mark_reviewed(self, request_id: str, *, user_id: str, now: datetime) -> RestoreRequest | None:
        """Record the review (None when it was not due, or already reviewed)."""
        return await self._change(
            request_id,
            ReviewEvent.REVIEWED,
            actor=user_id,
            now=now,
            where=(r.c.review_due_ms.is_not(None), r.c.reviewed_ms.is_(None)),
            values={"reviewed_by": user_id, "reviewed_ms": ms(now)},
            params={"user_id": user_id},
        )

    async def _change(
        self,
        request_id: str,
        event: ReviewEvent,
        *,
        actor: str,
        now: datetime,
        where: tuple[Any, ...],
        values: dict[str, Any],
        params: dict[str, str] | None = None,
    ) -> RestoreRequest | None:
        now_ms = ms(now)
        async with self.db.write() as conn:
            locked = await lock_request(conn, request_id)
            if locked is None:
                return None
            result = await conn.execute(update(r).where(r.c.id == request_id, *where).values(**values))
            if result.rowcount != 1:
                return None
            notices = [Outgoing(n, params or {}) for n in REVIEW_MOVES[event]]
            await append_notices(conn, request_id, notices, now_ms=now_ms)
            await append_records(
                conn, [review_record(locked, event, actor, now_ms, dict(values))], head=locked.chain_head
            )
            changed = locked.changed(values)
        self.on_notices()
        return changed.request()
