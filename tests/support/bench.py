"""The workflow on the in-memory store: no database. DDM is the simulator and Slack the fake (real local servers,
both fast); time is a clock the test moves, shared with the simulator, so nothing here sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.huawei.auth import AkSkAuth
from bot.huawei.ddm import DdmClient
from bot.huawei.ddm_gateway import HuaweiDdmGateway
from bot.huawei.retry import RetryPolicy, Timeouts
from bot.playground.slack_api import FakeSlack, FakeUser
from bot.ports import UserDirectory
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.policy import ApprovalPolicy
from bot.restore.request import RestoreRequest
from bot.simulator import RunningSimulator, SimulatorCredentials
from bot.simulator.world import ORDERS_PROD_ID, ORDERS_RESTORE_1_ID
from bot.slack.announcer import Announcer
from bot.slack.blocks.messages import render_notice
from bot.slack.directory import SlackDirectory
from bot.slack.home import HomePublisher
from bot.store.memory import MemoryStore
from bot.workflow.desk import RestoreDesk
from bot.workflow.follow import Follower
from bot.workflow.places import Places
from bot.workflow.submit import Submitter
from bot.workflow.sweep import Sweeper
from bot.workflow.verify import Verifier

PROJECT = "0123456789abcdef0123456789abcdef"
CREDS = SimulatorCredentials(project_id=PROJECT, ak="TESTAKEXAMPLE0000000", sk="test-secret-key")
CHANNEL = "COPS"
TTL = timedelta(minutes=5)  # within the simulator's allowance for a signature's clock skew


class ManualClock:
    """The time the workflow and the simulator see; it stands still until the test moves it (the use cases take
    a callable `now`; the running bot's clock, which also sleeps, is tests/support/clock.DrivenClock)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Bench:
    clock: ManualClock
    store: MemoryStore
    sim: RunningSimulator
    fake: FakeSlack
    ddm: HuaweiDdmGateway
    directory: SlackDirectory
    policy: ApprovalPolicy
    desk: RestoreDesk
    submitter: Submitter
    follower: Follower
    sweeper: Sweeper
    announcer: Announcer
    verifier: Verifier
    spawned: list[asyncio.Task[Any]] = field(default_factory=list)

    def home(self, directory: UserDirectory | None = None) -> HomePublisher:
        """The App Home publisher on the bench's store and fake Slack (`directory`: the bench's unless given)."""
        return HomePublisher(
            client=AsyncWebClient(token="xoxb-test", base_url=self.fake.base_url),
            store=self.store,
            places=Places.one(self.ddm, self.policy),
            directory=directory or self.directory,
            clock=self.clock,
        )

    def desk_submitting_with(self, submit: Callable[[RestoreRequest], Awaitable[object]]) -> RestoreDesk:
        """The people's side of the workflow, handing approved requests to `submit`."""
        return RestoreDesk(
            store=self.store,
            places=Places.one(self.ddm, self.policy),
            directory=self.directory,
            clock=self.clock,
            submit=submit,
        )

    async def plan(self, target: str = ORDERS_RESTORE_1_ID) -> RestorePlan:
        """A plan the way the form makes one: from DDM's answers, each source data node on a free target one."""
        windows = await self.ddm.windows(ORDERS_PROD_ID)
        restore_ms = windows[-1].end_ms - 60_000
        mappings, used = [], set()
        for node in await self.ddm.source_data_nodes(ORDERS_PROD_ID, restore_ms):
            options = await self.ddm.data_node_candidates(
                ORDERS_PROD_ID, target_id=target, source_node_id=node.id, restore_time_ms=restore_ms
            )
            pick = next(c for c in options if c.available and c.id not in used)
            used.add(pick.id)
            mappings.append(DataNodeMapping(source=NamedRef(id=node.id, name=node.name), target=NamedRef(id=pick.id)))
        return self.desk.new_plan(
            source=NamedRef(id=ORDERS_PROD_ID),
            target=NamedRef(id=target),
            restore_time_ms=restore_ms,
            mappings=tuple(mappings),
            reason="INC-4521",
            channel_id=CHANNEL,
        )

    async def settle(self) -> None:
        """Let the work the sweeper handed off finish."""
        await asyncio.gather(*self.spawned)


@asynccontextmanager
async def running_bench() -> AsyncIterator[Bench]:
    clock = ManualClock()
    store = MemoryStore()
    async with FakeSlack() as fake, RunningSimulator(credentials=CREDS, job_seconds=20, clock=clock) as sim:
        fake.add_user(FakeUser("UALICE", "alice"))
        fake.add_user(FakeUser("UBOB", "bob"))
        fake.add_channel(CHANNEL, "ops")
        client = AsyncWebClient(token="xoxb-test", base_url=fake.base_url)
        ddm = HuaweiDdmGateway(
            DdmClient(
                endpoint=sim.base_url,
                project_id=PROJECT,
                auth=AkSkAuth(ak=CREDS.ak, sk=CREDS.sk, project_id=PROJECT),
                retry=RetryPolicy(attempts=1),
                timeouts=Timeouts(connect=1, read=2),
                region="cn-north-4",
            )
        )
        policy = ApprovalPolicy(approver_user_ids=frozenset({"UBOB"}), ttl=TTL)
        places = Places.one(ddm, policy)
        submitter = Submitter(store=store, places=places, clock=clock)
        directory = SlackDirectory(client, group_ids=frozenset(), cache_seconds=60)
        desk = RestoreDesk(store=store, places=places, directory=directory, clock=clock, submit=submitter.submit)
        spawned: list[asyncio.Task[Any]] = []

        def spawn(work: Coroutine[Any, Any, Any], name: str) -> None:
            spawned.append(asyncio.create_task(work, name=name))

        bench = Bench(
            clock=clock,
            store=store,
            sim=sim,
            fake=fake,
            ddm=ddm,
            directory=directory,
            policy=policy,
            desk=desk,
            submitter=submitter,
            follower=Follower(store=store, places=places, submitter=submitter, clock=clock, poll_interval=10),
            sweeper=Sweeper(store=store, desk=desk, submitter=submitter, clock=clock, interval=30, spawn=spawn),
            announcer=Announcer(store=store, client=client, render=render_notice, approvers="<@UBOB>", clock=clock),
            verifier=Verifier(store=store, places=places, clock=clock, poll_interval=10),
            spawned=spawned,
        )
        try:
            yield bench
        finally:
            await ddm.aclose()
