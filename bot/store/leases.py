"""Named leases: one holder at a time among the replicas, taken over when the holder stops renewing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.restore.timeparse import epoch_ms_of as ms
from bot.store import schema
from bot.store.database import Database

lease = schema.leases


class Leases:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def take(self, name: str, *, owner: str, now: datetime, seconds: float) -> bool:
        """Hold (or renew) `name` until now+seconds, unless someone else holds it still."""
        until = ms(now) + int(seconds * 1000)
        async with self.db.write() as conn:
            result = await conn.execute(
                update(lease)
                .where(lease.c.name == name, (lease.c.owner == owner) | (lease.c.expires_ms <= ms(now)))
                .values(owner=owner, expires_ms=until)
            )
            if result.rowcount == 1:
                return True
            if (await conn.execute(select(lease.c.name).where(lease.c.name == name))).first() is not None:
                return False
            try:
                async with conn.begin_nested():
                    await conn.execute(insert(lease).values(name=name, owner=owner, expires_ms=until))
            except IntegrityError:
                return False  # another replica inserted it first
            return True

    async def release(self, name: str, *, owner: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(delete(lease).where(lease.c.name == name, lease.c.owner == owner))

    async def holder(self, name: str, *, now: datetime) -> str | None:
        async with self.db.read() as conn:
            row = (
                await conn.execute(select(lease.c.owner).where(lease.c.name == name, lease.c.expires_ms > ms(now)))
            ).first()
        return None if row is None else str(row.owner)
