"""Connections that drop after Slack has acted, at the client: slack_sdk resends whatever call lost its
connection; the bot's client (bot.slack.retries) resends only what is harmless to repeat, in the app and in each
listener's client alike (with the bot running: tests/e2e/test_dropped_connections.py)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.clients import slack_client_from
from bot.config import Settings
from bot.playground import slack_payloads as sp
from bot.playground.slack_api import FakeSlack, FakeUser
from bot.slack.retries import RepeatSafeConnectionRetry
from tests.support.harness import SECRET, until


async def test_the_fake_applies_a_call_then_cuts_its_connection() -> None:
    async with FakeSlack() as fake:
        fake.add_channel("C1", "ops")
        client = AsyncWebClient(token="xoxb-test", base_url=fake.base_url, retry_handlers=[])
        fake.drop_next("chat.postMessage", when=lambda args: args["text"] == "second")
        await client.chat_postMessage(channel="C1", text="first")
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.chat_postMessage(channel="C1", text="second")
        assert [m["text"] for m in fake.messages["C1"]] == ["first", "second"]  # applied, then cut
        assert [c.dropped for c in fake.calls_of("chat.postMessage")] == [False, True]
        fake.drop_next("chat.postMessage", after_processing=False)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.chat_postMessage(channel="C1", text="third")
        assert [m["text"] for m in fake.messages["C1"]] == ["first", "second"]  # cut before acting
        assert (await client.chat_postMessage(channel="C1", text="fourth"))["ok"]


async def test_the_bots_client_resends_reads_and_updates_but_never_a_post() -> None:
    async with FakeSlack() as fake:
        fake.add_channel("C1", "ops")
        fake.add_user(FakeUser("U1", "alice"))
        settings = Settings(_env_file=None, slack_bot_token="xoxb-test", slack_api_url=fake.base_url)  # type: ignore[call-arg]
        client = slack_client_from(settings)
        fake.drop_next("chat.postMessage")
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.chat_postMessage(channel="C1", text="card")
        fake.drop_next("chat.postEphemeral")
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
        assert len(fake.calls_of("chat.postMessage")) == len(fake.calls_of("chat.postEphemeral")) == 1
        assert [m["text"] for m in fake.messages["C1"]] == ["card"] and len(fake.ephemerals["C1"]) == 1

        ts = fake.messages["C1"][0]["ts"]
        fake.drop_next("chat.update")
        fake.drop_next("conversations.history")
        assert (await client.chat_update(channel="C1", ts=ts, text="card v2"))["ok"]
        assert (await client.conversations_history(channel="C1"))["messages"][0]["text"] == "card v2"
        assert [c.dropped for c in fake.calls_of("chat.update")] == [True, False]


async def test_a_post_that_never_left_is_sent_again() -> None:
    """Connecting failed: nothing reached Slack, so a post may be retried too."""
    never_left = aiohttp.ClientConnectorError(None, OSError(111, "Connection refused"))  # type: ignore[arg-type]
    cut = aiohttp.ServerDisconnectedError()
    handler = RepeatSafeConnectionRetry()
    post = HttpRequest(method="POST", url="https://slack.com/api/chat.postMessage", headers={})
    update = HttpRequest(method="POST", url="https://slack.com/api/chat.update", headers={})
    assert await handler.can_retry_async(state=RetryState(), request=post, error=never_left)
    assert not await handler.can_retry_async(state=RetryState(), request=post, error=cut)
    assert await handler.can_retry_async(state=RetryState(), request=update, error=cut)


async def test_bolt_gives_each_listener_a_client_with_the_same_retries() -> None:
    """Bolt builds a client per request and copies the app client's retry handlers into it: a listener's post
    is not resent either."""
    async with FakeSlack() as fake:
        fake.add_channel("C1", "ops")
        settings = Settings(_env_file=None, slack_bot_token="xoxb-test", slack_api_url=fake.base_url)  # type: ignore[call-arg]
        app = AsyncApp(client=slack_client_from(settings), signing_secret=SECRET)
        seen: list[BaseException] = []

        @app.command("/ddm-restore")
        async def command(ack: Any, client: AsyncWebClient) -> None:
            await ack()
            try:
                await client.chat_postMessage(channel="C1", text="from a listener")
            except aiohttp.ClientError as exc:
                seen.append(exc)

        fake.drop_next("chat.postMessage")
        body, headers = sp.slash_command(SECRET, user_id="U1", channel_id="C1", response_url=fake.response_url("c"))
        await app.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=dict(headers)))  # type: ignore[arg-type]
        await until(lambda: seen or None, 5, lambda: "the listener never finished")
        assert isinstance(seen[0], aiohttp.ServerDisconnectedError)
        assert [m["text"] for m in fake.messages["C1"]] == ["from a listener"]
        assert len(fake.calls_of("chat.postMessage")) == 1
