"""The DDM call budget's counters on the `ddm_call_budget` table (bot.huawei.budget.BudgetStorage).

One row per (credential, minute). Taking a slot is one statement the database decides, on SQLite and
PostgreSQL alike: insert the minute's row with 1, or add 1 to it only while it is below the limit. Of many
replicas racing for the last slot exactly one gets a row back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.store import schema
from bot.store.database import Database

_table = schema.call_budget


class BudgetTable:
    """Counters in the store's database; writes follow the store's discipline (SQLite: one writer at a time)."""

    def __init__(self, store: Database) -> None:
        self._store = store
        self._insert: Any = sqlite_insert if store.is_sqlite else postgresql_insert

    async def take(self, credential: str, minute_ms: int, limit: int, count: int = 1) -> bool:
        """Count `count` calls at once, all or none (the submit path reserves its calls in one write)."""
        if limit < 1 or count < 1 or count > limit:
            return False
        statement = (
            self._insert(_table)
            .values(credential=credential, minute_ms=minute_ms, used=count)
            .on_conflict_do_update(
                index_elements=[_table.c.credential, _table.c.minute_ms],
                set_={"used": _table.c.used + count},
                where=_table.c.used + count <= limit,
            )
            .returning(_table.c.used)
        )
        async with self._store.write() as conn:
            row = (await conn.execute(statement)).first()
        return row is not None

    async def used(self, credential: str, minute_ms: int) -> int:
        """How many calls are counted in that minute (for tests and the health page)."""
        async with self._store.read() as conn:
            value = await conn.scalar(
                _table.select()
                .with_only_columns(_table.c.used)
                .where(_table.c.credential == credential, _table.c.minute_ms == minute_ms)
            )
        return int(value or 0)

    async def prune(self, before_ms: int) -> int:
        async with self._store.write() as conn:
            result = await conn.execute(delete(_table).where(_table.c.minute_ms < before_ms))
        return int(result.rowcount or 0)
