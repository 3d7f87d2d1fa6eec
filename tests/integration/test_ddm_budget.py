"""The DDM call budget through the gateway, counted in the store's table (SQLite): what a spent minute does to
people's reads, the follower's wait, pages and retries, the POST's reservation."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.choices import ChoicesUnavailable, RestoreChoices
from bot.huawei.budget import MINUTE_MS, CallBudget, credential_key, minute_of
from bot.huawei.ddm_gateway import HuaweiDdmGateway
from bot.ports import DdmUnreachable
from bot.restore.facts import Accepted, NotSent
from bot.restore.plan import NamedRef
from bot.simulator import RunningSimulator
from bot.simulator.world import ORDERS_PROD_ID, ORDERS_RESTORE_2_ID
from bot.store.budget import BudgetTable
from bot.store.sql_store import RequestStore
from tests.support.ddm import AK, CREDS, a_plan, calls, client_for, fault


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with RunningSimulator(credentials=CREDS, job_seconds=0.6) as running:
        yield running


@pytest_asyncio.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[RequestStore]:
    store = RequestStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await store.create_schema()
    yield store
    await store.close()


def budget_for(
    store: RequestStore, per_minute: int, *, seconds_left: float, slept: list[float] | None = None
) -> CallBudget:
    """A real budget whose clock is shifted so that the current minute ends in `seconds_left`. With `slept`, its
    waits pass at once on its clock, and are noted there."""
    now = time.time()
    shift = [(minute_of(int(now * 1000)) + MINUTE_MS - now * 1000) / 1000 - seconds_left]

    async def skip(seconds: float) -> None:
        assert slept is not None
        slept.append(seconds)
        shift[0] += seconds

    return CallBudget(
        BudgetTable(store),
        credential=credential_key(ak=AK),
        per_minute=per_minute,
        clock=lambda: time.time() + shift[0],
        sleep=asyncio.sleep if slept is None else skip,
    )


async def test_a_spent_budget_makes_a_form_read_answer_busy_quickly(
    sim: RunningSimulator, sqlite_store: RequestStore
) -> None:
    budget = budget_for(sqlite_store, 2, seconds_left=40)
    gateway = HuaweiDdmGateway(client_for(sim.base_url, budget))
    choices = RestoreChoices(gateway)
    try:
        await gateway.windows(ORDERS_PROD_ID)
        await gateway.windows(ORDERS_PROD_ID)
        started = time.monotonic()
        with pytest.raises(ChoicesUnavailable, match="DDM is busy"):
            await choices.instances()
        assert time.monotonic() - started < 1.0
        with pytest.raises(DdmUnreachable, match=r"^DDM is busy: the bot has used its 2 DDM calls"):
            await gateway.targets(ORDERS_PROD_ID)
    finally:
        await gateway.aclose()
    assert await calls(sim, "list_instances") == []  # refused before sending
    assert len(await calls(sim, "restorable_time_interval")) == 2


async def test_the_follower_waits_for_the_next_minute(sim: RunningSimulator, sqlite_store: RequestStore) -> None:
    slept: list[float] = []
    budget = budget_for(sqlite_store, 1, seconds_left=2.0, slept=slept)
    gateway = HuaweiDdmGateway(client_for(sim.base_url, budget))
    try:
        await gateway.instances()
        with pytest.raises(DdmUnreachable, match="DDM is busy"):
            await gateway.instances()  # people: 2 s is too long
        assert slept == []
        now_ms = int(time.time() * 1000)
        await gateway.background().jobs(now_ms - 60_000, now_ms)
        assert len(slept) == 1 and 1.0 < slept[0] < 4.0  # until the next minute, then the call
    finally:
        await gateway.aclose()


async def test_every_page_and_retry_takes_a_slot(sim: RunningSimulator, sqlite_store: RequestStore) -> None:
    budget = budget_for(sqlite_store, 50, seconds_left=40)
    gateway = HuaweiDdmGateway(client_for(sim.base_url, budget))
    world = sim.state.world
    world.ddm_instances.extend(
        dataclasses.replace(world.ddm_instances[0], id=f"{n:032x}in09", name=f"bulk-{n:03d}") for n in range(130)
    )
    try:
        await fault(sim, route="restorable_time_interval", kind="500", count=1)
        await gateway.instances()  # two pages
        await gateway.windows(ORDERS_PROD_ID)  # one 500, then the answer
    finally:
        await gateway.aclose()
    table = BudgetTable(sqlite_store)
    assert await table.used(budget.credential, minute_of(budget.now_ms())) == 4


async def test_the_posts_reservation_lets_it_go_when_the_minute_is_spent(
    sim: RunningSimulator, sqlite_store: RequestStore
) -> None:
    budget = budget_for(sqlite_store, 12, seconds_left=40)
    gateway = HuaweiDdmGateway(client_for(sim.base_url, budget))
    try:
        plan = await a_plan(gateway)  # a few reads
        await gateway.prepare()  # the POST's slot
        while True:  # the form loads of others spend the rest
            try:
                await gateway.instances()
            except DdmUnreachable:
                break
        started = time.monotonic()
        outcome = await gateway.background().submit(plan)  # the twin shares the reservations
        assert time.monotonic() - started < 1.0
        assert isinstance(outcome, Accepted)
        # Unprepared, the next POST finds no slot: it is not sent, and says so.
        other = await gateway.submit(plan.model_copy(update={"target": NamedRef(id=ORDERS_RESTORE_2_ID)}))
        assert isinstance(other, NotSent) and other.code == "NOT_SENT" and "DDM is busy" in other.message
    finally:
        await gateway.aclose()
    assert len(await calls(sim, "recovery")) == 1
    assert await BudgetTable(sqlite_store).used(budget.credential, minute_of(budget.now_ms())) == 12


async def test_the_recheck_and_the_post_take_their_budget_in_one_write(
    sim: RunningSimulator, sqlite_store: RequestStore
) -> None:
    """`prepare(calls=n)` counts n calls at once; the re-check's reads (made concurrently, as the submit does)
    and the POST spend them without another write, and a call beyond them pays as usual."""
    budget = budget_for(sqlite_store, 50, seconds_left=40)
    table = BudgetTable(sqlite_store)
    writes = 0
    take = table.take

    async def counted(credential: str, minute_ms: int, limit: int, count: int = 1) -> bool:
        nonlocal writes
        writes += 1
        return await take(credential, minute_ms, limit, count)

    table.take = counted  # type: ignore[method-assign]
    budget.storage = table
    gateway = HuaweiDdmGateway(client_for(sim.base_url, budget))
    try:
        plan = await a_plan(gateway)
        minute = minute_of(budget.now_ms())
        before_writes, before_used = writes, await table.used(budget.credential, minute)
        reads = 3 + len(plan.mappings)
        await gateway.prepare(calls=reads + 1)
        await asyncio.gather(
            gateway.windows(ORDERS_PROD_ID),
            gateway.targets(ORDERS_PROD_ID),
            gateway.source_data_nodes(ORDERS_PROD_ID, plan.restore_time_ms),
            *[
                gateway.data_node_candidates(
                    ORDERS_PROD_ID,
                    target_id=plan.target.id,
                    source_node_id=m.source.id,
                    restore_time_ms=plan.restore_time_ms,
                )
                for m in plan.mappings
            ],
        )
        assert isinstance(await gateway.submit(plan), Accepted)
        assert writes - before_writes == 1
        assert await table.used(budget.credential, minute) - before_used == reads + 1
        await gateway.instances()  # past what was reserved: one more write, as any call
        assert writes - before_writes == 2
    finally:
        await gateway.aclose()
