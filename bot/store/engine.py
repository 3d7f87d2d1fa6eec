"""The one way this project makes a database engine: SQLite takes its write lock at BEGIN, PostgreSQL pools and
pings connections that were idle."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry


def make_engine(url: str, **engine_kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **engine_kwargs)
        _sqlite_write_locking(engine)
        return engine
    engine = create_async_engine(url, **engine_kwargs)
    _ping_after_idle(engine)
    return engine


# A pooled connection idle longer than this is pinged before use (see _ping_after_idle).
IDLE_PING_SECONDS = 1.0


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it has been idle for a while.

    A connection the server ended (restart, failover) is then replaced instead of failing a click, as with
    SQLAlchemy's pool_pre_ping, which asyncpg pays with three round trips (BEGIN, a ping, ROLLBACK) on every
    checkout, i.e. on every transaction of a busy bot. Connections in steady use are not pinged: one the server
    ends meanwhile fails the statement it runs; SQLAlchemy then discards every connection pooled before that
    moment, so the next transaction opens a fresh one (StoreUnavailable for the one that failed, as for any
    statement cut off by an outage)."""
    sync_engine = engine.sync_engine
    idle_seconds = IDLE_PING_SECONDS

    @event.listens_for(sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool replaces this connection (and every one pooled before now) and tries again.
            raise InvalidatePoolError(f"ping after {time.monotonic() - idle_since:.0f} s idle failed: {exc}") from exc


def _sqlite_write_locking(engine: AsyncEngine) -> None:
    """Make every SQLite transaction take the write lock up front (BEGIN IMMEDIATE).

    pysqlite's default deferred transactions let two writers read the same state and then fail on upgrade;
    taking the lock at BEGIN makes conditional updates and the audit chain serialise cleanly, even across
    processes. WAL lets readers continue meanwhile. (SQLAlchemy's documented recipe.)
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE")
