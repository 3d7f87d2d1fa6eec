"""Several replicas sharing one database, as real processes: nothing lost, nothing run twice.

Two `ddm-restore-bot run` processes in HTTP mode share PostgreSQL (and, to show it works on one host, one
SQLite file); the fake Slack and the DDM simulator run in the test process. The replicas keep the wall clock,
with short leases and a short SUBMIT_STALE_SECONDS; the simulator's clock is the test's, so a restore job ends
when the test moves it (never after a real wait).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text

from bot.playground import slack_payloads as sp
from bot.playground.slack_api import FakeSlack, FakeUser
from bot.restore.request import RequestState
from bot.simulator import RunningSimulator
from bot.store.sql_store import RequestStore
from tests.support.clock import DrivenClock
from tests.support.harness import CHANNEL, CREDENTIALS, GROUP, PROJECT, SECRET, BotHarness, populate
from tests.support.http import local_http
from tests.support.processes import BotProcess

S = RequestState
ON_ITS_WAY = (S.APPROVED, S.SUBMITTING, S.UNKNOWN, S.RUNNING, S.VERIFYING)
MANY = [f"UAPP{i:02d}" for i in range(50)]


@pytest.fixture(params=["postgresql", "sqlite"])
async def shared_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}"
    url = str(request.getfixturevalue("postgres_url"))
    store = RequestStore.from_url(url)
    async with store.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await store.close()
    return url


@dataclass
class Cluster:
    fake: FakeSlack
    sim: RunningSimulator
    store: RequestStore
    replicas: list[BotProcess]
    harness: BotHarness
    clock: DrivenClock  # the simulator's

    async def click(
        self, replica: BotProcess, request_id: str, ts: str, user: str, action: str = "approve_request"
    ) -> int:
        body, headers = sp.block_actions(
            SECRET,
            user_id=user,
            action_id=action,
            block_id="card_actions",
            value=request_id,
            channel_id=CHANNEL,
            message_ts=ts,
            message=self.fake.message(CHANNEL, ts),
            trigger_id=sp.new_trigger_id(),
            response_url=self.fake.response_url(f"click-{user}"),
        )
        answer = await self.harness.http.post(replica.url, content=body, headers=headers)
        return answer.status_code

    async def quiet(self, timeout: float = 15.0) -> None:
        """Every notice delivered and no request on its way (approved, submitting, unknown, running or verifying: each of
        those still has notices to make): nothing is left that any replica could still post."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            # Moving first: a request's last move writes its notices in the same commit, so once none moves, the
            # outbox read after it holds every notice there will be.
            moving = await self.store.in_states(ON_ITS_WAY)
            depth = await self.store.outbox.depth()
            if depth == (0, None) and not moving:
                return
            assert asyncio.get_running_loop().time() < deadline, f"never quiet: outbox {depth}, {len(moving)} moving"
            await asyncio.sleep(0.05)


@asynccontextmanager
async def cluster(
    tmp_path: Path,
    database_url: str,
    *,
    replicas: int = 2,
    job_seconds: float = 1.0,
    settle_seconds: float = 0.0,
    **settings: str,
) -> AsyncIterator[Cluster]:
    clock = DrivenClock()
    async with (
        FakeSlack() as fake,
        RunningSimulator(
            credentials=CREDENTIALS, job_seconds=job_seconds, settle_seconds=settle_seconds, clock=clock.now
        ) as sim,
    ):
        populate(fake)
        for user in MANY:
            fake.add_user(FakeUser(user, user.lower()))
        fake.set_usergroup(GROUP, MANY)
        env = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.base_url,
            "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT,
            "HUAWEICLOUD_DDM_ENDPOINT": sim.base_url,
            "HUAWEICLOUD_IAM_ENDPOINT": sim.base_url,
            "HUAWEICLOUD_SDK_AK": CREDENTIALS.ak or "",
            "HUAWEICLOUD_SDK_SK": CREDENTIALS.sk or "",
            "HUAWEICLOUD_CONNECT_TIMEOUT_SECONDS": "1",
            "HUAWEICLOUD_READ_TIMEOUT_SECONDS": "1",
            "APPROVER_USER_IDS": "UBOB",
            "APPROVER_USERGROUP_IDS": GROUP,
            "DATABASE_URL": database_url,
            "JOB_POLL_INTERVAL_SECONDS": "0.2",
            "JOB_LEASE_SECONDS": "1.5",
            "SWEEP_INTERVAL_SECONDS": "0.3",
            # A submit is taken for lost this long after it began (the POST's deadline here is 1 + 1 + 5 s).
            "SUBMIT_STALE_SECONDS": "7.5",
            "LOG_LEVEL": "INFO",
        } | settings
        processes = [BotProcess(f"replica-{i}", env, tmp_path) for i in range(replicas)]
        await processes[0].start()  # the first one migrates the database
        await asyncio.gather(*[p.start() for p in processes[1:]])
        store = RequestStore.from_url(database_url)
        try:
            async with local_http(timeout=15) as http:
                harness = BotHarness(
                    fake=fake,
                    sim=sim,
                    runtime=SimpleNamespace(store=store),
                    url=processes[0].url,
                    http=http,  # type: ignore[arg-type]
                )
                yield Cluster(fake=fake, sim=sim, store=store, replicas=processes, harness=harness, clock=clock)
        finally:
            await asyncio.gather(*[p.stop() for p in processes], return_exceptions=True)
            await store.close()


