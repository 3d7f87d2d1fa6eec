"""The one way this project makes a database engine: SQLite takes its write lock at BEGIN, PostgreSQL pools."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def make_engine(url: str, **engine_kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **engine_kwargs)
        _sqlite_write_locking(engine)
        return engine
    # pool_pre_ping: a connection the server ended (restart, failover) is replaced instead of failing a click.
    return create_async_engine(url, pool_pre_ping=True, **engine_kwargs)


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
