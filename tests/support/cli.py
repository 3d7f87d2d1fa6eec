"""`ddm-restore-bot check` run in this process against the fake Slack and the simulator, and its lines read."""

from __future__ import annotations

import asyncio

import pytest

from bot.cli import main
from bot.playground.slack_api import FakeSlack
from bot.simulator import RunningSimulator
from tests.support.harness import CREDENTIALS, PROJECT


def check_env(fake: FakeSlack, sim: RunningSimulator, **overrides: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_APP_TOKEN": "xapp-test",
        "SLACK_API_URL": fake.base_url,
        "APPROVER_USER_IDS": "UBOB",
        "APPROVER_USERGROUP_IDS": "STWO",
        "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT,
        "HUAWEICLOUD_SDK_AK": CREDENTIALS.ak or "",
        "HUAWEICLOUD_SDK_SK": CREDENTIALS.sk or "",
        "HUAWEICLOUD_DDM_ENDPOINT": sim.base_url,
    } | overrides


async def run_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> tuple[int, list[str]]:
    with monkeypatch.context() as scoped:
        for name, value in env.items():
            scoped.setenv(name, value)
        code = await asyncio.to_thread(main, ["check"])
    return code, capsys.readouterr().out.splitlines()


def line_of(lines: list[str], start: str) -> str:
    found = [line for line in lines if line.startswith(start)]
    assert len(found) == 1, lines
    return found[0]
