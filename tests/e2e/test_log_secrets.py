"""No secret in the logs at any level, DEBUG included: the whole flow runs with known secret values, httpx and
httpcore logging every header, and every line written is searched for them (and for the IAM tokens the
simulator issued, and for any AK/SK or Slack signature)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_runtime
from bot.observability.logs import configure_logging
from bot.observability.redact import REDACTOR, RedactingFilter
from bot.playground import slack_payloads as sp
from bot.playground.slack_api import FakeSlack
from bot.restore.request import RequestState as S
from bot.simulator import RunningSimulator, SimulatorCredentials
from tests.support.harness import (
    CHANNEL,
    PROJECT,
    SECRET,
    BotHarness,
    harness_settings,
    populate,
    serve_runtime,
)
from tests.support.http import local_http
from tests.support.processes import clean_env, free_port

BOT_TOKEN = "xoxb-4242-4343-SecretBotTokenValue"
APP_TOKEN = "xapp-1-A4242-4343-SecretAppTokenValue"
SK = "SecretKeyValue-9d8c7b6a5f4e"
SECURITY_TOKEN = "SecurityTokenValue-5e4d3c2b1a0f"
IAM_PASSWORD = "IamPasswordValue-4f3e2d1c0b"
AK = "TESTAKLOGS0000000000"
KNOWN = (BOT_TOKEN, APP_TOKEN, SECRET, SK, SECURITY_TOKEN, IAM_PASSWORD)
BOTH = SimulatorCredentials(
    project_id=PROJECT,
    ak=AK,
    sk=SK,
    security_token=SECURITY_TOKEN,
    username="ops-bot",
    password=IAM_PASSWORD,
    domain="acme",
)
SIGNATURES = (re.compile(r"Signature=[0-9a-fA-F]{16,}"), re.compile(r"v0=[0-9a-f]{64}"))


def auth_settings(auth: str) -> dict[str, Any]:
    if auth == "aksk":
        return {"huaweicloud_sdk_ak": AK, "huaweicloud_sdk_sk": SK, "huaweicloud_sdk_security_token": SECURITY_TOKEN}
    return {
        "huaweicloud_sdk_ak": None,
        "huaweicloud_sdk_sk": None,
        "huaweicloud_iam_username": "ops-bot",
        "huaweicloud_iam_password": IAM_PASSWORD,
        "huaweicloud_iam_domain": "acme",
    }


@contextmanager
def captured(fmt: str) -> Iterator[io.StringIO]:
    """The production logging set-up at DEBUG, httpx and httpcore included, written into a buffer."""
    root = logging.getLogger()
    saved = (list(root.handlers), list(root.filters), root.level)
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "slack_sdk.web", "alembic")}
    buffer = io.StringIO()
    configure_logging("DEBUG", fmt, stream=buffer)  # type: ignore[arg-type]
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved[0]
        root.filters[:] = [f for f in saved[1] if not isinstance(f, RedactingFilter)]
        root.setLevel(saved[2])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        REDACTOR.clear()


def issued_tokens(sim: RunningSimulator) -> list[str]:
    return list(sim.state.tokens._tokens)


def assert_clean(text: str, extra: list[str]) -> None:
    lines = text.splitlines()
    assert len(lines) > 100, "too few log lines: was DEBUG captured?"
    for secret in (*KNOWN, *extra):
        leaks = [line for line in lines if secret in line]
        assert not leaks, f"{secret[:12]}… written in {len(leaks)} line(s), e.g.:\n{leaks[0][:400]}"
    for pattern in SIGNATURES:
        leaks = [line for line in lines if pattern.search(line)]
        assert not leaks, f"a signature written, e.g.:\n{leaks[0][:400]}"


@asynccontextmanager
async def bot(tmp_path: Path, auth: str, **overrides: Any) -> AsyncIterator[BotHarness]:
    async with (
        FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake,
        RunningSimulator(credentials=BOTH, job_seconds=0.5) as sim,
    ):
        populate(fake)
        values = {"slack_bot_token": BOT_TOKEN, "slack_app_token": APP_TOKEN, **auth_settings(auth), **overrides}
        settings = harness_settings(fake, sim, tmp_path / "bot.sqlite3", **values)
        runtime = await build_runtime(settings, sweep_interval=0.2)
        await runtime.start_background()
        try:
            async with serve_runtime(runtime) as url, local_http(timeout=10) as http:
                yield BotHarness(fake=fake, sim=sim, runtime=runtime, url=url, http=http)
        finally:
            await runtime.close()


@pytest.mark.parametrize(("auth", "fmt"), [("aksk", "text"), ("token", "json")])
async def test_the_whole_flow_at_debug_writes_no_secret(tmp_path: Path, auth: str, fmt: str) -> None:
    with captured(fmt) as buffer:
        async with bot(tmp_path, auth) as h:
            request = await h.request_restore()
            if auth == "token":  # IAM forgets the tokens: the next call gets a 401 and a new token
                await h.http.post(f"{h.sim.base_url}/_sim/revoke-tokens")
            await h.click("approve_request", request, user="UBOB")
            await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=request.id, timeout=15)
            await h.command(f"status {request.id}")
            tokens = issued_tokens(h.sim)
        logging.getLogger("test").debug(
            "headers %s", {"Authorization": f"Bearer {BOT_TOKEN}", "X-Auth-Token": tokens[0] if tokens else "x"}
        )
    text = buffer.getvalue()
    if auth == "token":
        assert len(tokens) >= 2, "the token was never refreshed"
        assert "X-Subject-Token" in text  # httpcore wrote the header: its value was taken out
    assert "receive_response_headers" in text and "[REDACTED]" in text
    assert "DDM request id" in text
    assert_clean(text, tokens)
    if fmt == "json":
        entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert entries and all({"time", "level", "logger", "message"} <= set(e) for e in entries)
        about = [e for e in entries if e["logger"] == "bot.requests"]
        assert about and all(e.get("request_id") == request.id for e in about)
        posts = [e for e in entries if e.get("ddm_route", "").endswith("/backups/recovery")]
        assert len(posts) == 1 and posts[0]["request_id"] == request.id and posts[0]["ddm_request_id"]


# ---- the real processes: `check` and `run` at DEBUG ----------------------------------------------------------


def process_env(fake: FakeSlack, sim: RunningSimulator, workdir: Path, **more: str) -> dict[str, str]:
    return clean_env() | {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_MODE": "socket",
        "PORT": str(free_port()),
        "SLACK_API_URL": fake.base_url,
        "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT,
        "HUAWEICLOUD_DDM_ENDPOINT": sim.base_url,
        "HUAWEICLOUD_IAM_ENDPOINT": sim.base_url,
        "HUAWEICLOUD_IAM_USERNAME": "ops-bot",
        "HUAWEICLOUD_IAM_PASSWORD": IAM_PASSWORD,
        "HUAWEICLOUD_IAM_DOMAIN": "acme",
        "APPROVER_USER_IDS": "UBOB",
        "DATABASE_URL": f"sqlite:///{workdir / 'bot.sqlite3'}",
        "LOG_LEVEL": "DEBUG",
        **more,
    }


async def test_check_and_run_at_debug_write_no_secret(tmp_path: Path) -> None:
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake, RunningSimulator(credentials=BOTH) as sim:
        populate(fake)
        log_path = tmp_path / "out.log"
        with log_path.open("wb") as out:
            check = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "check", env=process_env(fake, sim, tmp_path), stdout=out, stderr=out
            )
            assert await asyncio.wait_for(check.wait(), 60) == 0, log_path.read_text()
        env = process_env(fake, sim, tmp_path, LOG_FORMAT="json")
        with log_path.open("ab") as out:
            run = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, stdout=out, stderr=out
            )
        try:
            await fake.wait_socket_connected(timeout=30)
            payload = sp.slash_command_payload(
                text="help", user_id="UALICE", channel_id=CHANNEL, response_url=fake.response_url("p")
            )
            await fake.wait_socket_ack(await fake.socket_send("slash_commands", payload), timeout=10)
            async with local_http(timeout=10) as http:
                ready = await http.get(f"http://127.0.0.1:{env['PORT']}/readyz")  # asks DDM: an IAM token
                assert ready.status_code == 200, ready.text
        finally:
            run.terminate()
            await asyncio.wait_for(run.wait(), 30)
        tokens = issued_tokens(sim)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    assert len(tokens) >= 2 and "X-Subject-Token" in text, text[-3000:]
    assert_clean(text, tokens)
    assert any(line.startswith("{") and json.loads(line)["level"] == "DEBUG" for line in text.splitlines())
