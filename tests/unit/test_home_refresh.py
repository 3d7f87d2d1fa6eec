"""The App Home publisher loop (bot.slack.home_refresh) on the memory store: a stale Home is published and done;
Slack failing leaves it stale, tried again after the backoff (a 429's Retry-After), with one log line and no
traceback; a bug waits longest."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack.home import HomePublisher
from bot.slack.home_refresh import MAX_BACKOFF_SECONDS, HomeRefresher
from bot.store.memory import MemoryStore

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


class Publisher:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.published: list[str] = []

    async def publish(self, user_id: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.published.append(user_id)


def slack_error(error: str, **headers: str) -> SlackApiError:
    response = AsyncSlackResponse(
        client=cast(Any, None),
        http_verb="POST",
        api_url="https://slack.com/api/views.publish",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers,
        status_code=429 if error == "ratelimited" else 200,
    )
    return SlackApiError(error, response)


async def stale(store: MemoryStore, user: str = "UCAROL") -> None:
    await store.homes.opened(user, now=NOW)
    await store.homes.mark_stale([user], now=NOW)


def refresher(store: MemoryStore, publisher: Publisher, clock: list[datetime]) -> HomeRefresher:
    return HomeRefresher(home=cast(HomePublisher, publisher), store=store, clock=lambda: clock[0], owner="me")


async def test_a_stale_home_is_published_once() -> None:
    store, publisher, clock = MemoryStore(), Publisher(), [NOW]
    await stale(store)
    loop = refresher(store, publisher, clock)
    assert await loop.step() == 0.0  # more may wait: at once again
    assert await loop.step() == loop.interval
    assert publisher.published == ["UCAROL"]


async def test_slack_failing_backs_off_with_one_line(caplog: pytest.LogCaptureFixture) -> None:
    store, clock = MemoryStore(), [NOW]
    publisher = Publisher(slack_error("ratelimited", **{"Retry-After": "7"}), slack_error("internal_error"))
    await stale(store)
    loop = refresher(store, publisher, clock)
    with caplog.at_level(logging.WARNING):
        await loop.step()
    [line] = caplog.records
    assert line.getMessage() == "the App Home of UCAROL was not published (ratelimited, try 1); again in 7 s"
    assert line.exc_info is None
    clock[0] = NOW + timedelta(seconds=6.9)
    await loop.step()
    assert publisher.published == [] and len(caplog.records) == 1  # not before Retry-After
    clock[0] = NOW + timedelta(seconds=7)
    await loop.step()  # internal_error, try 2: 2 s
    assert "(internal_error, try 2); again in 2 s" in caplog.records[-1].getMessage()
    clock[0] = NOW + timedelta(seconds=9)
    await loop.step()
    assert publisher.published == ["UCAROL"]


async def test_a_bug_waits_longest() -> None:
    store, clock = MemoryStore(), [NOW]
    publisher = Publisher(ValueError("boom"))
    await stale(store)
    loop = refresher(store, publisher, clock)
    await loop.step()
    clock[0] = NOW + timedelta(seconds=MAX_BACKOFF_SECONDS - 1)
    await loop.step()
    assert publisher.published == []
    clock[0] = NOW + timedelta(seconds=MAX_BACKOFF_SECONDS)
    await loop.step()
    assert publisher.published == ["UCAROL"]


class Hanging:
    """A publish that never ends (Slack taking its time, a call after another)."""

    def __init__(self) -> None:
        self.started = 0

    async def publish(self, user_id: str) -> None:
        self.started += 1
        await asyncio.Event().wait()


async def test_a_publish_ends_within_half_its_claims_lease(caplog: pytest.LogCaptureFixture) -> None:
    store, clock, hanging = MemoryStore(), [NOW], Hanging()
    await stale(store)
    loop = HomeRefresher(home=cast(HomePublisher, hanging), store=store, clock=lambda: clock[0], lease_seconds=0.2)
    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(loop.step(), timeout=5)  # given up after 0.1 s, long before the test would fail
    assert hanging.started == 1
    assert "(TimeoutError, try 1); again in 1 s" in caplog.text
    # Given back, still stale: another replica may claim it at once, with nobody publishing it meanwhile.
    [home] = await store.homes.claim("other", now=NOW + timedelta(seconds=1), lease_seconds=30)
    assert home.user_id == "UCAROL"


async def test_a_person_slack_no_longer_knows_is_forgotten_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    store, clock = MemoryStore(), [NOW]
    await stale(store)
    loop = refresher(store, Publisher(slack_error("user_not_found")), clock)
    with caplog.at_level(logging.INFO):
        await loop.step()
    [line] = caplog.records
    assert line.getMessage() == "the App Home of UCAROL is no longer kept: Slack answers user_not_found"
    assert await store.homes.viewers() == []
