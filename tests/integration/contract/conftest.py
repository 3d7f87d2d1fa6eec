"""The request repository's implementations, each on a fresh store: in memory, SQLite and PostgreSQL; each built
with what it must tell (`heard`): its change observers and its notices callback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.ports import RequestRepository
from bot.store.budget import BudgetTable
from bot.store.memory import MemoryStore
from bot.store.memory_queues import MemoryBudget
from bot.store.sql_store import RequestStore
from tests.support.stores import Heard, fresh_store


@pytest.fixture
def heard() -> Heard:
    return Heard()


@pytest_asyncio.fixture(params=["memory", "sqlite", "postgresql"])
async def repo(request: pytest.FixtureRequest, tmp_path: Path, heard: Heard) -> AsyncIterator[RequestRepository]:
    told = {"observers": [heard.slip, heard.change], "on_notices": heard.notice}
    if request.param == "memory":
        yield MemoryStore(**told)
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    store = await fresh_store(url, **told)
    yield store
    await store.close()


@pytest.fixture
def counters(repo: RequestRepository) -> BudgetTable | MemoryBudget:
    """The DDM call budget's counters beside the repository: in memory, or the store's table."""
    return BudgetTable(repo) if isinstance(repo, RequestStore) else MemoryBudget()
