"""The command line: precise lines and exit codes; `check` against the simulator and the fake Slack."""

from __future__ import annotations

import asyncio
import os
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.cli import main
from bot.playground.slack_api import FakeSlack
from bot.simulator import RunningSimulator, SimulatorCredentials
from tests.support.cli import check_env, line_of, run_check
from tests.support.harness import CREDENTIALS, PROJECT
from tests.support.processes import clean_env, free_port


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
    assert any(
        line.endswith(
            "APPROVER_USER_IDS / APPROVER_USERGROUP_IDS: no approvers are set, so nobody could approve a request; set one or both."
        )
        for line in err
    )
    assert any("HUAWEICLOUD_SDK_AK / HUAWEICLOUD_IAM_USERNAME: no Huawei Cloud credentials" in line for line in err)
    # every line names the setting to fix first
    named = re.compile(r"^(ddm-restore-bot: )?[A-Z][A-Z0-9_]+[ :=/(]")
    assert err and all(named.match(line) for line in err), err


async def test_check_catches_swapped_slack_tokens_by_their_prefix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        FakeSlack(bot_token="xoxb-test-bot", app_token="xapp-test-app") as fake,
        RunningSimulator(credentials=CREDENTIALS) as sim,
    ):
        fake.set_usergroup("STWO", ["UALICE"])
        swapped = check_env(fake, sim, SLACK_BOT_TOKEN="xapp-test-app", SLACK_APP_TOKEN="xoxb-test-bot")
        code, lines = await run_check(monkeypatch, capsys, swapped)
        assert code == 1
        bot = [line for line in lines if line.startswith("✗ SLACK_BOT_TOKEN: this is an app-level token (xapp-…)")]
        app = [line for line in lines if line.startswith("✗ SLACK_APP_TOKEN: this is a bot token (xoxb-…)")]
        assert len(bot) == len(app) == 1, lines
        assert "look swapped" in bot[0] and "look swapped" in app[0]
        assert "test-app" not in "\n".join(lines) and "test-bot" not in "\n".join(lines)  # named, never shown
        with monkeypatch.context() as scoped:
            for name, value in swapped.items():
                scoped.setenv(name, value)
            assert await asyncio.to_thread(main, ["run"]) == 2
        err = capsys.readouterr().err
        assert "SLACK_BOT_TOKEN: this is an app-level token" in err and "test-app" not in err


async def test_check_against_the_simulator_and_fake_slack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        FakeSlack(bot_token="xoxb-test", app_token="xapp-test") as fake,
        RunningSimulator(credentials=CREDENTIALS) as sim,
    ):
        fake.set_usergroup("STWO", ["UALICE", "UDAN"])
        code, lines = await run_check(monkeypatch, capsys, check_env(fake, sim))
        assert code == 0, lines
        assert all(line.startswith("✓ ") for line in lines), lines
        assert "a new SQLite file" in line_of(lines, "✓ DATABASE_URL")
        assert "workspace Fake Workspace (T0001)" in line_of(lines, "✓ SLACK_BOT_TOKEN: bot @ddm-restore")
        line_of(lines, "✓ SLACK_APP_TOKEN")
        assert "STWO has 2 member(s)" in line_of(lines, "✓ APPROVER_USERGROUP_IDS")
        assert "3 possible approver(s)" in line_of(lines, "✓ REQUIRED_APPROVALS=1")
        seeded = len(sim.state.world.ddm_instances)
        assert f"{seeded} DDM instance(s)" in line_of(lines, "✓ HUAWEICLOUD_SDK_AK/_SK accepted (aksk)")

        broken = check_env(
            fake,
            sim,
            SLACK_BOT_TOKEN="xoxb-wrong",
            HUAWEICLOUD_SDK_SK="wrong-secret",
            APPROVER_USER_IDS="alice,UBOB",
        )
        code, lines = await run_check(monkeypatch, capsys, broken)
        assert code == 1
        assert "'alice' is not an ID" in line_of(lines, "✗ APPROVER_USER_IDS")
        assert "invalid_auth" in line_of(lines, "✗ SLACK_BOT_TOKEN")
        assert "APIGW.0301" in line_of(lines, "✗ HUAWEICLOUD_SDK_AK/_SK")
        printed = "\n".join(lines)
        assert "wrong-secret" not in printed and "xoxb-wrong" not in printed  # secrets are named, never shown

        code, lines = await run_check(
            monkeypatch, capsys, check_env(fake, sim, SLACK_APP_TOKEN="xapp-wrong", REQUIRED_APPROVALS="4")
        )
        assert code == 1
        assert "invalid_auth" in line_of(lines, "✗ SLACK_APP_TOKEN") and "xapp-wrong" not in "\n".join(lines)
        assert "only 3 possible approver(s)" in line_of(lines, "✗ REQUIRED_APPROVALS=4")

        code, lines = await run_check(
            monkeypatch,
            capsys,
            check_env(fake, sim, SLACK_MODE="http", SLACK_SIGNING_SECRET="s", APPROVER_USERGROUP_IDS="SNONE"),
        )
        assert code == 1
        assert "no_such_subteam" in line_of(lines, "✗ APPROVER_USERGROUP_IDS: SNONE")
        assert not [line for line in lines if "SLACK_APP_TOKEN" in line]  # HTTP mode needs no app token


