"""The unit layer's fixtures: the workflow's bench (tests/support/bench.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.support.bench import Bench, running_bench


@pytest_asyncio.fixture
async def bench() -> AsyncIterator[Bench]:
    async with running_bench() as each:
        yield each
