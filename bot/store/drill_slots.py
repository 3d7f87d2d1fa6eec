"""Drill slots: a row per drill and slot, so each runs once across replicas and restarts (bot.restore.drills). The
slot of a drill's request is claimed by RequestStore.create, in the request's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.restore.drills import SlotRecord
from bot.restore.timeparse import epoch_ms_of as ms
from bot.store import schema
from bot.store.changes import slot_record, slot_row
from bot.store.database import Database

_s = schema.drill_slots


async def slot_claimed(conn: AsyncConnection, drill: str, slot: datetime) -> bool:
    found = await conn.execute(select(_s.c.drill).where(_s.c.drill == drill, _s.c.slot_ms == ms(slot)))
    return found.first() is not None


class DrillSlotTable:
    def __init__(self, db: Database) -> None:
        self.db = db

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
        row = slot_row(drill, slot, outcome, now_ms=ms(now), detail=detail, targets_left=targets_left)
        try:
            async with self.db.write() as conn:
                await conn.execute(insert(_s).values(**row))
        except IntegrityError:
            return False  # claimed already
        return True

    async def latest(self, drill: str) -> SlotRecord | None:
        found = await self.recent(drill, 1)
        return found[0] if found else None

    async def recent(self, drill: str, limit: int) -> list[SlotRecord]:
        async with self.db.read() as conn:
            rows = await conn.execute(select(_s).where(_s.c.drill == drill).order_by(_s.c.slot_ms.desc()).limit(limit))
        return [slot_record(dict(row._mapping)) for row in rows]
