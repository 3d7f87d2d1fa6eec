"""The server side's pieces of benchmarks/ack_latency.py: the bare bolt apps the bot is measured beside, serving an
app on a loopback port, and the full garbage collections that stop the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import APPROVE_ACTION, COMMAND

BARE_MODAL = {
    "type": "modal",
    "callback_id": "bare",
    "title": {"type": "plain_text", "text": "Bare"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Nothing here."}}],
}


def bare_app(
    api_url: str, secret: str, session: aiohttp.ClientSession, *, process_before_response: bool | None
) -> web.Application:
    """A bolt AsyncApp that acks the command and the Approve button, then makes the one Web API call the bot
    makes for each (views.open of a small modal; chat.postEphemeral) in a task of its own, as the bot does: the
    fake Slack answering those calls runs in this process for every app alike. Its client keeps one keep-alive
    session, as the bot's does (`bot.app.build_runtime`). Served like `Runtime.web_app`."""
    kwargs: dict[str, Any] = {}
    if process_before_response is not None:
        kwargs["process_before_response"] = process_before_response
    client = AsyncWebClient(token="xoxb-test", base_url=api_url, session=session)
    app = AsyncApp(client=client, signing_secret=secret, **kwargs)
    tasks: set[asyncio.Task[Any]] = set()

    def after_ack(call: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(call)
        tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(tasks.discard)

    @app.command(COMMAND)
    async def command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        after_ack(client.views_open(trigger_id=body["trigger_id"], view=BARE_MODAL))

    @app.action(APPROVE_ACTION)
    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        after_ack(client.chat_postEphemeral(channel=body["channel"]["id"], user=body["user"]["id"], text="Not yours."))

    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        response: web.Response = await to_aiohttp_response(await app.async_dispatch(bolt_request))
        return response

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    return web_app


@contextlib.asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    """`app` on a free loopback port, without an access log (as the harness serves the bot)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


class GcPauses:
    """Durations (ms) of this process's full (generation 2) garbage collections: they stop the event loop."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._started) * 1000)
