"""`python -m bot run|simulator` as real processes: settings mistakes are one line and exit 2 (forked from a warm
process, tests/support/zygote.py), signals stop the bot within seconds in every state, and HTTP mode authenticates
each request before parsing it."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import pytest_asyncio
from slack_sdk.signature import SignatureVerifier

from bot.simulator import RunningSimulator

# FakeSlack through the harness: it knows where the fake lives.
from tests.support.harness import CREDENTIALS, GROUP, PROJECT, SECRET, FakeSlack, populate
from tests.support.http import local_http
from tests.support.processes import clean_env, free_port
from tests.support.zygote import zygote

PREFIX = "ddm-restore-bot: "
STOP_WITHIN_SECONDS = 8.0  # generous for a loaded 2-core machine; the bot itself needs well under a second


@dataclass
class World:
    fake: FakeSlack
    sim: RunningSimulator
    workdir: Path

    def env(self, **settings: str) -> dict[str, str]:
        base = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_APP_TOKEN": "xapp-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_MODE": "http",
            "PORT": str(free_port()),
            "SLACK_API_URL": self.fake.base_url,
            "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT,
            "HUAWEICLOUD_DDM_ENDPOINT": self.sim.base_url,
            "HUAWEICLOUD_IAM_ENDPOINT": self.sim.base_url,
            "HUAWEICLOUD_SDK_AK": CREDENTIALS.ak or "",
            "HUAWEICLOUD_SDK_SK": CREDENTIALS.sk or "",
            "APPROVER_USER_IDS": "UBOB",
            "APPROVER_USERGROUP_IDS": GROUP,
            "DATABASE_URL": f"sqlite:///{self.workdir / 'bot.sqlite3'}",
            "SLACK_CONNECT_ATTEMPTS": "2",
            "SLACK_RETRY_BACKOFF_SECONDS": "0.1",
        }
        return clean_env() | base | settings


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with (
        FakeSlack(bot_token="xoxb-test", app_token="xapp-test") as fake,
        RunningSimulator(credentials=CREDENTIALS) as sim,
    ):
        populate(fake)
        fake.set_usergroup("STWO", ["UALICE", "UDAN"])
        yield World(fake, sim, tmp_path)


class Bot:
    """One `python -m bot ...` process; stderr and stdout go to a file read back by the assertions."""

    def __init__(self, env: dict[str, str], workdir: Path, *args: str) -> None:
        self.env, self.workdir, self.args = env, workdir, args or ("run",)
        self.log_path = workdir / f"bot-{time.monotonic_ns()}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Bot:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", *self.args, env=self.env, cwd=self.workdir, stdout=log, stderr=log
            )
        return self

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"still running after {timeout} s:\n{self.output()}") from None

    async def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process is not None
            if self.process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"never printed {text!r}:\n{self.output()}")
            await asyncio.sleep(0.05)

    async def stop_with(self, sig: int) -> float:
        """Send `sig`; how long the process took to exit (it must exit cleanly)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(sig)
        code = await self.wait(STOP_WITHIN_SECONDS)
        assert code == 0, self.output()
        return time.monotonic() - started


async def refused(env: dict[str, str], workdir: Path, *args: str) -> str:
    """Run the process to its end: exit 2, exactly one line of ours, no traceback. Returns that line. The process
    is forked from the test worker's zygote (tests/support/zygote.py), which runs what `python -m bot` runs: the
    tests below that use `Bot` start the command line itself."""
    log = workdir / f"bot-{time.monotonic_ns()}.log"
    forks = zygote(clean_env())
    pid = await forks.start(list(args or ("run",)), env=env, cwd=workdir, log=log)
    code = await asyncio.wait_for(forks.wait(pid), 30)
    output = log.read_text(encoding="utf-8", errors="replace")
    ours = [line for line in output.splitlines() if line.startswith(PREFIX)]
    assert code == 2, output
    assert len(ours) == 1, output
    assert "Traceback" not in output, output
    return ours[0][len(PREFIX) :]


