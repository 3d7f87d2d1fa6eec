"""The App Home publisher loop (bot.slack.home_refresh) on the workflow's bench (memory store, the fake Slack): a
stale Home is published and done; Slack failing leaves it stale, tried again after the backoff (a 429's
Retry-After), with one log line and no traceback; a bug waits longest; a publish ends within half its claim's
lease; a person Slack no longer knows is forgotten."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.restore.policy import Actor
from bot.slack.home import HomePublisher
from bot.slack.home_refresh import MAX_BACKOFF_SECONDS, HomeRefresher
from tests.support.bench import Bench

USER = "UBOB"


class OnceBroken:
    """The bench's directory with a bug the first time it is asked (not a Slack failure)."""

    def __init__(self, bench: Bench) -> None:
        self.bench, self.broken = bench, True

    async def actor(self, user_id: str) -> Actor:
        if self.broken:
            self.broken = False
            raise ValueError("boom")
        return await self.bench.directory.actor(user_id)


async def stale(bench: Bench, user: str = USER) -> None:
    await bench.store.homes.opened(user, now=bench.clock())
    await bench.store.homes.mark_stale([user], now=bench.clock())


def refresher(bench: Bench, home: HomePublisher | None = None, lease_seconds: float = 30.0) -> HomeRefresher:
    return HomeRefresher(
        home=home or bench.home(), store=bench.store, clock=bench.clock, owner="me", lease_seconds=lease_seconds
    )


def publishes(bench: Bench, user: str = USER) -> int:
    return sum(call.args.get("user_id") == user for call in bench.fake.calls_of("views.publish"))


async def test_a_stale_home_is_published_once(bench: Bench) -> None:
    await stale(bench)
    loop = refresher(bench)
    assert await loop.step() == 0.0  # more may wait: at once again
    assert await loop.step() == loop.interval
    assert publishes(bench) == 1 and bench.fake.home_of(USER) is not None


async def test_slack_failing_backs_off_with_one_line(bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    bench.fake.fail_next("views.publish", "ratelimited", retry_after=7)
    bench.fake.fail_next("views.publish", "internal_error")
    await stale(bench)
    loop = refresher(bench)
    with caplog.at_level(logging.WARNING):
        await loop.step()
    [line] = caplog.records
    assert line.getMessage() == f"the App Home of {USER} was not published (ratelimited, try 1); again in 7 s"
    assert line.exc_info is None
    bench.clock.advance(timedelta(seconds=6.9))
    await loop.step()
    assert publishes(bench) == 1 and len(caplog.records) == 1  # not tried again before Retry-After
    bench.clock.advance(timedelta(seconds=0.1))
    await loop.step()  # internal_error, try 2: 2 s
    assert "(internal_error, try 2); again in 2 s" in caplog.records[-1].getMessage()
    bench.clock.advance(timedelta(seconds=2))
    await loop.step()
    assert publishes(bench) == 3 and bench.fake.home_of(USER) is not None


async def test_a_bug_waits_longest(bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    await stale(bench)
    loop = refresher(bench, bench.home(OnceBroken(bench)))
    await loop.step()
    assert "drawing the App Home of UBOB failed" in caplog.text  # with its traceback: a bug
    bench.clock.advance(timedelta(seconds=MAX_BACKOFF_SECONDS - 1))
    await loop.step()
    assert publishes(bench) == 0
    bench.clock.advance(timedelta(seconds=1))
    await loop.step()
    assert publishes(bench) == 1


async def test_a_publish_ends_within_half_its_claims_lease(bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    bench.fake.set_delay("views.publish", 1.0)  # Slack taking its time
    await stale(bench)
    loop = refresher(bench, lease_seconds=0.2)
    with caplog.at_level(logging.WARNING):
        await loop.step()  # given up after 0.1 s
    assert "(TimeoutError, try 1); again in 1 s" in caplog.text
    # Given back, still stale: another replica may claim it at once, with nobody publishing it meanwhile.
    [home] = await bench.store.homes.claim("other", now=bench.clock() + timedelta(seconds=1), lease_seconds=30)
    assert home.user_id == USER


async def test_a_person_slack_no_longer_knows_is_forgotten_in_one_line(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    await stale(bench, "UGONE")  # users.info: user_not_found
    with caplog.at_level(logging.INFO, logger="bot.slack.home_refresh"):
        await refresher(bench).step()
    [line] = caplog.records
    assert line.getMessage() == "the App Home of UGONE is no longer kept: Slack answers user_not_found"
    assert await bench.store.homes.viewers() == [] and publishes(bench, "UGONE") == 0
