"""A RequestStore on an empty, migrated database: the SQL side of the store's fixtures."""

from __future__ import annotations

from sqlalchemy import text

from bot.store.requests import RequestStore


async def fresh_store(database_url: str) -> RequestStore:
    """A store on `database_url` with the schema made from nothing (close it when done)."""
    store = RequestStore.from_url(database_url)
    if not store.is_sqlite:
        # The session's PostgreSQL database is shared by the tests: start each one from an empty schema.
        async with store.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await store.create_schema()
    return store
