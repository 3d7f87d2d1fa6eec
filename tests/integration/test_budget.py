"""The DDM call budget on both engines: the limit holds across stores and processes; waiting and refusing."""

from __future__ import annotations

import asyncio
import socket
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from bot.huawei.budget import (
    KEEP_MINUTES_MS,
    MINUTE_MS,
    PRUNE_EVERY_MS,
    CallBudget,
    credential_key,
    minute_of,
)
from bot.huawei.errors import BudgetError, BudgetSpent
from bot.store.budget import BudgetTable
from bot.store.sql_store import RequestStore

ROOT = Path(__file__).resolve().parents[2]
CRED = credential_key(ak="TESTAKEXAMPLE0000000")
MINUTE = minute_of(1_796_000_000_000)


class FakeTime:
    """Wall-clock time the budget reads; sleeping moves it on (no real waiting in these tests)."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms / 1000
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget_on(store: RequestStore, fake: FakeTime, per_minute: int = 3, credential: str = CRED) -> CallBudget:
    return CallBudget(
        BudgetTable(store), credential=credential, per_minute=per_minute, clock=fake.clock, sleep=fake.sleep
    )


@pytest_asyncio.fixture
async def second_store(store: RequestStore, database_url: str) -> AsyncIterator[RequestStore]:
    """Another replica's store on the same database (the `store` fixture made the schema)."""
    other = RequestStore.from_url(database_url)
    yield other
    await other.close()


# ---- the table ---------------------------------------------------------------------------------------------


async def test_take_counts_up_to_the_limit(store: RequestStore) -> None:
    table = BudgetTable(store)
    taken = [await table.take(CRED, MINUTE, 3) for _ in range(5)]
    assert taken == [True, True, True, False, False]
    assert await table.used(CRED, MINUTE) == 3
    # Another minute and another credential have counters of their own.
    assert await table.take(CRED, MINUTE + MINUTE_MS, 3)
    assert await table.take("iam-other", MINUTE, 3)
    assert await table.used(CRED, MINUTE + MINUTE_MS) == 1 and await table.used(CRED, MINUTE) == 3


async def test_two_stores_hammering_one_database_never_exceed_the_limit(
    store: RequestStore, second_store: RequestStore
) -> None:
    tables = [BudgetTable(store), BudgetTable(second_store)]
    results = await asyncio.gather(*[tables[n % 2].take(CRED, MINUTE, 25) for n in range(120)])
    assert sum(results) == 25
    assert await tables[1].used(CRED, MINUTE) == 25


async def test_two_budgets_on_two_stores_share_one_minute(store: RequestStore, second_store: RequestStore) -> None:
    fake = FakeTime(MINUTE + 5_000)
    budgets = [budget_on(store, fake, per_minute=10), budget_on(second_store, fake, per_minute=10)]

    async def call(budget: CallBudget) -> bool:
        try:
            await budget.acquire(max_wait=1.5)
        except BudgetSpent:
            return False
        return True

    results = await asyncio.gather(*[call(budgets[n % 2]) for n in range(40)])
    assert sum(results) == 10
    assert fake.slept == []  # the next minute was 55 s away: refused at once, never waited