# ---- settings mistakes: one line naming the setting, exit 2 ------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "named", "says"),
    [
        ({"DATABASE_URL": "postgresql://postgres:hunter2@127.0.0.1:1/nowhere"}, "DATABASE_URL", "cannot connect"),
        ({"DATABASE_URL": "this is not a url"}, "DATABASE_URL", "not a database URL"),
        ({"DATABASE_URL": "mysql://root:hunter2@db/bot"}, "DATABASE_URL", "not mysql"),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL", "DEBUG, INFO"),
        ({"APPROVER_USER_IDS": "alice,bob"}, "APPROVER_USER_IDS", "U024BE7LH"),
        ({"APPROVER_USERGROUP_IDS": "leads"}, "APPROVER_USERGROUP_IDS", "S0614TZR7"),
        ({"APPROVER_USERGROUP_IDS": "", "REQUIRED_APPROVALS": "2"}, "REQUIRED_APPROVALS=2", "only 1"),
        ({"APPROVER_USERGROUP_IDS": "STWO", "REQUIRED_APPROVALS": "4"}, "REQUIRED_APPROVALS=4", "only 3 possible"),
        ({"APPROVER_USERGROUP_IDS": "SNOSUCH"}, "APPROVER_USERGROUP_IDS", "no_such_subteam"),
        ({"SLACK_BOT_TOKEN": "xoxb-wrong"}, "SLACK_BOT_TOKEN", "invalid_auth"),
        ({"HUAWEICLOUD_REGION": "mars-north-1", "HUAWEICLOUD_DDM_ENDPOINT": ""}, "HUAWEICLOUD_REGION", "mars"),
    ],
    ids=lambda value: str(value)[:40],
)
async def test_run_refuses_bad_settings_in_one_line(
    world: World, settings: dict[str, str], named: str, says: str
) -> None:
    line = await refused(world.env(**settings), world.workdir)
    assert line.startswith(named) and says in line, line
    assert "hunter2" not in line


async def test_run_refuses_a_port_in_use(world: World) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        line = await refused(world.env(PORT=str(port)), world.workdir)
    assert line.startswith(f"PORT={port}") and "in use" in line, line


async def test_socket_mode_with_a_wrong_app_token_is_one_line(world: World) -> None:
    line = await refused(world.env(SLACK_MODE="socket", SLACK_APP_TOKEN="xapp-wrong"), world.workdir)
    assert line.startswith("SLACK_APP_TOKEN") and "invalid_auth" in line and "xapp-wrong" not in line


async def test_socket_mode_with_a_wrong_bot_token_never_claims_connected(world: World) -> None:
    bot = await Bot(world.env(SLACK_MODE="socket", SLACK_BOT_TOKEN="xoxb-wrong"), world.workdir).start()
    assert await bot.wait() == 2
    assert "connected" not in bot.output().lower() and "SLACK_BOT_TOKEN" in bot.output()
    assert world.fake.socket_connection_count == 0


async def test_unreachable_slack_is_retried_a_few_times_then_one_line(world: World) -> None:
    dead = f"http://127.0.0.1:{free_port()}/api/"
    env = world.env(SLACK_MODE="socket", SLACK_API_URL=dead, SLACK_CONNECT_ATTEMPTS="2")
    bot = await Bot(env, world.workdir).start()
    assert await bot.wait() == 2
    output = bot.output()
    assert output.count("retrying in") == 1 and "Traceback" not in output, output
    ours = [line for line in output.splitlines() if line.startswith(PREFIX)]
    assert len(ours) == 1 and "SLACK_API_URL: Slack cannot be reached" in ours[0], output


async def test_simulator_refuses_a_port_in_use_and_bad_seed_files(world: World) -> None:
    env = world.env()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        line = await refused(env, world.workdir, "simulator", "--port", port)
    assert line.startswith(f"--port {port}") and "in use" in line, line
    line = await refused(env, world.workdir, "simulator", "--seed-file", "missing.json")
    assert line.startswith("--seed-file missing.json") and "No such file" in line, line
    (world.workdir / "bad.json").write_text("{not json", encoding="utf-8")
    line = await refused(env, world.workdir, "simulator", "--seed-file", "bad.json")
    assert line.startswith("--seed-file bad.json") and "not valid JSON" in line, line


# ---- signals ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_http_mode_authenticates_first_and_stops_on_a_signal(world: World, sig: int) -> None:
    env = world.env()
    bot = await Bot(env, world.workdir).start()
    await bot.wait_for_output("ready: HTTP on port")
    url = f"http://127.0.0.1:{env['PORT']}/slack/events"
    async with local_http(timeout=5) as http:
        health = await http.get(f"http://127.0.0.1:{env['PORT']}/healthz")
        assert health.status_code == 200 and health.json()["mode"] == "http"
        assert (await http.post(url, content=b"\x00garbage")).status_code == 401
        stale = SignatureVerifier(SECRET).generate_signature(timestamp=str(int(time.time()) - 600), body="x=1")
        old = {"X-Slack-Request-Timestamp": str(int(time.time()) - 600), "X-Slack-Signature": stale}
        assert (await http.post(url, content=b"x=1", headers=old)).status_code == 401
        for body in (
            "payload=%7Bnot-json",
            "payload=%5B1%5D",
            "{broken json",
            "command=%2Fddm-restore&text=",
            "payload=%7B%22type%22%3A%22block_actions%22%7D",
        ):
            answer = await http.post(url, content=body.encode(), headers=signed(body))
            assert answer.status_code == 400, (body, answer.status_code, answer.text)
    assert await bot.stop_with(sig) < STOP_WITHIN_SECONDS
    output = bot.output()
    assert "Traceback" not in output and " ERROR " not in output, output


