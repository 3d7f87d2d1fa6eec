"""Database: one engine, a reader, serialised SQLite writers, and database failures turned into StoreUnavailable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Self

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import StoreUnavailable
from bot.store.engine import make_engine

log = logging.getLogger(__name__)


def unavailable(exc: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable an exception from the database stands for, or None when it is not an outage."""
    if isinstance(exc, IntegrityError):
        return None  # a constraint said no: the database is fine
    if isinstance(exc, (OperationalError, InterfaceError, OSError, TimeoutError)):
        return StoreUnavailable(type(exc).__name__)
    if isinstance(exc, DBAPIError):
        # asyncpg reports a refused or ended session through several DBAPI classes; what they share is that
        # the connection is gone, or that the server would not let us in (SQLSTATE 08xxx, 57Pxx, 55000).
        code = str(getattr(exc.orig, "sqlstate", "") or getattr(exc.orig, "pgcode", "") or "")
        if exc.connection_invalidated or code.startswith(("08", "57P", "55000")):
            return StoreUnavailable(type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__)
    return None


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Reads need no write lock (see bot.store.engine); this engine shares the pool.
        self.reader = engine.execution_options(readonly=True)
        self.is_sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time; queueing this process's writers here is fair and fast, where
        # letting them collide leaves it to SQLite's busy handler, which sleeps (p99 of seconds under load).
        self._sqlite_writer = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, **engine_kwargs: Any) -> Self:
        return cls(make_engine(url, **engine_kwargs))

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back (and nothing recorded) on any error."""
        try:
            if self.is_sqlite:
                async with self._sqlite_writer, self.engine.begin() as conn:
                    yield conn
            else:
                async with self.engine.begin() as conn:
                    yield conn
        except Exception as exc:
            if (outage := unavailable(exc)) is not None:
                raise outage from exc
            raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.reader.connect() as conn:
                yield conn
        except Exception as exc:
            if (outage := unavailable(exc)) is not None:
                raise outage from exc
            raise

    async def create_schema(self) -> None:
        """Apply the schema migrations (bot.store.migrate): create, upgrade or leave the database as it is."""
        from bot.store.migrate import upgrade_engine  # alembic is heavy: only when migrating

        await upgrade_engine(self.engine)
        if self.is_sqlite:
            # Without statistics SQLite's planner ignores the partial indexes (PostgreSQL's autovacuum keeps its
            # own): the sweeper's queries would read the whole history on every sweep.
            async with self.write() as conn:
                await conn.exec_driver_sql("ANALYZE")

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def close(self) -> None:
        await self.engine.dispose()
