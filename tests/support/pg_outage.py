"""A PostgreSQL database of a test's own that can be closed to connections, the way an outage looks to the bot:
new connections are refused and the open sessions are ended."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from tests.support.postgres import POSTGRES_ADMIN_URL, asyncpg_url


@dataclass
class OutageDatabase:
    name: str
    url: str  # for the bot (postgresql+asyncpg://…)

    async def _admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def close_to_connections(self) -> None:
        await self._admin(
            f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false',
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}' AND pid <> pg_backend_pid()",
        )

    async def open_to_connections(self) -> None:
        await self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    @asynccontextmanager
    async def down(self) -> AsyncIterator[None]:
        await self.close_to_connections()
        try:
            yield
        finally:
            await self.open_to_connections()


async def outage_powers() -> list[str]:
    """What the tests' role lacks to make an outage: creating a database, closing it to connections (its owner
    may) and ending the sessions of another role's connections (pg_signal_backend). Empty: it can."""
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        role = await conn.fetchrow(
            "SELECT rolsuper, rolcreatedb, pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS signals "
            "FROM pg_roles WHERE rolname = current_user"
        )
    finally:
        await conn.close()
    if role is None or role["rolsuper"]:
        return [] if role is not None else ["a role of its own"]
    return [
        power for power, has in (("CREATEDB", role["rolcreatedb"]), ("pg_signal_backend", role["signals"])) if not has
    ]


@asynccontextmanager
async def outage_database() -> AsyncIterator[OutageDatabase]:
    name = f"ddm_outage_{uuid.uuid4().hex[:10]}"
    db = OutageDatabase(name, asyncpg_url(name))
    await db._admin(f'CREATE DATABASE "{name}"')
    try:
        yield db
    finally:
        await db._admin(
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        )
