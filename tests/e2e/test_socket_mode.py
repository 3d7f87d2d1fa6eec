"""Socket Mode smoke test: the real `serve()` connects to a local WebSocket standing in for Slack."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import build_runtime
from bot.playground import slack_payloads as sp
from bot.playground.slack_api import FakeSlack
from bot.serving.serve import bind, serve
from bot.simulator import RunningSimulator
from tests.support.harness import CHANNEL, CREDENTIALS, harness_settings, populate


async def test_socket_mode_command_is_acked_and_opens_the_form(tmp_path: Path) -> None:
    async with FakeSlack(app_token="xapp-test-token") as fake, RunningSimulator(credentials=CREDENTIALS) as sim:
        populate(fake)
        settings = harness_settings(
            fake, sim, tmp_path / "bot.sqlite3", slack_mode="socket", slack_app_token="xapp-test-token"
        )
        runtime = await build_runtime(settings, sweep_interval=5)
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(runtime, stop, sock=bind("127.0.0.1", 0)))
        try:
            await fake.wait_socket_connected(timeout=10)
            payload = sp.slash_command_payload(
                text="help", user_id="UALICE", channel_id=CHANNEL, response_url=fake.response_url("socket")
            )
            envelope_id = await fake.socket_send("slash_commands", payload)
            ack = await fake.wait_socket_ack(envelope_id)
            assert ack["envelope_id"] == envelope_id
            answer = await fake.wait_for("response_url:socket")
            assert "/ddm-restore list" in answer.args["text"]

            form = sp.slash_command_payload(
                text="", user_id="UALICE", channel_id=CHANNEL, response_url=fake.response_url("socket2")
            )
            envelope_id = await fake.socket_send("slash_commands", form)
            await fake.wait_socket_ack(envelope_id)
            opened = await fake.wait_for("views.open")
            assert opened.args["view"]["callback_id"] == "ddm_restore_source"
        finally:
            stop.set()
            await asyncio.wait_for(serving, 15)
        assert runtime.closed
