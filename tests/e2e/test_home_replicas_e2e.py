"""The App Home across two replicas over one database (PostgreSQL when the tests have one, else a SQLite file):
people open Home on replica A, the change is delivered by replica B, and each person the change concerns gets
their Home published exactly once per change, by A or B, showing the new state; one outside its environment, none.
A replica that dies holding a stale Home's claim is taken over once its lease runs out.

The two replicas are two runtimes in this process, each with every loop; what makes a publish once-only is the
store's claim (the contract tests run it on every store), not the process boundary."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio

from bot.app import Runtime
from bot.restore.request import RequestState as S
from tests.support.harness import CREDENTIALS, BotHarness, running_bot, until
from tests.support.homes import (
    cycled,
    home_buttons,
    home_text,
    homes_settled,
    none_stale,
    open_home,
    paused,
    publishes,
    second_replica,
    shared_database,
    stale_homes,
)
from tests.support.reminders import CHANNEL, ENVIRONMENTS, ONCALL_GROUP

QUIET = ENVIRONMENTS.replace("remind_after_minutes = 0.05", "remind_after_minutes = 60").replace(
    "escalate_after_minutes = 0.1", "escalate_after_minutes = 120"
)
LEASE = 30.0  # the harness's JOB_LEASE_SECONDS (the default)


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_AK", CREDENTIALS.ak or "")
    monkeypatch.setenv("PROD_SK", CREDENTIALS.sk or "")


@asynccontextmanager
async def two_replicas(tmp_path: Path, database: str) -> AsyncIterator[tuple[BotHarness, Runtime]]:
    """Replica A (the harness) and replica B over one database, on one clock."""
    async with running_bot(tmp_path, environments=QUIET, database_url=database) as h:
        h.fake.add_channel(CHANNEL, "prod")
        h.fake.set_usergroup(ONCALL_GROUP, [])
        async with second_replica(h, database) as b:
            yield h, b


@pytest_asyncio.fixture
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return await shared_database(request, tmp_path)


async def test_a_home_opened_on_one_replica_is_published_once_per_change_whoever_delivers_it(
    tmp_path: Path, database: str
) -> None:
    async with two_replicas(tmp_path, database) as (h, b):
        request = await h.request_restore(channel=CHANNEL)
        for user in ("UCAROL", "UALICE", "UDAN", "UGUEST"):  # approver, requester, in its environment, outside
            await open_home(h, user)  # on replica A
        assert home_buttons(h.fake.home_of("UCAROL") or {})
        await homes_settled(h, b)

        since = len(h.fake.calls)
        async with paused(h.runtime, "announcer"):  # the change is B's to deliver
            await b.desk.reject(request.id, "UCAROL", "not tonight")
            await h.wait_thread(request, "not tonight")
            home = await until(
                lambda: found if not home_buttons(found := h.fake.home_of("UCAROL") or {}) else None,
                timeout=8,
                describe=lambda: "the approver's Home still offers the buttons",
            )
        await homes_settled(h, b)
        assert "Nothing waits for your approval." in home_text(home)
        assert [publishes(h, user, since) for user in ("UCAROL", "UALICE", "UDAN", "UGUEST")] == [1, 1, 1, 0]
        assert "rejected" in home_text(h.fake.home_of("UALICE") or {})
        assert "rejected" in home_text(h.fake.home_of("UDAN") or {})  # in its environment: "Recent" shows it

        # The next change, delivered by whichever replica claims it: once more each, no more.
        since = len(h.fake.calls)
        second = await h.request_restore(channel=CHANNEL)
        await until(
            lambda: True if f"`{second.id}`" in home_text(h.fake.home_of("UCAROL") or {}) else None,
            timeout=8,
            describe=lambda: "the new request is not on the approver's Home",
        )
        await homes_settled(h, b)
        assert [publishes(h, user, since) for user in ("UCAROL", "UALICE", "UDAN", "UGUEST")] == [1, 1, 1, 0]


async def test_a_replica_that_dies_holding_a_stale_home_is_taken_over_when_its_lease_runs_out(
    tmp_path: Path, database: str
) -> None:
    async with two_replicas(tmp_path, database) as (h, b):
        request = await h.request_restore(channel=CHANNEL)
        await open_home(h, "UCAROL")  # on replica A
        await homes_settled(h, b)

        stuck = asyncio.Event()

        async def dies_while_drawing(user_id: str) -> None:
            stuck.set()
            await asyncio.Event().wait()  # never published: A dies in here

        a = h.runtime
        a.homes.home.publish = dies_while_drawing  # type: ignore[method-assign]
        since = len(h.fake.calls)
        async with paused(b, "homes"):  # so that A claims it
            await b.desk.reject(request.id, "UCAROL", "not tonight")
            await h.wait_request(lambda r: r.state is S.REJECTED, request_id=request.id)
            await asyncio.wait_for(stuck.wait(), timeout=10)
            assert await stale_homes(b) == [("UCAROL", a.homes.owner)]
            await a.supervisor.close(grace_seconds=0)  # A is gone, its claim still held
        await cycled(b, "homes")
        assert publishes(h, "UCAROL", since) == 0  # held by A until its lease runs out
        h.clock.advance(LEASE + 1)
        home = await until(
            lambda: found if publishes(h, "UCAROL", since) and (found := h.fake.home_of("UCAROL")) else None,
            timeout=8,
            describe=lambda: f"B never published the Home A held: {h.fake.home_of('UCAROL')}",
        )
        assert "Nothing waits for your approval." in home_text(home)
        await none_stale(b)
        await cycled(b, "homes")
        assert publishes(h, "UCAROL", since) == 1
