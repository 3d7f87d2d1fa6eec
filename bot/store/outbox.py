"""The outbox: every Slack notice of a change is a row written in the change's transaction.

The announcer (bot.slack.announcer) claims the rows of a few requests at a time with a lease (owner + expiry):
rows a dead replica held are claimed again once the lease runs out. A request's rows are claimed together and
only when none of them is held by someone else, so each request's notices go out in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.ports import OutboxRow
from bot.restore.notices import Notice, Outgoing
from bot.restore.timeparse import epoch_ms_of as ms
from bot.store import schema
from bot.store.database import Database

o = schema.outbox
__all__ = ["Outbox", "OutboxRow", "append_notices"]


async def append_notices(conn: AsyncConnection, request_id: str, notices: Iterable[Outgoing], *, now_ms: int) -> int:
    """Write `notices` in the caller's transaction; returns how many."""
    rows = [
        {
            "request_id": request_id,
            "notice": n.notice.value,
            "params": json.dumps(dict(n.params), sort_keys=True),
            "created_ms": now_ms,
            "due_ms": now_ms,
            "attempts": 0,
        }
        for n in notices
    ]
    if rows:
        await conn.execute(insert(o), rows)
    return len(rows)


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, owner: str, *, now: datetime, lease_seconds: float, requests: int = 20) -> list[OutboxRow]:
        """Claim every pending row of up to `requests` requests whose rows are all due and held by nobody else;
        returns the rows this owner holds, by request and then in order."""
        now_ms = ms(now)
        held_by_other = (o.c.claimed_by.is_not(None)) & (o.c.claimed_by != owner) & (o.c.claim_expires_ms > now_ms)
        claimable = (
            select(o.c.request_id)
            .where(text(schema.PENDING_NOTICE))
            .group_by(o.c.request_id)
            .having(func.max(o.c.due_ms) <= now_ms)
            .having(func.sum(func.cast(held_by_other, Integer)) == 0)
            .limit(requests)
        )
        async with self.db.write() as conn:
            ids = [row.request_id for row in (await conn.execute(claimable)).all()]
            if not ids:
                return []
            await conn.execute(
                update(o)
                .where(
                    text(schema.PENDING_NOTICE),
                    o.c.request_id.in_(ids),
                    # Checked again on the row itself: another replica may have claimed it meanwhile.
                    o.c.claimed_by.is_(None) | (o.c.claimed_by == owner) | (o.c.claim_expires_ms <= now_ms),
                )
                .values(
                    claimed_by=owner, claim_expires_ms=now_ms + int(lease_seconds * 1000), attempts=o.c.attempts + 1
                )
            )
            rows = (
                await conn.execute(
                    select(o)
                    .where(text(schema.PENDING_NOTICE), o.c.request_id.in_(ids), o.c.claimed_by == owner)
                    .order_by(o.c.request_id, o.c.seq)
                )
            ).all()
        return [_row(r) for r in rows]

    async def done(self, seqs: Sequence[int], *, now: datetime) -> None:
        if not seqs:
            return
        async with self.db.write() as conn:
            await conn.execute(update(o).where(o.c.seq.in_(list(seqs))).values(done_ms=ms(now), claim_expires_ms=None))

    async def retry_later(self, request_id: str, owner: str, *, due: datetime, error: str) -> None:
        """Give back this owner's rows of a request, not to be tried before `due` (order is kept: all wait)."""
        async with self.db.write() as conn:
            await conn.execute(
                update(o)
                .where(text(schema.PENDING_NOTICE), o.c.request_id == request_id, o.c.claimed_by == owner)
                .values(claimed_by=None, claim_expires_ms=None, due_ms=ms(due), last_error=error[:500])
            )

    async def renew(self, request_id: str, owner: str, *, now: datetime, lease_seconds: float) -> bool:
        """Extend this owner's claim on a request's rows before delivering them; False when it was lost (its
        lease ran out and another replica took them): then they are not this owner's to deliver."""
        async with self.db.write() as conn:
            result = await conn.execute(
                update(o)
                .where(text(schema.PENDING_NOTICE), o.c.request_id == request_id, o.c.claimed_by == owner)
                .values(claim_expires_ms=ms(now) + int(lease_seconds * 1000))
            )
        return bool(result.rowcount)

    async def release(self, owner: str) -> None:
        """Give back everything this owner holds (shutdown): another replica may take it at once."""
        async with self.db.write() as conn:
            await conn.execute(
                update(o)
                .where(text(schema.PENDING_NOTICE), o.c.claimed_by == owner)
                .values(claimed_by=None, claim_expires_ms=None)
            )

    async def depth(self) -> tuple[int, int | None]:
        """How many notices wait, and since when (epoch ms of the oldest)."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(select(func.count(), func.min(o.c.created_ms)).where(text(schema.PENDING_NOTICE)))
            ).one()
        return int(row[0]), row[1]

    async def pending(self, request_id: str) -> list[OutboxRow]:
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(o).where(text(schema.PENDING_NOTICE), o.c.request_id == request_id).order_by(o.c.seq)
                )
            ).all()
        return [_row(r) for r in rows]


def _row(row: Any) -> OutboxRow:
    try:
        params = json.loads(row.params)
    except ValueError:
        params = {}
    return OutboxRow(
        seq=int(row.seq),
        request_id=row.request_id,
        notice=Notice(row.notice),
        params=params if isinstance(params, dict) else {},
        created_ms=int(row.created_ms),
        attempts=int(row.attempts),
    )