PROCESS_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from bot.store.budget import BudgetTable
    from bot.store.sql_store import RequestStore

    async def main(url: str, minute: int, calls: int, limit: int) -> None:
        store = RequestStore.from_url(url)
        table = BudgetTable(store)
        await table.take("ak-warm-up", minute, 1_000)  # connect before the start, so both start together
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # the test says go once both are ready
        taken = await asyncio.gather(*[table.take("ak-proc", minute, limit) for _ in range(calls)])
        await store.close()
        print(sum(taken))

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
    """
)


async def test_two_processes_never_exceed_the_limit(store: RequestStore, database_url: str) -> None:
    async def started() -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            PROCESS_SCRIPT,
            database_url,
            str(MINUTE),
            "100",
            "150",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        ready = await asyncio.wait_for(process.stdout.readline(), 30)
        assert ready == b"ready\n", ready + (await process.communicate())[1]
        return process

    async def counted(process: asyncio.subprocess.Process) -> int:
        out, err = await process.communicate(b"go\n")
        assert process.returncode == 0, err.decode()
        return int(out.decode().strip())

    processes = await asyncio.gather(started(), started())  # both connected: they start together
    counts = await asyncio.gather(*[counted(process) for process in processes])
    # 200 tries for 150 slots: exactly the limit together, whichever process was quicker.
    assert sum(counts) == 150 and min(counts) >= 50
    assert await BudgetTable(store).used("ak-proc", MINUTE) == 150


async def test_old_minutes_are_pruned(store: RequestStore) -> None:
    table = BudgetTable(store)
    old, recent = MINUTE - 2 * KEEP_MINUTES_MS, MINUTE - MINUTE_MS
    for minute in (old, recent):
        assert await table.take(CRED, minute, 5)
    fake = FakeTime(MINUTE + 1_000)
    budget = budget_on(store, fake)
    await budget.acquire(max_wait=0)  # the first take of a process prunes
    assert await table.used(CRED, old) == 0
    assert await table.used(CRED, recent) == 1
    assert await table.take(CRED, old, 5)
    fake.now += 1  # the same minute: no second prune so soon
    await budget.acquire(max_wait=0)
    assert await table.used(CRED, old) == 1
    fake.now += PRUNE_EVERY_MS / 1000
    await budget.acquire(max_wait=0)
    assert await table.used(CRED, old) == 0


# ---- the policy --------------------------------------------------------------------------------------------


async def test_a_spent_minute_refuses_at_once_when_the_next_is_far(store: RequestStore) -> None:
    fake = FakeTime(MINUTE + 10_000)
    budget = budget_on(store, fake)
    for _ in range(3):
        assert await budget.acquire(max_wait=1.5) == MINUTE
    started = time.monotonic()
    with pytest.raises(BudgetSpent, match=r"DDM is busy: the bot has used its 3 DDM calls for this minute") as caught:
        await budget.acquire(max_wait=1.5)
    assert time.monotonic() - started < 0.5 and fake.slept == []
    assert 49 < caught.value.retry_in <= 50.1
    assert await BudgetTable(store).used(CRED, MINUTE) == 3  # a refused call is not counted


async def test_a_spent_minute_waits_briefly_for_the_next(store: RequestStore) -> None:
    fake = FakeTime(MINUTE + 59_000)
    budget = budget_on(store, fake, per_minute=1)
    assert await budget.acquire(max_wait=1.5) == MINUTE
    assert await budget.acquire(max_wait=1.5) == MINUTE + MINUTE_MS
    assert len(fake.slept) == 1 and 0.9 < fake.slept[0] < 1.1


async def test_background_waits_for_the_next_minute_even_when_another_replica_took_it(
    store: RequestStore, second_store: RequestStore
) -> None:
    fake = FakeTime(MINUTE + 30_000)
    budget = budget_on(store, fake, per_minute=2)
    other = BudgetTable(second_store)
    for minute in (MINUTE, MINUTE + MINUTE_MS):  # the other replica spent this minute and the next
        assert await other.take(CRED, minute, 2) and await other.take(CRED, minute, 2)
    assert await budget.acquire(max_wait=150) == MINUTE + 2 * MINUTE_MS
    assert len(fake.slept) == 2 and 29 < fake.slept[0] < 31 and 59 < fake.slept[1] < 61


async def test_the_posts_reservation(store: RequestStore) -> None:
    fake = FakeTime(MINUTE + 20_000)
    budget = budget_on(store, fake, per_minute=3)
    reservation = await budget.reserve(max_wait=1.5)
    assert reservation.minutes == {MINUTE}
    for _ in range(2):
        await budget.acquire(max_wait=0)
    with pytest.raises(BudgetSpent):
        await budget.acquire(max_wait=0)
    request = httpx.Request("POST", "https://ddm.example/v3/p/instances/i/backups/recovery")
    with budget.spending(reservation):
        await budget.before_call(request)  # the POST: paid ahead, no wait, no new slot
        with pytest.raises(BudgetSpent):
            await budget.before_call(request)  # a 401's repeat needs a slot of its own
    assert fake.slept == [] and await BudgetTable(store).used(CRED, MINUTE) == 3


async def test_a_reservation_near_the_end_of_a_minute_covers_the_next(store: RequestStore) -> None:
    fake = FakeTime(MINUTE + 55_000)
    budget = budget_on(store, fake, per_minute=3)
    reservation = await budget.reserve(max_wait=0)
    assert reservation.minutes == {MINUTE, MINUTE + MINUTE_MS}
    fake.now += 10  # the POST lands in the next minute
    assert reservation.covers(budget.now_ms())
    with budget.spending(reservation):
        await budget.before_call(httpx.Request("POST", "https://ddm.example/x"))
    assert await BudgetTable(store).used(CRED, MINUTE + MINUTE_MS) == 1  # held by the reservation, nothing more


async def test_a_lapsed_reservation_pays_like_any_call(store: RequestStore) -> None:
    fake = FakeTime(MINUTE + 1_000)
    budget = budget_on(store, fake, per_minute=3)
    reservation = await budget.reserve(max_wait=0)
    fake.now += 120
    with budget.spending(reservation, then_wait=0):
        await budget.before_call(httpx.Request("POST", "https://ddm.example/x"))
    assert await BudgetTable(store).used(CRED, MINUTE + 2 * MINUTE_MS) == 1


async def test_calls_outside_any_block_wait_the_default(store: RequestStore) -> None:
    fake = FakeTime(MINUTE + 1_000)
    budget = budget_on(store, fake, per_minute=1)
    await budget.before_call(httpx.Request("GET", "https://ddm.example/x"))
    with pytest.raises(BudgetSpent):
        await budget.before_call(httpx.Request("GET", "https://ddm.example/x"))
    with budget.waiting(120):
        await budget.before_call(httpx.Request("GET", "https://ddm.example/x"))
    assert len(fake.slept) == 1


async def test_an_unreachable_database_stops_calls() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    broken = RequestStore.from_url(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/nowhere")
    budget = budget_on(broken, FakeTime(MINUTE))
    with pytest.raises(BudgetError, match="DDM calls are paused"):
        await budget.acquire(max_wait=1.5)
    await broken.close()


def test_credential_key_holds_no_secret() -> None:
    key = credential_key(ak="TESTAKEXAMPLE0000000")
    assert "TESTAK" not in key and key.startswith("ak-") and len(key) <= 64
    user = credential_key(username="restore-bot", domain="acme")
    assert user.startswith("iam-") and "restore-bot" not in user and len(user) <= 64
    assert user == credential_key(
        username="Restore-Bot", domain="ACME"
    )  # one budget for both spellings: sharing is the safe side
    with pytest.raises(ValueError):
        CallBudget(BudgetTable.__new__(BudgetTable), credential=key, per_minute=0)
