"""A restart picks up where the last run stopped: running jobs are followed to the end, reported once. Both runs
share the test's clock with the simulator and the fake Slack: the time the bot is down passes when the test says."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.app import build_runtime
from bot.playground.slack_api import FakeSlack
from bot.restore.request import RequestState
from bot.simulator import RunningSimulator
from tests.support.clock import DrivenClock
from tests.support.harness import CREDENTIALS, BotHarness, harness_settings, populate, serve_runtime
from tests.support.http import local_http


async def test_restart_with_a_running_job_follows_it_to_the_end(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    clock = DrivenClock()
    async with (
        FakeSlack(clock=lambda: clock.now().timestamp()) as fake,
        RunningSimulator(credentials=CREDENTIALS, job_seconds=600, clock=clock.now) as sim,
    ):
        populate(fake)
        settings = harness_settings(fake, sim, db)
        first = await build_runtime(settings, sweep_interval=0.2, clock=clock)
        await first.start_background()
        async with serve_runtime(first) as url, local_http(timeout=10) as http:
            h = BotHarness(fake=fake, sim=sim, runtime=first, url=url, http=http, clock=clock)
            request = await h.request_restore()
            await h.click("approve_request", request, user="UBOB")
            running = await h.wait_request(lambda r: r.state is RequestState.RUNNING, request_id=request.id)
        await first.close()  # the bot stops while the job runs
        assert not any("Restore completed" in t for t in h.thread_texts(running))

        second = await build_runtime(settings, sweep_interval=0.2, clock=clock)
        await second.start_background()
        clock.advance(600)  # the job, still running at the restart, ends
        try:
            async with serve_runtime(second) as url, local_http(timeout=10) as http:
                h2 = BotHarness(fake=fake, sim=sim, runtime=second, url=url, http=http, clock=clock)
                await h2.wait_thread(running, "Restore completed", timeout=10)
                done = await h2.wait_request(lambda r: r.state is RequestState.VERIFIED, request_id=request.id)
                assert done.job_id == running.job_id
                await h2.quiet()
                assert sum("Restore completed" in t for t in h2.thread_texts(done)) == 1
                assert len(await h2.sim_calls("recovery")) == 1
        finally:
            await second.close()


async def test_pending_request_whose_ttl_passed_while_down_expires_at_start(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    clock = DrivenClock()
    async with (
        FakeSlack(clock=lambda: clock.now().timestamp()) as fake,
        RunningSimulator(credentials=CREDENTIALS, job_seconds=0.5, clock=clock.now) as sim,
    ):
        populate(fake)
        settings = harness_settings(fake, sim, db)  # the approval TTL: 60 min
        first = await build_runtime(settings, sweep_interval=60, clock=clock)
        await first.start_background()  # the announcer posts the card; the bot stops well before the TTL ends
        async with serve_runtime(first) as url, local_http(timeout=10) as http:
            h = BotHarness(fake=fake, sim=sim, runtime=first, url=url, http=http, clock=clock)
            request = await h.request_restore()
        await first.close()
        clock.advance(timedelta(minutes=61))  # the TTL runs out while no bot runs
        second = await build_runtime(settings, sweep_interval=60, clock=clock)
        await second.start_background()
        try:
            expired = await second.store.get(request.id)
            assert expired is not None and expired.state is RequestState.EXPIRED
            await fake.wait_for("chat.update", lambda c: c.args["ts"] == expired.message_ts)
            assert message_has_no_buttons(fake, expired.channel_id, expired.message_ts or "")
        finally:
            await second.close()


def message_has_no_buttons(fake: FakeSlack, channel: str, ts: str) -> bool:
    return all(block["type"] != "actions" for block in fake.message(channel, ts)["blocks"])
