"""`ddm-restore-bot playground`: the simulator, the stand-in for Slack, the unchanged bot and the page, together.

Nothing is read from the environment, `.env` or ./ddm-restore.toml: the playground must never reach a real
workspace or cloud. Its environments are the settings' one, or those of `--config FILE` (bot.playground.environments).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import socket
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from aiohttp import web
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.app import build_runtime
from bot.config import ConfigError, Settings
from bot.playground.environments import file_setups, playground_setups, read_config
from bot.playground.people import CHANNEL_ID, LEADS_GROUP_ID, populate
from bot.playground.relay import SlackRelay
from bot.playground.verify_mysql import CheckDatabase, Server, parse_server
from bot.playground.web import page_app
from bot.playground.workspace import PlaygroundSlack
from bot.serving.serve import EVENTS_PATH, serve
from bot.simulator import RunningSimulator, SimulatorCredentials

log = logging.getLogger(__name__)

# Fake credentials shared by the in-process simulator and the bot; they open nothing real.
PROJECT_ID = "0123456789abcdef0123456789abcdef"
CREDENTIALS = SimulatorCredentials(project_id=PROJECT_ID, ak="PLAYGROUNDAK00000000", sk="playground-secret-key")


class PlaygroundSettings(Settings):
    """Settings from the constructor only (no environment, no `.env`)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _free_port() -> int:
    # serve() binds the port from the settings; ask the OS for a free one first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def playground_settings(slack: PlaygroundSlack, sim: RunningSimulator, data_dir: Path) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": "xoxb-playground",
        "slack_signing_secret": secrets.token_hex(16),
        "slack_mode": "http",
        "slack_api_url": slack.base_url,
        "port": _free_port(),
        "huaweicloud_region": "cn-north-4",
        "huaweicloud_sdk_project_id": PROJECT_ID,
        "huaweicloud_ddm_endpoint": sim.base_url,
        "huaweicloud_iam_endpoint": sim.base_url,
        "huaweicloud_sdk_ak": CREDENTIALS.ak,
        "huaweicloud_sdk_sk": CREDENTIALS.sk,
        "approver_usergroup_ids": LEADS_GROUP_ID,
        "required_approvals": 1,
        "database_url": f"sqlite:///{data_dir / 'playground.sqlite3'}",
        "job_poll_interval_seconds": 1.0,
        "log_level": "WARNING",
    }
    return PlaygroundSettings(**values)


class Playground:
    """Everything on localhost, as an async context manager; `url` is the page."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        job_seconds: float = 20.0,
        config: Path | None = None,
        verify_mysql: Server | None = None,
    ) -> None:
        # A bad --config is ConfigError here, before anything starts.
        self.config = read_config(config) if config is not None else None
        self.config_path = str(config or "")
        if self.config is not None:
            file_setups(self.config, where=self.config_path, sim_url="http://127.0.0.1", credentials=CREDENTIALS)
        self.host = host
        self.port = port
        self.job_seconds = job_seconds
        self.slack = PlaygroundSlack()
        # A restored target shows RESTORE a few seconds more, then RUNNING: the verification is seen to wait.
        self.sim = RunningSimulator(credentials=CREDENTIALS, job_seconds=job_seconds, settle_seconds=3.0)
        # --verify-mysql: the checks' database on that server (created first: a bad server stops nothing running).
        self.checks_db = CheckDatabase(verify_mysql) if verify_mysql is not None else None
        self.url = ""
        self._tmp = tempfile.TemporaryDirectory(prefix="ddm-playground-")
        self._stop = asyncio.Event()
        self._bot: asyncio.Task[None] | None = None
        self._page: web.AppRunner | None = None
        self._relay: SlackRelay | None = None

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _start(self) -> None:
        if self.checks_db is not None:
            await self.checks_db.create()
            server = self.checks_db.server
            for instance in self.sim.state.primary.world.ddm_instances:
                instance.access_ip, instance.access_port = server.host, server.port
        await self.slack.start()
        populate(self.slack)
        await self.sim.__aenter__()
        settings = playground_settings(self.slack, self.sim, Path(self._tmp.name))
        setups = playground_setups(
            settings, self.config, where=self.config_path, sim_url=self.sim.base_url, credentials=CREDENTIALS
        )
        if self.checks_db is not None:
            setups = self.checks_db.with_check(setups, CHANNEL_ID)
        runtime = await build_runtime(settings, sweep_interval=1.0, setups=setups)
        self._bot = asyncio.create_task(serve(runtime, self._stop, host="127.0.0.1"), name="playground-bot")
        bot_url = f"http://127.0.0.1:{settings.port}"
        await _wait_healthy(bot_url + "/healthz", self._bot)
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        self._relay = SlackRelay(self.slack, bot_url + EVENTS_PATH, secret)
        self._page = web.AppRunner(page_app(self._relay), access_log=None)
        await self._page.setup()
        await web.TCPSite(self._page, self.host, self.port).start()
        port = self._page.addresses[0][1]
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        self.url = f"http://{shown}:{port}/"

    async def close(self) -> None:
        if self._page is not None:
            await self._page.cleanup()
            self._page = None
        if self._relay is not None:
            await self._relay.aclose()
        self._stop.set()
        if self._bot is not None:
            await asyncio.gather(self._bot, return_exceptions=True)
            self._bot = None
        await self.sim.__aexit__(None, None, None)
        await self.slack.close()
        if self.checks_db is not None:
            await self.checks_db.drop()
        self._tmp.cleanup()


async def _wait_healthy(url: str, bot: asyncio.Task[None], within: float = 15.0) -> None:
    async with httpx.AsyncClient(timeout=1.0) as http:
        for _ in range(int(within / 0.05)):
            if bot.done():
                bot.result()  # raises what stopped the bot
                raise RuntimeError("the bot stopped while starting")
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"the bot did not answer at {url} within {within}s")


async def run_playground(playground: Playground) -> int:
    async with playground:
        print(f"Playground: open {playground.url} (Ctrl-C stops it)", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    return 0


def playground_cli(
    host: str,
    port: int,
    job_seconds: float,
    config: Path | None = None,
    verify_mysql: str | None = None,
    verify_mysql_admin: str = "root",
) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = parse_server(verify_mysql, verify_mysql_admin) if verify_mysql is not None else None
        playground = Playground(host=host, port=port, job_seconds=job_seconds, config=config, verify_mysql=server)
        return asyncio.run(run_playground(playground))
    except ConfigError as exc:  # a bad --config or --verify-mysql: before anything starts
        for line in str(exc).splitlines():
            print(f"ddm-restore-bot: {line}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ddm-restore-bot: playground could not start: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
