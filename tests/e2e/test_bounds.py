"""Every call out is bounded in all, its retries and their waits included: a DDM read that DDM keeps throttling,
an IAM token that never comes, a Slack call that Slack answers late; and the bot's own Slack client is built so."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import httpx
import pytest

from bot.app import build_runtime
from bot.huawei.auth import AkSkAuth, IamTokenProvider, TokenAuth
from bot.huawei.ddm import DdmClient
from bot.huawei.errors import DdmUnavailable
from bot.huawei.retry import RetryPolicy, Timeouts
from bot.playground.slack_api import FakeSlack
from bot.simulator import RunningSimulator, SimulatorCredentials
from tests.support.harness import CREDENTIALS, PROJECT, harness_settings

TOKEN_USER = SimulatorCredentials(project_id=PROJECT, username="bot", password="pw-not-real", domain="acme")


async def fault(sim: RunningSimulator, **spec: object) -> None:
    async with httpx.AsyncClient() as http:
        assert (await http.post(f"{sim.base_url}/_sim/faults", json=spec)).status_code < 300


async def test_a_ddm_read_that_ddm_keeps_throttling_ends_within_its_deadline() -> None:
    async with RunningSimulator(credentials=CREDENTIALS) as sim:
        # Each 429 asks for 30 s: the retries alone would wait 90 s.
        await fault(sim, route="list_instances", kind="429", count=10, retry_after=30)
        timeouts = Timeouts(connect=0.5, read=0.5)
        client = DdmClient(
            endpoint=sim.base_url,
            project_id=PROJECT,
            auth=AkSkAuth(ak=CREDENTIALS.ak or "", sk=CREDENTIALS.sk or "", project_id=PROJECT),
            timeouts=timeouts,
            retry=RetryPolicy(attempts=4),
        )
        async with client:
            started = time.monotonic()
            with pytest.raises(DdmUnavailable, match="did not answer within 3 s"):
                await asyncio.wait_for(client.list_instances(), 10)
            took = time.monotonic() - started
        assert timeouts.read_deadline() == 3.0 and took < timeouts.read_deadline() + 1, took
        assert client.unanswered_at is not None  # readiness hears of it


async def test_an_iam_token_that_never_comes_ends_within_its_deadline() -> None:
    async with RunningSimulator(credentials=TOKEN_USER) as sim:
        # httpx's read timeout bounds each read (30 s here), not the call: an answer trickling in could take forever.
        await fault(sim, route="iam_token", kind="hold", count=1)
        provider = IamTokenProvider(
            iam_endpoint=sim.base_url,
            username="bot",
            password="pw-not-real",
            domain="acme",
            project_id=PROJECT,
            timeout=httpx.Timeout(connect=0.5, read=30.0, write=0.5, pool=0.5),
            deadline=1.0,
        )
        try:
            started = time.monotonic()
            with pytest.raises(DdmUnavailable, match="IAM did not answer within 1 s"):
                await asyncio.wait_for(TokenAuth(provider).provider.token(), 10)
            assert time.monotonic() - started < 3
        finally:
            await provider.aclose()
            async with httpx.AsyncClient() as http:
                await http.post(f"{sim.base_url}/_sim/release")


async def test_a_slack_call_answered_late_ends_within_the_call_bound() -> None:
    from bot.runtime.bounds import BoundedWebClient

    async with FakeSlack() as fake, aiohttp.ClientSession() as session:
        fake.set_delay("auth.test", 5)
        client = BoundedWebClient(token="xoxb-test", base_url=fake.base_url, session=session)
        client.call_seconds = 0.5
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await client.auth_test()
        assert time.monotonic() - started < 2


async def test_the_bots_slack_client_is_bounded_per_attempt_and_per_call(tmp_path: Path) -> None:
    from bot.runtime.bounds import SLACK_ATTEMPT_SECONDS, SLACK_CALL_SECONDS, BoundedWebClient

    async with FakeSlack() as fake, RunningSimulator(credentials=CREDENTIALS) as sim:
        runtime = await build_runtime(harness_settings(fake, sim, tmp_path / "bot.sqlite3"))
        try:
            client = runtime.client
            assert isinstance(client, BoundedWebClient) and client.call_seconds == SLACK_CALL_SECONDS
            # slack_sdk applies its own timeout only to sessions it makes; ours must carry it (else aiohttp's 300 s).
            assert client.session is not None and client.session.timeout.total == SLACK_ATTEMPT_SECONDS
            loops = runtime.supervisor.loops
            assert all(0 < state.step_seconds < 600 for state in loops.values()), loops
        finally:
            await runtime.close()
