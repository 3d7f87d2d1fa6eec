"""The store's reads of requests: single statements over the partial indexes, no locks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, text

from bot.restore.request import ACTIVE_STATES, RequestState, RestoreRequest
from bot.store import schema
from bot.store.database import Database
from bot.store.rows import dt, get_request, load_requests, ms

r = schema.requests


class RequestReads(Database):
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

    async def count_by_state(self) -> dict[str, int]:
        async with self.read() as conn:
            rows = (await conn.execute(select(r.c.state, func.count()).group_by(r.c.state))).all()
        return {str(state): int(count) for state, count in rows}

    async def next_expiry(self) -> datetime | None:
        async with self.read() as conn:
            value = (
                await conn.execute(
                    select(func.min(r.c.expires_ms)).where(text(schema.ACTIVE), r.c.state == RequestState.PENDING.value)
                )
            ).scalar()
            return dt(value)
