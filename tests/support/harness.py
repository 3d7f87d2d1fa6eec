"""The whole bot on localhost: the app in HTTP mode, the fake Slack Web API, and the DDM simulator.

`BotHarness` drives it the way Slack and people would: signed slash commands, option loads, clicks and
view submissions over real HTTP, and it applies the app's view responses to the fake (as Slack does).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiohttp import web

from bot.app import Runtime, build_runtime
from bot.config import Settings
from bot.playground import slack_payloads as sp
from bot.playground.slack_api import FakeSlack, FakeUser
from bot.restore.request import RestoreRequest
from bot.serving.serve import web_app
from bot.simulator import RunningSimulator, SimulatorCredentials
from bot.simulator.world import ORDERS_PROD_ID, ORDERS_RESTORE_1_ID
from tests.support.clock import DrivenClock
from tests.support.http import local_http

T = TypeVar("T")
SECRET = "test-signing-secret"
CHANNEL = "COPS"
PROJECT = "0123456789abcdef0123456789abcdef"
CREDENTIALS = SimulatorCredentials(project_id=PROJECT, ak="TESTAKEXAMPLE0000000", sk="test-secret-key")
GROUP = "SLEADS"
GROUP_MEMBERS = ["UCAROL", "UERIN", *[f"UM{i:02d}" for i in range(20)]]


def populate(fake: FakeSlack) -> None:
    fake.add_user(FakeUser("UALICE", "alice", tz="Asia/Shanghai", tz_offset=28800))
    fake.add_user(FakeUser("UBOB", "bob", tz="Europe/Berlin", tz_offset=3600))
    fake.add_user(FakeUser("UDAN", "dan"))
    fake.add_user(FakeUser("UGUEST", "guest", is_restricted=True))
    for member in GROUP_MEMBERS:
        fake.add_user(FakeUser(member, member.lower()))
    fake.set_usergroup(GROUP, GROUP_MEMBERS)
    fake.add_channel(CHANNEL, "ops")
    fake.add_channel("COUTSIDE", "elsewhere", is_member=False)


def harness_settings(fake: FakeSlack, sim: RunningSimulator, db: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_mode="http",
        slack_api_url=fake.base_url,
        huaweicloud_region="cn-north-4",
        huaweicloud_sdk_project_id=PROJECT,
        huaweicloud_ddm_endpoint=sim.base_url,
        huaweicloud_iam_endpoint=sim.base_url,
        huaweicloud_sdk_ak=CREDENTIALS.ak,
        huaweicloud_sdk_sk=CREDENTIALS.sk,
        huaweicloud_read_timeout_seconds=2.0,
        approver_user_ids="UALICE,UBOB,UGUEST",
        approver_usergroup_ids=GROUP,
        required_approvals=1,
        approval_ttl_minutes=60,
        database_url=f"sqlite:///{db}",
        job_poll_interval_seconds=0.1,
        # The tests drive far more forms a minute than people do; the budget has tests of its own.
        ddm_calls_per_minute=100_000,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class BotHarness:
    fake: FakeSlack
    sim: RunningSimulator
    runtime: Runtime
    url: str
    http: httpx.AsyncClient
    clock: DrivenClock = field(default_factory=DrivenClock)  # the bot's and the simulator's time
    top_view: dict[str, str | None] = field(default_factory=dict)

    # ---- raw requests ------------------------------------------------------------------------------------

    async def send(self, signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
        body, headers = signed
        return await self.http.post(self.url, content=body, headers=headers)

    async def command(self, text: str = "", *, user: str = "UALICE", channel: str = CHANNEL) -> httpx.Response:
        answer = await self.send(
            sp.slash_command(
                SECRET, text=text, user_id=user, channel_id=channel, response_url=self.fake.response_url(user)
            )
        )
        assert answer.status_code == 200, answer.text
        return answer

    async def click(self, action_id: str, request: RestoreRequest, *, user: str) -> httpx.Response:
        assert request.message_ts
        answer = await self.send(
            sp.block_actions(
                SECRET,
                user_id=user,
                action_id=action_id,
                block_id="card_actions",
                value=request.id,
                channel_id=request.channel_id,
                message_ts=request.message_ts,
                message=self.fake.message(request.channel_id, request.message_ts),
                trigger_id=sp.new_trigger_id(),
                response_url=self.fake.response_url(f"click-{user}"),
            )
        )
        assert answer.status_code == 200, answer.text
        return answer

    async def submit_view(self, view_id: str, state: dict[str, Any], *, user: str = "UALICE") -> dict[str, Any]:
        view = self.fake.views[view_id]
        answer = await self.send(
            sp.view_submission(SECRET, user_id=user, view=view, state_values=state, trigger_id=sp.new_trigger_id())
        )
        assert answer.status_code == 200, answer.text
        response: dict[str, Any] = json.loads(answer.text) if answer.text else {}
        self.top_view[view_id] = self.fake.apply_view_response(view_id, response)
        return response

    # ---- the form, step by step --------------------------------------------------------------------------

    async def open_form(self, text: str = "", *, user: str = "UALICE", channel: str = CHANNEL) -> str:
        since = len(self.fake.calls)
        await self.command(text, user=user, channel=channel)
        opened = await self.fake.wait_for("views.open", since=since)
        return str(opened.args["view"].get("id") or self._last_view_id())

    def _last_view_id(self) -> str:
        return sorted(self.fake.views)[-1]

    async def choose_source(self, view_id: str, source: str = ORDERS_PROD_ID, *, user: str = "UALICE") -> None:
        since = len(self.fake.calls)
        answer = await self.send(
            sp.block_actions(
                SECRET,
                user_id=user,
                action_id="source_instance",
                block_id="source_instance",
                view=self.fake.views[view_id],
                selected_option={"text": {"type": "plain_text", "text": source}, "value": source},
                action_type="external_select",
                state_values={"source_instance": {"source_instance": sp.external_select(source)}},
            )
        )
        assert answer.status_code == 200, answer.text
        await self.fake.wait_for("views.update", lambda c: c.args.get("view_id") == view_id, since=since)

    async def options(
        self, view_id: str, action_id: str, query: str = "", *, user: str = "UALICE"
    ) -> list[dict[str, Any]]:
        answer = await self.send(
            sp.block_suggestion(
                SECRET,
                user_id=user,
                action_id=action_id,
                block_id=action_id,
                value=query,
                view=self.fake.views[view_id],
            )
        )
        assert answer.status_code == 200, answer.text
        return list(json.loads(answer.text)["options"])

    async def submit_step1(
        self,
        view_id: str,
        *,
        source: str = ORDERS_PROD_ID,
        target: str = ORDERS_RESTORE_1_ID,
        exact: str | None = "latest",
        picker: int | None = None,
        user: str = "UALICE",
    ) -> dict[str, Any]:
        state = {
            "source_instance": {"source_instance": sp.external_select(source)},
            "restore_time": {"restore_time": sp.datetimepicker(picker)},
            "restore_time_exact": {"restore_time_exact": sp.plain_text_input(exact)},
            "target_instance": {"target_instance": sp.external_select(target)},
        }
        return await self.submit_view(view_id, state, user=user)

    async def wait_step2(self, pushed_view_id: str, timeout: float = 5.0) -> dict[str, Any]:
        def filled() -> dict[str, Any] | None:
            view = self.fake.views[pushed_view_id]
            done = view["callback_id"] == "ddm_restore_request" or view["blocks"][0]["text"]["text"][:1] == "⚠"
            return view if done else None

        return await until(filled, timeout, lambda: "step 2 of the form was never filled")

    def suggested_state(self, view: dict[str, Any], reason: str = "INC-4521") -> dict[str, Any]:
        """The state Slack would send for step 2 with every suggested option kept."""
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            if block["type"] == "input" and block["block_id"].startswith("dn_map:"):
                chosen = block["element"].get("initial_option")
                state[block["block_id"]] = {
                    "dn_target": sp.static_select(chosen["value"], chosen["text"]["text"])
                    if chosen
                    else sp.static_select(None)
                }
        state["reason"] = {"reason": sp.plain_text_input(reason)}
        return state

    async def request_restore(
        self,
        *,
        user: str = "UALICE",
        target: str = ORDERS_RESTORE_1_ID,
        channel: str = CHANNEL,
        extra_state: dict[str, Any] | None = None,
    ) -> RestoreRequest:
        """The whole form: command → source → step 1 → step 2 (its suggestions, plus `extra_state`) → card.
        Returns the stored request."""
        view_id = await self.open_form(user=user, channel=channel)
        await self.choose_source(view_id, user=user)
        response = await self.submit_step1(view_id, target=target, user=user)
        assert response.get("response_action") == "push", response
        pushed = self.top_view[view_id]
        assert pushed
        step2 = await self.wait_step2(pushed)
        since = len(self.fake.calls)
        response = await self.submit_view(pushed, self.suggested_state(step2) | (extra_state or {}), user=user)
        assert response == {"response_action": "clear"}, response
        await self.fake.wait_for("chat.postMessage", lambda c: c.args.get("blocks"), since=since)
        return await self.wait_request(lambda r: r.message_ts is not None and r.channel_id == channel)

    async def wait_request(
        self, predicate: Any, *, request_id: str | None = None, timeout: float = 8.0
    ) -> RestoreRequest:
        async def poll() -> RestoreRequest:
            while True:
                if request_id:
                    found = await self.runtime.store.get(request_id)
                    candidates = [found] if found else []
                else:
                    candidates = await self.runtime.store.recent(1)
                for request in candidates:
                    if predicate(request):
                        return request
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(poll(), timeout)

    def thread_texts(self, request: RestoreRequest) -> list[str]:
        assert request.message_ts
        return [str(m.get("text")) for m in self.fake.thread(request.channel_id, request.message_ts)]

    async def wait_thread(self, request: RestoreRequest, needle: str, timeout: float = 8.0) -> str:
        return await until(
            lambda: next((t for t in self.thread_texts(request) if needle in t), None),
            timeout,
            lambda: f"no thread message with {needle!r}; thread: {self.thread_texts(request)}",
        )

    def card_text(self, request: RestoreRequest) -> str:
        assert request.message_ts
        return json.dumps(self.fake.message(request.channel_id, request.message_ts)["blocks"], ensure_ascii=False)

    async def wait_card(self, request: RestoreRequest, needle: str, timeout: float = 5.0) -> str:
        """The card's blocks as JSON text, once they contain `needle`."""
        return await until(
            lambda: text if needle in (text := self.card_text(request)) else None,
            timeout,
            lambda: f"the card never showed {needle!r}",
        )

    def ephemerals_for(self, user: str) -> list[str]:
        calls = self.fake.calls_of("chat.postEphemeral")
        return [str(c.args.get("text")) for c in calls if c.args.get("user") == user]

    async def wait_ephemeral(self, user: str, needle: str, timeout: float = 5.0) -> str:
        return await until(
            lambda: next((t for t in self.ephemerals_for(user) if needle in t), None),
            timeout,
            lambda: f"no ephemeral {needle!r} for {user}: {self.ephemerals_for(user)}",
        )

    async def quiet(self, timeout: float = 10.0) -> None:
        """Nothing is left to happen: no listener's or submit's task runs, every notice is delivered, and so it
        stays through one more cycle of the announcer (a second post, were one coming, would be made by then).
        Tests that show something does NOT happen wait for this instead of sleeping."""
        supervisor = self.runtime.supervisor
        announcer = supervisor.loops["announcer"]
        deadline = asyncio.get_running_loop().time() + timeout

        async def settled() -> bool:
            return supervisor.busy == 0 and await self.runtime.store.outbox.depth() == (0, None)

        async def until_settled() -> None:
            while not await settled():
                if asyncio.get_running_loop().time() > deadline:
                    depth = await self.runtime.store.outbox.depth()
                    raise AssertionError(f"never quiet: {supervisor.busy} task(s) running, outbox {depth}")
                await asyncio.sleep(0.02)

        await until_settled()
        cycle = announcer.last_ok
        supervisor.wake("announcer")
        while announcer.last_ok == cycle:
            assert asyncio.get_running_loop().time() < deadline, "the announcer never ran again"
            await asyncio.sleep(0.02)
        await until_settled()

    async def fast_forward(self, waiting: Awaitable[T], *, step: float = 5.0) -> T:
        """Await `waiting` while the clock runs ahead, `step` seconds every few milliseconds: the waits on the
        bot's clock (a follower backing off, a DDM read's retries, a loop's interval) pass at once. Only once
        what must happen first in real time is done (a submit judges an approval's age by the clock)."""
        task = asyncio.ensure_future(waiting)
        while not task.done():
            self.clock.advance(step)
            await asyncio.wait({task}, timeout=0.02)
        return task.result()

    async def sim_calls(self, route: str) -> list[dict[str, Any]]:
        answer = await self.http.get(f"{self.sim.base_url}/_sim/calls", params={"route": route})
        return list(answer.json())

    async def sim_fault(self, **spec: Any) -> None:
        answer = await self.http.post(f"{self.sim.base_url}/_sim/faults", json=spec)
        assert answer.status_code < 300, answer.text


