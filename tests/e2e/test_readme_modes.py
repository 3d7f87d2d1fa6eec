"""The bot started exactly as the README says: `ddm-restore-bot run` as a real process in each Slack mode with only
the settings the README's "Socket Mode or HTTP mode" lists, and `run --simulate` with only those of the Quick
start's first step (read from README.md, so the two can't drift), against the fake Slack and the DDM simulator.
The only additions are where Slack, DDM and IAM live, and a free PORT."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from bot.playground import slack_payloads as sp
from bot.simulator import RunningSimulator
from tests.support.harness import CHANNEL, CREDENTIALS, PROJECT, SECRET, FakeSlack, populate
from tests.support.processes import ROOT, clean_env, free_port

SECTION = "### Socket Mode or HTTP mode"
# What the test puts in for the README's placeholders: the fake Slack's tokens, the simulator's project and keys.
VALUES = {
    "SLACK_BOT_TOKEN": "xoxb-readme",
    "SLACK_APP_TOKEN": "xapp-readme",
    "SLACK_SIGNING_SECRET": SECRET,
    "APPROVER_USER_IDS": "UBOB",
    "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT,
    "HUAWEICLOUD_SDK_AK": CREDENTIALS.ak or "",
    "HUAWEICLOUD_SDK_SK": CREDENTIALS.sk or "",
}
# Not settings a deployment makes: where the stand-ins listen.
PLUMBING = {"SLACK_API_URL", "HUAWEICLOUD_DDM_ENDPOINT", "HUAWEICLOUD_IAM_ENDPOINT", "PORT"}


def readme_settings(mode: str) -> dict[str, str]:
    """The settings of the README's block for `mode` ("Socket Mode" or "HTTP mode"), placeholders as written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    (block,) = [b for b in blocks if b.startswith(f"# {mode}")]
    found = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", block, flags=re.M))
    assert found and not set(found) & PLUMBING, found
    return found


def quick_start_step(number: int) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return section.split(f"\n{number}. ", 1)[1].split(f"\n{number + 1}. ", 1)[0]


def named(text: str) -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", text))


def filled(listed: dict[str, str]) -> dict[str, str]:
    """The README's list with the test's values for its placeholders; a concrete value is taken as written."""
    settings = {}
    for name, value in listed.items():
        if name in VALUES:
            settings[name] = VALUES[name]
        else:
            assert "…" not in value, f"the README names {name} with a placeholder the test can't fill"
            settings[name] = value
    return settings


class Process:
    def __init__(self, env: dict[str, str], workdir: Path, *args: str) -> None:
        self.env, self.workdir, self.args = env, workdir, args or ("run",)
        self.log_path = workdir / "bot.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", *self.args, env=self.env, cwd=self.workdir, stdout=log, stderr=log
            )

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process is not None
            if self.process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"never printed {text!r}:\n{self.output()}")
            await asyncio.sleep(0.05)

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"did not stop on SIGTERM:\n{self.output()}") from None


@pytest_asyncio.fixture
async def stand_ins() -> AsyncIterator[tuple[FakeSlack, RunningSimulator]]:
    async with (
        FakeSlack(bot_token=VALUES["SLACK_BOT_TOKEN"], app_token=VALUES["SLACK_APP_TOKEN"]) as fake,
        RunningSimulator(credentials=CREDENTIALS) as sim,
    ):
        populate(fake)
        yield fake, sim


def environment(mode: str, fake: FakeSlack, sim: RunningSimulator) -> tuple[dict[str, str], int]:
    port = free_port()
    plumbing = {
        "SLACK_API_URL": fake.base_url,
        "HUAWEICLOUD_DDM_ENDPOINT": sim.base_url,
        "HUAWEICLOUD_IAM_ENDPOINT": sim.base_url,
        "PORT": str(port),
    }
    # clean_env drops every setting of ours from the test's own environment; the database is the default SQLite
    # file in the working directory.
    return clean_env() | filled(readme_settings(mode)) | plumbing, port


def assert_clean(output: str) -> None:
    assert "Traceback" not in output and " ERROR " not in output, output
    for secret in (VALUES["SLACK_BOT_TOKEN"], VALUES["SLACK_APP_TOKEN"], SECRET, CREDENTIALS.sk or "-"):
        assert secret not in output


