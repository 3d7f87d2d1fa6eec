"""The request repository's implementations, each on a fresh store: in memory, SQLite and PostgreSQL; each built
with what it must tell (`heard`): its change observers and its notices callback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from bot.ports import RequestRepository
from bot.restore.request import RestoreRequest
from bot.store.budget import BudgetTable
from bot.store.memory import MemoryStore
from bot.store.memory_queues import MemoryBudget
from bot.store.sql_store import RequestStore
from tests.support.stores import fresh_store


@dataclass
class Heard:
    """What a store told: each committed change of state (change, request id, state), and how many times it
    said notices were written. With `slipping`, its first observer raises (a broken observer)."""

    changes: list[tuple[str, str, str]] = field(default_factory=list)
    notices: int = 0
    slipping: bool = False

    def slip(self, change: str, request: RestoreRequest) -> None:
        if self.slipping:
            raise RuntimeError(f"an observer's bug at {change}")

    def change(self, change: str, request: RestoreRequest) -> None:
        self.changes.append((change, request.id, request.state.value))

    def notice(self) -> None:
        self.notices += 1


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
