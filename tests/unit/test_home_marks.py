"""Whose App Home a change makes stale, on the workflow's bench (memory store, the fake Slack): a viewer Slack can't
tell of is marked rather than stopping the marks of everyone else, and a failure while marking never keeps the
request's delivered notices from being done."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.playground.slack_api import FakeUser
from bot.restore.policy import Actor
from bot.restore.request import RestoreRequest
from bot.slack.announcer import Announcer
from bot.slack.blocks.messages import render_notice
from tests.support.bench import CHANNEL, TTL, Bench

VIEWERS = {"UALICE", "UBOB", "UGONE", "UOTHER"}  # requester, approver, gone from Slack, a member of the workspace


class BrokenDirectory:
    """A directory with a bug in it (not a Slack failure)."""

    async def actor(self, user_id: str) -> Actor:
        raise RuntimeError("a bug")


async def stale(bench: Bench) -> set[str]:
    later = bench.clock() + timedelta(days=1)  # every mark is due by then
    return {home.user_id for home in await bench.store.homes.claim("test", now=later, lease_seconds=1, limit=100)}


async def made(bench: Bench) -> RestoreRequest:
    bench.fake.add_user(FakeUser("UOTHER", "other"))  # UGONE is unknown to Slack: users.info says user_not_found
    for user in sorted(VIEWERS):
        await bench.store.homes.opened(user, now=bench.clock())
    return await bench.store.create(
        plan=await bench.plan(),
        requester_id="UALICE",
        channel_id=CHANNEL,
        required_approvals=1,
        now=bench.clock(),
        expires_at=bench.clock() + TTL,
    )


async def test_a_viewer_slack_cannot_tell_of_is_marked_and_the_others_still_are(bench: Bench) -> None:
    request = await made(bench)
    await bench.home().mark_for(request)
    assert await stale(bench) == VIEWERS


async def test_a_bug_while_marking_homes_never_keeps_the_notices_undone(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    request = await made(bench)
    home = bench.home(BrokenDirectory())
    announcer = Announcer(
        store=bench.store, client=home.client, render=render_notice, approvers="<@UBOB>", clock=bench.clock, home=home
    )
    await announcer.step()
    assert bench.fake.message(CHANNEL, (await bench.store.get(request.id)).message_ts or "")  # type: ignore[union-attr]
    assert await bench.store.outbox.pending(request.id) == []  # the card's row is done
    assert "marking the App Homes after" in caplog.text and "a bug" in caplog.text
