"""Who a Slack user is, cached for `cache_seconds` of the bot's clock (not the host's): a member removed from an
approvers group stops counting once that much of the bot's time has passed."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.playground.slack_api import FakeSlack, FakeUser
from bot.slack.directory import SlackDirectory
from tests.support.clock import DrivenClock


async def test_cached_answers_age_on_the_bots_clock() -> None:
    clock = DrivenClock()
    async with FakeSlack() as fake:
        fake.add_user(FakeUser("UBOB", "bob"))
        fake.set_usergroup("SLEADS", ["UBOB"])
        client = AsyncWebClient(token="xoxb-test", base_url=fake.base_url)
        directory = SlackDirectory(client, group_ids=frozenset({"SLEADS"}), cache_seconds=60, monotonic=clock.monotonic)
        assert (await directory.actor("UBOB")).group_ids == {"SLEADS"}
        fake.set_usergroup("SLEADS", [])
        fake.add_user(FakeUser("UBOB", "bob", deleted=True))
        clock.advance(59)
        still = await directory.actor("UBOB")
        assert still.group_ids == {"SLEADS"} and not still.is_guest  # within the cache period: Slack is not asked
        clock.advance(2)
        now = await directory.actor("UBOB")
        assert now.group_ids == frozenset() and now.is_guest
        if client.session is not None:
            await client.session.close()
