"""The done-when of drills, with real processes: a drill scheduled every minute, two replicas on PostgreSQL killed
and restarted at random. Each minute's slot makes exactly one POST, to a usable target of the pool; once the pool
is used up the channel is told once.

The slots are real minutes (the replicas read the system clock): the test spans two of them, the first due when
the replicas start, the second at the next minute. The replicas start 15 s before a minute turns (after an idle
wait of at most a minute), so that the chaos is short."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from bot.playground.slack_api import FakeSlack
from bot.restore.drills import Outcome
from bot.simulator import RunningSimulator
from bot.simulator.world import ORDERS_RESTORE_1_ID
from bot.store import schema
from bot.store.sql_store import RequestStore
from tests.support.environments import prod
from tests.support.harness import CHANNEL, CREDENTIALS, SECRET, populate, until
from tests.support.processes import BotProcess, free_port

ENVIRONMENT = (
    prod(CHANNEL)
    + """
[[environment.drill]]
name = "every minute"
schedule = "* * * * *"
source = "orders-prod"
targets = ["orders-restore-1"]
"""
)


async def a_quarter_minute_before_the_minute_turns() -> None:
    """Wait, idle, for the wall clock to be 15 s before a minute turns: the replicas then start in the first slot's
    minute and the second slot is due soon after, so the chaos (a process start every second or so) lasts seconds,
    not up to a minute beside the other tests."""
    now = datetime.now(UTC)
    left = 60 - (now.second + now.microsecond / 1e6)  # until the minute turns
    if not 12 <= left <= 15:
        await asyncio.sleep(left - 15 if left > 15 else left + 45)


async def fresh(url: str) -> RequestStore:
    store = RequestStore.from_url(url)
    async with store.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    return store


async def slots(store: RequestStore) -> list[tuple[datetime, str]]:
    try:
        async with store.read() as conn:
            rows = await conn.execute(select(schema.drill_slots).order_by(schema.drill_slots.c.slot_ms))
            return [(datetime.fromtimestamp(r.slot_ms / 1000, UTC), r.outcome) for r in rows]
    except Exception:  # not migrated yet
        return []


@pytest.mark.wall_clock
async def test_each_minute_s_slot_posts_once_across_replicas_killed_at_random(
    tmp_path: Path, postgres_url: str
) -> None:
    store = await fresh(postgres_url)
    rng = random.Random()
    async with (
        FakeSlack() as fake,
        RunningSimulator(credentials=CREDENTIALS, job_seconds=1.0) as sim,
        httpx.AsyncClient(timeout=10) as http,
    ):
        populate(fake)
        config = tmp_path / "ddm-restore.toml"
        config.write_text(ENVIRONMENT.replace("{sim}", sim.base_url), encoding="utf-8")
        env = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.base_url,
            "DDM_RESTORE_CONFIG": str(config),
            "PROD_AK": CREDENTIALS.ak or "",
            "PROD_SK": CREDENTIALS.sk or "",
            "HUAWEICLOUD_CONNECT_TIMEOUT_SECONDS": "1",
            "HUAWEICLOUD_READ_TIMEOUT_SECONDS": "1",
            "DATABASE_URL": postgres_url,
            "JOB_POLL_INTERVAL_SECONDS": "0.2",
            "JOB_LEASE_SECONDS": "1.5",
            "SWEEP_INTERVAL_SECONDS": "0.3",
            "SUBMIT_STALE_SECONDS": "7.5",
            "LOG_LEVEL": "INFO",
        }
        replicas = [BotProcess(f"replica-{i}", env, tmp_path) for i in range(2)]
        await a_quarter_minute_before_the_minute_turns()
        await replicas[0].start()  # the first one migrates the database
        await replicas[1].start()
        stop = asyncio.Event()
        kills = 0

        async def chaos() -> None:
            """Kill a replica (now and then both) at random moments and start it again."""
            nonlocal kills
            while not stop.is_set():
                await asyncio.sleep(rng.uniform(0.05, 0.45))
                victims = replicas if rng.random() < 0.2 else [rng.choice(replicas)]
                for victim in victims:
                    await victim.kill()
                    kills += 1
                for victim in victims:
                    # A port just let go may be taken meanwhile as the local end of some connection: a fresh one.
                    victim.port = free_port()
                    victim.env["PORT"] = str(victim.port)
                await asyncio.gather(*(victim.start() for victim in victims))

        def pool_told() -> list[str]:
            texts = [str(c.args.get("text")) for c in fake.calls_of("chat.postMessage")]
            return [t for t in texts if "target pool is used up" in t]

        chaotic = asyncio.create_task(chaos())
        try:
            # The first slot (the minute the replicas started in) restores; the next finds the pool used up.

            async def two_slots() -> list[tuple[datetime, str]]:
                rows: list[tuple[datetime, str]] = []
                for _ in range(1000):
                    if len(rows := await slots(store)) >= 2:
                        break
                    await asyncio.sleep(0.2)
                return rows

            found = await asyncio.wait_for(two_slots(), 100)
            await until(lambda: pool_told() or None, 15, lambda: "the channel was never told the pool is used up")
            # Two slots can come seconds apart (the replicas started just before a minute turned): the chaos has
            # then had little time, so it goes on until it has killed twice (a repeat would show in the counts).
            await until(lambda: kills >= 2 or None, 15, lambda: f"only {kills} kill(s)")
        finally:
            stop.set()
            await chaotic
            await asyncio.gather(*(r.stop() for r in replicas), return_exceptions=True)
        logs = "\n".join(r.log() for r in replicas)
        (a, first_outcome), (b, second_outcome) = found[:2]
        assert (b - a).total_seconds() == 60 and (first_outcome, second_outcome) == (
            Outcome.REQUESTED,
            Outcome.NO_TARGET,
        ), (found, logs)
        posts = await sim_calls(http, sim.base_url)
        assert [(p["method"], p["body"]["target"]["instance_id"]) for p in posts] == [("POST", ORDERS_RESTORE_1_ID)], (
            posts,
            logs,
        )
        assert len(pool_told()) == 1, pool_told()
        assert kills >= 2
    await store.close()


async def sim_calls(http: httpx.AsyncClient, base_url: str) -> list[dict[str, Any]]:
    answer = await http.get(f"{base_url}/_sim/calls", params={"route": "recovery"})
    return list(answer.json())
