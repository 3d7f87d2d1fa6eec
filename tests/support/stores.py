"""A RequestStore on an empty, migrated database: the SQL side of the store's fixtures."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import text

from bot.ports import ChangeObserver
from bot.store.sql_store import RequestStore


async def fresh_store(
    database_url: str, *, observers: Sequence[ChangeObserver] = (), on_notices: Callable[[], None] = lambda: None
) -> RequestStore:
    """A store on `database_url` with the schema made from nothing (close it when done)."""
    store = RequestStore.from_url(database_url, observers=observers, on_notices=on_notices)
    if not store.is_sqlite:
        # The session's PostgreSQL database is shared by the tests: start each one from an empty schema.
        async with store.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await store.create_schema()
    return store