def actions_of(trail: list[Any]) -> list[str]:
    return [record.action for record in trail]


async def test_fifty_clicks_over_two_replicas_post_once(tmp_path: Path, shared_db: str) -> None:
    async with cluster(tmp_path, shared_db) as c:
        request = await c.harness.request_restore()
        ts = request.message_ts or ""
        statuses = await asyncio.gather(
            *[c.click(c.replicas[i % 2], request.id, ts, user) for i, user in enumerate(MANY)]
        )
        assert set(statuses) == {200}
        await c.harness.wait_thread(request, "✅ Verified", timeout=20)

        async def every_click_answered() -> bool:
            # Each click either counted or was told why not: then no click's work is still on its way.
            final = await c.store.get(request.id)
            told = [user for user in MANY if c.harness.ephemerals_for(user)]
            return final is not None and len(told) + len(final.approvals) == len(MANY)

        deadline = asyncio.get_running_loop().time() + 15
        while not await every_click_answered():
            assert asyncio.get_running_loop().time() < deadline, "some clicks were never answered"
            await asyncio.sleep(0.05)
        await c.quiet()
        assert len(await c.harness.sim_calls("recovery")) == 1
        thread = c.harness.thread_texts(request)
        assert sum("submitted to DDM" in t for t in thread) == 1
        assert sum("Restore completed" in t for t in thread) == 1
        actions = actions_of(await c.store.audit_trail(request.id))
        for once in ("create", "approved", "submit", "job_submitted", "job_completed"):
            assert actions.count(once) == 1, (once, actions)
        final = await c.store.get(request.id)
        assert final is not None and final.state is S.VERIFIED
        assert actions.count("approve") == len(final.approvals) >= 1


async def test_sigkill_while_a_job_runs_the_other_replica_finishes_it(tmp_path: Path, shared_db: str) -> None:
    async with cluster(tmp_path, shared_db, job_seconds=600) as c:
        request = await c.harness.request_restore()
        assert await c.click(c.replicas[0], request.id, request.message_ts or "", "UBOB") == 200
        running = await c.harness.wait_request(lambda r: r.state is S.RUNNING, request_id=request.id, timeout=15)
        await c.replicas[0].kill()
        c.clock.advance(600)  # the job ends now, its follower dead
        await c.harness.wait_thread(running, "✅ Verified", timeout=30)
        await c.quiet()
        assert sum("Restore completed" in t for t in c.harness.thread_texts(running)) == 1
        assert len(await c.harness.sim_calls("recovery")) == 1
        done = await c.store.get(request.id)
        assert done is not None and done.state is S.VERIFIED and done.job_id == running.job_id


async def test_sigkill_mid_verification_the_other_replica_finishes_it(tmp_path: Path, shared_db: str) -> None:
    """The replica verifying a restore dies while the target still settles: the other takes the verifier lease
    over and gives the verdict, once."""
    async with cluster(tmp_path, shared_db, job_seconds=0.5, settle_seconds=3.0) as c:
        request = await c.harness.request_restore()
        c.replicas[1].signal(signal.SIGSTOP)  # frozen: replica 0 does everything, the verification included
        try:
            assert await c.click(c.replicas[0], request.id, request.message_ts or "", "UBOB") == 200
            await c.harness.wait_request(lambda r: r.state is S.VERIFYING, request_id=request.id, timeout=20)
            for _ in range(100):  # replica 0 has looked at the target (still RESTORE): it is verifying
                if await c.harness.sim_calls("instance"):
                    break
                await asyncio.sleep(0.05)
            assert await c.harness.sim_calls("instance")
            await c.replicas[0].kill()
        finally:
            c.replicas[1].signal(signal.SIGCONT)
        done = await c.harness.wait_request(lambda r: r.is_final, request_id=request.id, timeout=30)
        assert done.state is S.VERIFIED, done.error_msg
        await c.harness.wait_thread(request, "✅ Verified", timeout=20)
        await asyncio.sleep(0.4)  # two polls: a straggler would have acted
        assert sum("✅ Verified" in t for t in c.harness.thread_texts(request)) == 1
        assert actions_of(await c.store.audit_trail(request.id)).count("verified") == 1


