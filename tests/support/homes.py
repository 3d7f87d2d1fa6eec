"""The App Home in e2e tests: opening it, reading it, counting its publishes, a second replica over the harness's
database, and loops paused or waited for (tests/e2e/test_home_e2e.py, test_home_replicas_e2e.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Runtime, build_runtime
from bot.playground import slack_payloads as sp
from bot.store import schema
from tests.support.harness import SECRET, BotHarness, harness_settings, until
from tests.support.stores import fresh_store


async def open_home(h: BotHarness, user: str) -> dict[str, Any]:
    before = (h.fake.home_of(user) or {}).get("hash")
    answer = await h.send(sp.app_home_opened(SECRET, user_id=user))
    assert answer.status_code == 200, answer.text
    return await until(
        lambda: home if (home := h.fake.home_of(user)) is not None and home["hash"] != before else None,
        timeout=5,
        describe=lambda: f"no Home published for {user}",
    )


def drill_blocks(home: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in home["blocks"] if str(b.get("block_id", "")).startswith("home_drill")]


def home_buttons(home: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]


def home_text(home: dict[str, Any]) -> str:
    texts = [str((b.get("text") or {}).get("text", "")) for b in home["blocks"]]
    texts += [str(e.get("text", "")) for b in home["blocks"] if b["type"] == "context" for e in b["elements"]]
    return "\n".join(texts)


def publishes(h: BotHarness, user: str, since: int) -> int:
    """How many times `user`'s Home was published since call number `since` of the fake Slack."""
    return sum(1 for c in h.fake.calls[since:] if c.method == "views.publish" and c.args.get("user_id") == user)


async def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """PostgreSQL (the session's database, emptied) when the tests have one, else a SQLite file: where two
    replicas meet."""
    if not os.environ.get("DDM_TEST_POSTGRES_URL"):
        return f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    url = str(request.getfixturevalue("postgres_url"))
    await (await fresh_store(url)).close()
    return url


@asynccontextmanager
async def second_replica(h: BotHarness, database_url: str) -> AsyncIterator[Runtime]:
    """Another runtime over the harness's database and environments, on the harness's clock, with every loop."""
    settings = harness_settings(
        h.fake,
        h.sim,
        Path("unused"),
        database_url=database_url,
        ddm_restore_config=h.runtime.settings.ddm_restore_config,
    )
    runtime = await build_runtime(settings, sweep_interval=0.2, clock=h.clock)
    await runtime.start_background()
    try:
        yield runtime
    finally:
        await runtime.close()


@asynccontextmanager
async def paused(runtime: Runtime, loop: str) -> AsyncIterator[None]:
    """`loop` of `runtime` does nothing until the block ends: once this returns, no step of it is under way."""
    state = runtime.supervisor.loops[loop]
    step, entered = state.step, asyncio.Event()

    async def idle() -> float:
        entered.set()
        return 3600.0

    state.step = idle
    runtime.supervisor.wake(loop)
    await asyncio.wait_for(entered.wait(), timeout=10)  # the step that was under way is over
    try:
        yield
    finally:
        state.step = step
        runtime.supervisor.wake(loop)


async def stale_homes(runtime: Runtime) -> list[tuple[str, str | None]]:
    """Who has a stale Home, and who holds it."""
    h = schema.home_tabs
    async with runtime.store.read() as conn:
        rows = await conn.execute(select(h.c.user_id, h.c.claimed_by).where(h.c.version > h.c.published_version))
        return [(str(r.user_id), r.claimed_by) for r in rows]


async def cycled(runtime: Runtime, loop: str) -> None:
    """`loop` of `runtime` has run one whole step from now."""
    state = runtime.supervisor.loops[loop]
    deadline = asyncio.get_running_loop().time() + 10
    before = state.last_ok
    while state.step_started is not None and state.last_ok == before:  # finish the step under way first
        assert asyncio.get_running_loop().time() < deadline, f"a step of {loop} never ended"
        await asyncio.sleep(0.02)
    before = state.last_ok
    runtime.supervisor.wake(loop)
    while state.last_ok == before:
        assert asyncio.get_running_loop().time() < deadline, f"{loop} never ran again"
        await asyncio.sleep(0.02)


async def homes_settled(h: BotHarness, *others: Runtime) -> None:
    """Every notice delivered, no Home stale, and each replica's Home loop has looked once more since (a second
    publish, were one coming, would be made by then)."""
    await h.quiet()
    await none_stale(h.runtime)
    for runtime in (h.runtime, *others):
        await cycled(runtime, "homes")


async def none_stale(runtime: Runtime) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while await stale_homes(runtime):
        assert asyncio.get_running_loop().time() < deadline, f"stale Homes left: {await stale_homes(runtime)}"
        await asyncio.sleep(0.02)
