"""The command line: precise lines and exit codes; `check` against the simulator and the fake Slack."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.playground.slack_api import FakeSlack
from bot.simulator import RunningSimulator
from tests.support.harness import CREDENTIALS, PROJECT
from tests.support.processes import clean_env


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    keep = clean_env()
    for name in list(os.environ):
        if name not in keep:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's


def test_bad_setting_is_one_precise_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REQUIRED_APPROVALS", "many")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ddm-restore-bot: REQUIRED_APPROVALS:") and "many" in err


def test_run_names_every_missing_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert any("SLACK_BOT_TOKEN is not set" in line for line in err)
    assert any("No approvers" in line for line in err)
    assert any("No Huawei Cloud credentials" in line for line in err)


async def test_check_against_the_simulator_and_fake_slack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeSlack() as fake, RunningSimulator(credentials=CREDENTIALS) as sim:
        for name, value in {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_APP_TOKEN": "xapp-test",
            "SLACK_API_URL": fake.base_url,
            "APPROVER_USER_IDS": "UBOB",
            "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT,
            "HUAWEICLOUD_SDK_AK": CREDENTIALS.ak or "",
            "HUAWEICLOUD_SDK_SK": CREDENTIALS.sk or "",
            "HUAWEICLOUD_DDM_ENDPOINT": sim.base_url,
        }.items():
            monkeypatch.setenv(name, value)
        code = await asyncio.to_thread(main, ["check"])
        out = capsys.readouterr().out
        assert code == 0, out
        seeded = len(sim.state.world.ddm_instances)
        assert f"✓ Huawei Cloud (aksk): {seeded} DDM instance(s)" in out and "✓ Slack: bot user" in out
        monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "wrong")
        assert await asyncio.to_thread(main, ["check"]) == 1
        out = capsys.readouterr().out
        assert "✗ Huawei Cloud" in out and "APIGW.0301" in out and "wrong" not in out