async def until(check: Callable[[], T | None], timeout: float, describe: Callable[[], str]) -> T:
    """Poll `check` until it returns something; fail with `describe()` after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(describe())
        await asyncio.sleep(0.02)


@asynccontextmanager
async def serve_runtime(runtime: Runtime) -> AsyncIterator[str]:
    runner = web.AppRunner(web_app(runtime), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    *,
    job_seconds: float = 0.2,
    sweep_interval: float = 0.2,
    more_projects: tuple[SimulatorCredentials, ...] = (),
    environments: str | None = None,
    settle_seconds: float = 0.0,
    **overrides: Any,
) -> AsyncIterator[BotHarness]:
    """The bot, the fake Slack and the simulator. `more_projects` are further simulator projects (a demo world
    each); `environments` is an environments file, `{sim}` standing for the simulator's URL; `settle_seconds`:
    how long a restored target shows RESTORE before it is RUNNING again."""
    more = tuple((creds, None) for creds in more_projects)
    clock = DrivenClock()
    async with (
        FakeSlack(clock=lambda: clock.now().timestamp()) as fake,
        RunningSimulator(
            credentials=CREDENTIALS,
            job_seconds=job_seconds,
            more=more,
            settle_seconds=settle_seconds,
            clock=clock.now,
        ) as sim,
    ):
        populate(fake)
        if environments is not None:
            path = tmp_path / "ddm-restore.toml"
            path.write_text(environments.replace("{sim}", sim.base_url), encoding="utf-8")
            overrides["ddm_restore_config"] = str(path)
        settings = harness_settings(fake, sim, tmp_path / "bot.sqlite3", **overrides)
        runtime = await build_runtime(settings, sweep_interval=sweep_interval, clock=clock)
        await runtime.start_background()
        try:
            async with serve_runtime(runtime) as url, local_http(timeout=10) as http:
                yield BotHarness(fake=fake, sim=sim, runtime=runtime, url=url, http=http, clock=clock)
        finally:
            await runtime.close()