async def test_socket_mode_as_the_readme_lists_it(
    stand_ins: tuple[FakeSlack, RunningSimulator], tmp_path: Path
) -> None:
    fake, sim = stand_ins
    listed = readme_settings("Socket Mode")
    assert "SLACK_SIGNING_SECRET" not in listed  # the README says it is for HTTP mode only
    env, port = environment("Socket Mode", fake, sim)
    bot = Process(env, tmp_path)
    await bot.start()
    try:
        await bot.wait_for_output("ready: Socket Mode")
        await fake.wait_socket_connected(timeout=10)
        payload = sp.slash_command_payload(
            text="help", user_id="UALICE", channel_id=CHANNEL, response_url=fake.response_url("readme")
        )
        await fake.wait_socket_ack(await fake.socket_send("slash_commands", payload), timeout=10)
        answer = await fake.wait_for("response_url:readme")
        assert "/ddm-restore list" in answer.args["text"]
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
            assert ready.status_code == 200, ready.text
            # Socket Mode has no signing secret to check Slack's requests with: it serves no events path.
            assert (await http.post(f"http://127.0.0.1:{port}/slack/events", content=b"x=1")).status_code == 404
    finally:
        code = await bot.stop()
    assert code == 0, bot.output()
    assert_clean(bot.output())


async def test_http_mode_as_the_readme_lists_it(stand_ins: tuple[FakeSlack, RunningSimulator], tmp_path: Path) -> None:
    fake, sim = stand_ins
    listed = readme_settings("HTTP mode")
    assert listed.get("SLACK_MODE") == "http" and "SLACK_APP_TOKEN" not in listed
    env, port = environment("HTTP mode", fake, sim)
    bot = Process(env, tmp_path)
    await bot.start()
    try:
        await bot.wait_for_output("ready: HTTP on port")
        async with httpx.AsyncClient(timeout=10) as http:
            body, headers = sp.slash_command(
                SECRET, text="help", user_id="UALICE", channel_id=CHANNEL, response_url=fake.response_url("readme")
            )
            sent = await http.post(f"http://127.0.0.1:{port}/slack/events", content=body, headers=headers)
            assert sent.status_code == 200, sent.text
            answer = await fake.wait_for("response_url:readme")
            assert "/ddm-restore list" in answer.args["text"]
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
            assert ready.status_code == 200, ready.text
        assert fake.socket_connection_count == 0  # HTTP mode never opens Socket Mode
    finally:
        code = await bot.stop()
    assert code == 0, bot.output()
    assert_clean(bot.output())


@pytest.mark.parametrize("mode", ["Socket Mode", "HTTP mode"])
def test_the_readme_lists_name_real_settings(mode: str) -> None:
    from bot.config import Settings

    names = {name.upper() for name in Settings.model_fields}
    assert set(readme_settings(mode)) <= names


async def test_the_quick_start_runs_against_the_simulator_with_its_first_step_only(
    stand_ins: tuple[FakeSlack, RunningSimulator], tmp_path: Path
) -> None:
    fake, _sim = stand_ins
    listed = named(quick_start_step(1))
    # Step 2's command, as written there.
    (command,) = re.findall(r"ddm-restore-bot (run[^#\n]*)", quick_start_step(2))
    args = command.split()
    assert args == ["run", "--simulate"], args
    port = free_port()
    env = clean_env() | {name: VALUES[name] for name in listed} | {"SLACK_API_URL": fake.base_url, "PORT": str(port)}
    bot = Process(env, tmp_path, *args)
    await bot.start()
    try:
        await bot.wait_for_output("ready: Socket Mode")
        await fake.wait_socket_connected(timeout=10)
        # The form lists the simulator's demo instances: DDM is there without a Huawei setting.
        payload = sp.slash_command_payload(
            text="", user_id="UALICE", channel_id=CHANNEL, response_url=fake.response_url("quick")
        )
        await fake.wait_socket_ack(await fake.socket_send("slash_commands", payload), timeout=10)
        assert (await fake.wait_for("views.open")).args["view"]["callback_id"] == "ddm_restore_source"
    finally:
        code = await bot.stop()
    assert code == 0, bot.output()
    assert_clean(bot.output())


def test_the_quick_start_names_what_make_run_asks_for() -> None:
    from bot.config import Settings

    # What `run` refuses to start without (the simulator aside): step 3 must name every one of those settings.
    empty = Settings(_env_file=None, slack_bot_token="xoxb-x", slack_app_token="xapp-x", approver_user_ids="U1")  # type: ignore[call-arg]
    wanted = set(re.findall(r"\b(HUAWEICLOUD_[A-Z_]+)\b", " ".join(empty.huawei_problems())))
    assert wanted and wanted <= named(quick_start_step(3)), wanted - named(quick_start_step(3))
    assert "make run" in quick_start_step(3)
