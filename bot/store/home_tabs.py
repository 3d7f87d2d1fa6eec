"""Who has opened the App Home, and whose is stale (bot.ports.HomeTabs): one row per person, however many changes.

A change bumps `version`; a publish records the version it drew (`published_version`), so a change marked while
a publish was under way leaves the Home stale. A stale Home is claimed with a lease (owner + expiry), like the
outbox: a dead replica's claims are taken over once they run out.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import case, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.ports import StaleHome
from bot.restore.timeparse import epoch_ms_of as ms
from bot.store import schema
from bot.store.database import Database

h = schema.home_tabs
STALE = h.c.version > h.c.published_version


class HomeTabTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def opened(self, user_id: str, *, now: datetime) -> None:
        async with self.db.write() as conn:
            found = await conn.execute(update(h).where(h.c.user_id == user_id).values(opened_ms=ms(now)))
            if found.rowcount:
                return
            row = dict(user_id=user_id, opened_ms=ms(now), version=0, published_version=0, due_ms=ms(now), attempts=0)
            try:
                async with conn.begin_nested():
                    await conn.execute(insert(h).values(**row))
            except IntegrityError:
                pass  # opened on another replica at the same moment: the row is there

    async def viewers(self) -> list[str]:
        async with self.db.read() as conn:
            return [str(user) for user in (await conn.execute(select(h.c.user_id).order_by(h.c.user_id))).scalars()]

    async def mark_stale(self, user_ids: Collection[str], *, now: datetime) -> None:
        if not user_ids:
            return
        async with self.db.write() as conn:
            await conn.execute(
                update(h)
                .where(h.c.user_id.in_(sorted(user_ids)))
                # Already stale: it keeps its place (and its backoff); else it is due now.
                .values(version=h.c.version + 1, due_ms=case((STALE, h.c.due_ms), else_=ms(now)))
            )

    async def claim(self, owner: str, *, now: datetime, lease_seconds: float, limit: int = 1) -> list[StaleHome]:
        now_ms = ms(now)
        free = h.c.claimed_by.is_(None) | (h.c.claimed_by == owner) | (h.c.claim_expires_ms <= now_ms)
        claimable = select(h.c.user_id).where(STALE, h.c.due_ms <= now_ms, free).order_by(h.c.due_ms).limit(limit)
        expires = now_ms + int(lease_seconds * 1000)
        async with self.db.write() as conn:
            ids = [str(user) for user in (await conn.execute(claimable)).scalars()]
            if not ids:
                return []
            # Checked again on the row itself: another replica may have claimed it meanwhile.
            await conn.execute(
                update(h)
                .where(h.c.user_id.in_(ids), STALE, free)
                .values(claimed_by=owner, claim_expires_ms=expires, attempts=h.c.attempts + 1)
            )
            rows = await conn.execute(
                select(h.c.user_id, h.c.version, h.c.attempts).where(
                    h.c.user_id.in_(ids), h.c.claimed_by == owner, h.c.claim_expires_ms == expires
                )
            )
            return [StaleHome(str(r.user_id), int(r.version), int(r.attempts)) for r in rows]

    async def published(self, home: StaleHome, owner: str, *, now: datetime) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                update(h)
                .where(h.c.user_id == home.user_id, h.c.published_version < home.version)
                .values(published_version=home.version)
            )
            await conn.execute(
                update(h)
                .where(h.c.user_id == home.user_id, h.c.claimed_by == owner)
                .values(claimed_by=None, claim_expires_ms=None, attempts=0, last_error=None, due_ms=ms(now))
            )

    async def retry_later(self, user_id: str, owner: str, *, due: datetime, error: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                update(h)
                .where(h.c.user_id == user_id, h.c.claimed_by == owner)
                .values(claimed_by=None, claim_expires_ms=None, due_ms=ms(due), last_error=error[:500])
            )

    async def release(self, owner: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(h).where(h.c.claimed_by == owner).values(claimed_by=None, claim_expires_ms=None))

    async def forget(self, user_id: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(delete(h).where(h.c.user_id == user_id))