async def test_check_names_an_unknown_region_and_an_unreachable_slack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeSlack() as fake, RunningSimulator(credentials=CREDENTIALS) as sim:
        env = check_env(fake, sim, HUAWEICLOUD_REGION="cn-nowhere-7", HUAWEICLOUD_DDM_ENDPOINT="")
        env["SLACK_API_URL"] = f"http://127.0.0.1:{free_port()}/api/"
        code, lines = await run_check(monkeypatch, capsys, env)
    assert code == 1
    assert "'cn-nowhere-7' is not a Huawei Cloud region" in line_of(lines, "✗ HUAWEICLOUD_REGION")
    assert "Slack cannot be reached" in line_of(lines, "✗ SLACK_API_URL")


async def test_check_tells_the_migration_state(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from sqlalchemy import text

    from bot.store.migrate import head_revision, migrate
    from bot.store.sql_store import RequestStore

    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    async with FakeSlack() as fake, RunningSimulator(credentials=CREDENTIALS) as sim:
        fake.set_usergroup("STWO", ["UALICE"])
        env = check_env(fake, sim, DATABASE_URL=url)
        await migrate(url.replace("sqlite://", "sqlite+aiosqlite://"), "0002")
        code, lines = await run_check(monkeypatch, capsys, env)
        assert code == 0 and "migrations behind (revision 0002" in line_of(lines, "✓ DATABASE_URL"), lines
        await migrate(url.replace("sqlite://", "sqlite+aiosqlite://"))
        code, lines = await run_check(monkeypatch, capsys, env)
        assert f"migrations current (revision {head_revision()})" in line_of(lines, "✓ DATABASE_URL"), lines
        store = RequestStore.from_url(url.replace("sqlite://", "sqlite+aiosqlite://"))
        async with store.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        await store.close()
        code, lines = await run_check(monkeypatch, capsys, env)
        assert code == 1 and "migrations ahead: revision 9999" in line_of(lines, "✗ DATABASE_URL"), lines
        code, lines = await run_check(
            monkeypatch, capsys, env | {"DATABASE_URL": "postgresql://postgres:hunter2@127.0.0.1:1/none"}
        )
        assert code == 1 and "cannot connect" in line_of(lines, "✗ DATABASE_URL"), lines
        assert "hunter2" not in "\n".join(lines)


def test_version_and_help_with_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"ddm-restore-bot {version('ddm-restore-bot')}"
    for command, shown in [
        (["simulator"], "(default: 9000)"),
        (["run"], "(default: False)"),
        (["check"], "usage: ddm-restore-bot check"),
        (["audit", "export"], "--since SINCE"),
    ]:
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        assert shown in capsys.readouterr().out


async def test_check_checks_each_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    staging = SimulatorCredentials(project_id="f" * 32, username="st", password="St-Pass!", domain="acme")
    monkeypatch.chdir(tmp_path)
    async with (
        FakeSlack(bot_token="xoxb-test", app_token="xapp-test") as fake,
        RunningSimulator(credentials=CREDENTIALS, more=((staging, None),)) as sim,
    ):
        config = tmp_path / "envs.toml"
        config.write_text(
            f"""
[[environment]]
name = "prod"
channels = ["CPROD"]
region = "cn-north-4"
project_id = "{PROJECT}"
ddm_endpoint = "{sim.base_url}"
credentials = {{ ak_env = "PROD_AK", sk_env = "PROD_SK" }}
[[environment.stage]]
name = "Leads"
approvers = {{ users = ["UBOB"] }}

[[environment]]
name = "staging"
channels = ["CSTAGE"]
region = "ap-southeast-1"
project_id = "{"f" * 32}"
ddm_endpoint = "{sim.base_url}"
iam_endpoint = "{sim.base_url}"
credentials = {{ iam_username_env = "ST_USER", iam_password_env = "ST_PASSWORD", iam_domain_env = "ST_DOMAIN" }}
[[environment.stage]]
name = "Team"
approvers = {{ users = ["UDAN"] }}
"""
        )
        env = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_APP_TOKEN": "xapp-test",
            "SLACK_API_URL": fake.base_url,
            "DDM_RESTORE_CONFIG": str(config),
            "PROD_AK": CREDENTIALS.ak or "",
            "PROD_SK": CREDENTIALS.sk or "",
            "ST_USER": "st",
            "ST_PASSWORD": "St-Pass!",
            "ST_DOMAIN": "acme",
        }
        code, lines = await run_check(monkeypatch, capsys, env)
        assert code == 0, lines
        assert "project " + PROJECT in line_of(lines, "✓ prod: environment.prod.credentials (PROD_AK/PROD_SK)")
        line_of(lines, "✓ staging: environment.staging.credentials (ST_USER/ST_PASSWORD/ST_DOMAIN) accepted (token)")

        code, lines = await run_check(monkeypatch, capsys, env | {"ST_PASSWORD": "Not-The-Pass-42"})
        assert code == 1
        line_of(lines, "✓ prod:")
        assert "Not-The-Pass-42" not in line_of(lines, "✗ environment.staging.credentials (ST_USER/")

        code, lines = await run_check(monkeypatch, capsys, {k: v for k, v in env.items() if k != "PROD_SK"})
        assert code == 1
        assert line_of(lines, f"✗ {config}") == (
            f"✗ {config}: environment.prod.credentials.sk_env: PROD_SK is not set (nor PROD_SK_FILE)"
        )