async def test_sigkill_during_submit_is_reconciled_never_resent(tmp_path: Path, shared_db: str) -> None:
    async with cluster(tmp_path, shared_db, job_seconds=1.0) as c:
        request = await c.harness.request_restore()
        await c.harness.sim_fault(route="recovery", kind="hold", execute=True)
        assert await c.click(c.replicas[0], request.id, request.message_ts or "", "UBOB") == 200
        await c.harness.wait_request(lambda r: r.state is S.SUBMITTING, request_id=request.id, timeout=15)
        for _ in range(100):  # the POST has reached DDM (and the job exists) when the replica dies
            if await c.harness.sim_calls("recovery"):
                break
            await asyncio.sleep(0.05)
        await c.replicas[0].kill()
        await c.harness.http.post(f"{c.sim.base_url}/_sim/release")
        jobs = [j for j in c.sim.state.world.jobs if j.name == "RestoreInstance"]
        created = max(jobs, key=lambda j: j.created).id
        settled = await c.harness.wait_request(
            lambda r: r.state in (S.RUNNING, S.VERIFYING, S.VERIFIED), request_id=request.id, timeout=40
        )
        assert settled.job_id == created
        await c.harness.wait_thread(request, "Restore completed", timeout=20)
        assert len(await c.harness.sim_calls("recovery")) == 1
        actions = actions_of(await c.store.audit_trail(request.id))
        assert "submitter_lost" in actions and "reconciled" in actions


async def test_sigterm_finishes_the_in_flight_submit(tmp_path: Path, shared_db: str) -> None:
    # The held POST is answered once the replica is stopping: well within its read timeout, however loaded.
    slow_answers = {"HUAWEICLOUD_READ_TIMEOUT_SECONDS": "5", "SUBMIT_STALE_SECONDS": "30"}
    async with cluster(tmp_path, shared_db, job_seconds=1.0, **slow_answers) as c:
        request = await c.harness.request_restore()
        await c.harness.sim_fault(route="recovery", kind="hold")
        assert await c.click(c.replicas[0], request.id, request.message_ts or "", "UBOB") == 200
        await c.harness.wait_request(lambda r: r.state is S.SUBMITTING, request_id=request.id, timeout=15)
        c.replicas[0].signal(signal.SIGTERM)
        await c.replicas[0].wait_for_log("SIGTERM: stopping")  # it is stopping, the POST still unanswered
        await c.harness.http.post(f"{c.sim.base_url}/_sim/release")
        assert await c.replicas[0].wait(30) == 0
        after = await c.store.get(request.id)
        assert after is not None and after.state is S.RUNNING and after.job_id  # the answer was recorded
        await c.harness.wait_thread(request, "Restore completed", timeout=20)  # the survivor follows it
        assert len(await c.harness.sim_calls("recovery")) == 1


async def test_a_notice_a_dead_replica_posted_but_never_recorded_is_not_posted_again(
    tmp_path: Path, shared_db: str
) -> None:
    """Replica 0 posts "approved (1/1)" and dies before it can record that it did (its restore submitted
    meanwhile); replica 1 takes over its claim when the lease runs out, finds the message in the thread by its
    metadata and does not post it again; the rest of the request's notices are delivered by replica 1, once each."""
    async with cluster(tmp_path, shared_db, replicas=1, JOB_LEASE_SECONDS="1.5") as c:
        request = await c.harness.request_restore()
        c.fake.set_delay("chat.postMessage", 6, after_processing=True)
        assert await c.click(c.replicas[0], request.id, request.message_ts or "", "UBOB") == 200
        await c.harness.wait_thread(request, "approved (1/1)", timeout=15)
        await c.harness.wait_request(lambda r: r.job_id is not None, request_id=request.id, timeout=5)
        await c.replicas[0].kill()
        c.fake.set_delay("chat.postMessage", 0)
        survivor = BotProcess("replica-1", c.replicas[0].env, tmp_path)
        await survivor.start()
        try:
            await c.harness.wait_thread(request, "Restore completed", timeout=40)
            await c.quiet()
            thread = c.harness.thread_texts(request)
            assert sum("approved (1/1)" in t for t in thread) == 1, thread
            assert sum("Restore completed" in t for t in thread) == 1, thread
            assert len(await c.harness.sim_calls("recovery")) <= 1
            assert await c.store.outbox.depth() == (0, None)
        finally:
            await survivor.stop()
