"""The layers' markers, and the shared fixtures: a fresh RequestStore on SQLite and, when reachable (or
required), on PostgreSQL (where: tests/support/postgres.py).

Each test is marked by its folder: tests/unit (`unit`: no database, no process), tests/integration
(`integration`: real databases), tests/e2e (`e2e`: the bot running). `make test-fast` runs the unit layer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.store.sql_store import RequestStore
from tests.support.postgres import POSTGRES_ADMIN_URL, REQUIRE_POSTGRES, asyncpg_url
from tests.support.stores import fresh_store

LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(tests).parts if item.path.is_relative_to(tests) else ()
        if parts and parts[0] in LAYERS:
            item.add_marker(parts[0])
    # A test that waits for the wall clock (a real minute to turn) goes first: its wait then overlaps the rest of the
    # run instead of ending it (pytest-xdist hands each worker its share from the front).
    items.sort(key=lambda item: item.get_closest_marker("wall_clock") is None)


def _run_in_thread(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run admin coroutines on a loop of their own: the fixture may be asked for from inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(make())).result()


def _postgres_database_url() -> tuple[str, str]:
    """Create one throwaway database for this test session and return its asyncpg URL."""
    import asyncpg

    name = f"ddm_test_{uuid.uuid4().hex[:10]}"
    admin = POSTGRES_ADMIN_URL

    async def create() -> None:
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _run_in_thread(create)
    return asyncpg_url(name), name


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        url, name = _postgres_database_url()
    except Exception as exc:
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {exc!r}"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (DDM_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    yield url

    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run_in_thread(drop)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[RequestStore]:
    store = await fresh_store(database_url)
    yield store
    await store.close()