async def test_http_mode_refuses_malformed_requests_in_one_warning_line_each(world: World) -> None:
    env = world.env()
    bot = await Bot(env, world.workdir).start()
    await bot.wait_for_output("ready: HTTP on port")
    url = f"http://127.0.0.1:{env['PORT']}/slack/events"
    deep = "[" * 100_000 + "]" * 100_000
    deep_event = '{"type": "event_callback", "event": ' + deep + "}"
    deep_form = "payload=" + quote(deep)
    now = str(int(time.time()))
    cases: list[tuple[str, bytes, dict[str, str], int]] = [
        (
            "timestamp abc",
            b"command=%2Fddm-restore",
            {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=1"},
            401,
        ),
        ("no signature, timestamp abc", b"command=%2Fddm-restore", {"X-Slack-Request-Timestamp": "abc"}, 401),
        (
            "not UTF-8, bogus signature",
            b"\xff\xfe\xfd",
            {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=1"},
            401,
        ),
        ("signed, JSON 100,000 deep", deep_event.encode(), signed(deep_event), 400),
        ("signed, a payload 100,000 deep", deep_form.encode(), signed(deep_form), 400),
    ]
    calls = len(world.fake.calls)
    async with local_http(timeout=10) as http:
        for name, body, headers, status in cases:
            answer = await http.post(url, content=body, headers=headers)
            assert answer.status_code == status, (name, answer.status_code, answer.text)
    await bot.stop_with(signal.SIGTERM)
    output = bot.output()
    assert "Traceback" not in output and " ERROR " not in output, output
    refused = [line for line in output.splitlines() if "/slack/events was refused" in line]
    assert len(refused) == len(cases) and all("WARNING" in line for line in refused), output
    assert "timestamp" in refused[0].lower() and "signature" in refused[2] and "deep" in refused[3], refused
    assert len(world.fake.calls) == calls  # nothing reached Slack: no listener ran


def signed(body: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body),
        "Content-Type": "application/x-www-form-urlencoded" if not body.startswith("{") else "application/json",
    }


async def test_socket_mode_connected_says_ready_once_and_stops_on_sigterm(world: World) -> None:
    bot = await Bot(world.env(SLACK_MODE="socket", LOG_LEVEL="INFO"), world.workdir).start()
    await bot.wait_for_output("ready: Socket Mode")
    await world.fake.wait_socket_connected(timeout=10)
    output = bot.output()
    ready = [line for line in output.splitlines() if "ready: " in line]
    assert len(ready) == 1, output
    assert "workspace Fake Workspace (T0001)" in ready[0] and "UBOB" in ready[0] and f"{GROUP} (" in ready[0]
    assert "xoxb-test" not in output and "xapp-test" not in output and "will be unused" not in output
    assert "alembic" not in output and "Context impl" not in output, output
    await bot.stop_with(signal.SIGTERM)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_the_retries_to_an_unreachable_slack(world: World, sig: int) -> None:
    dead = f"http://127.0.0.1:{free_port()}/api/"
    env = world.env(
        SLACK_MODE="socket", SLACK_API_URL=dead, SLACK_CONNECT_ATTEMPTS="50", SLACK_RETRY_BACKOFF_SECONDS="30"
    )
    bot = await Bot(env, world.workdir).start()
    await bot.wait_for_output("retrying in")
    await bot.stop_with(sig)
    assert "stopped during start-up" in bot.output()


async def test_a_signal_stops_the_bot_while_slack_keeps_it_waiting(world: World) -> None:
    with socket.socket() as silent:  # takes the connection and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        silent.setblocking(False)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/"
        bot = await Bot(world.env(SLACK_MODE="socket", SLACK_API_URL=url), world.workdir).start()
        deadline = time.monotonic() + 30
        while True:  # the bot is waiting on Slack once it has connected (its signal handlers are in place)
            try:
                held, _ = silent.accept()
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, bot.output()
                await asyncio.sleep(0.05)
        with held:
            await bot.stop_with(signal.SIGTERM)
    assert "stopped during start-up" in bot.output()


async def test_a_signal_stops_the_bot_reconnecting_to_a_slack_that_went_away(world: World) -> None:
    async with FakeSlack() as gone:
        populate(gone)
        bot = await Bot(world.env(SLACK_MODE="socket", SLACK_API_URL=gone.base_url), world.workdir).start()
        await gone.wait_socket_connected(timeout=20)
        await bot.wait_for_output("ready: Socket Mode")
    await bot.wait_for_output("Reconnecting")  # slack_sdk saw Slack go ...
    await bot.wait_for_output("Cannot connect to host")  # ... and is reconnecting to nothing now
    await bot.stop_with(signal.SIGTERM)
    assert "Traceback" not in bot.output(), bot.output()
