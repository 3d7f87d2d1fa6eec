"""Bot replicas as real processes (what `python -m bot run` runs, in HTTP mode, forked from a warm zygote:
tests/support/zygote.py), for crash and concurrency tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from pathlib import Path

import httpx

from tests.support.http import local_http
from tests.support.zygote import zygote

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The environment without any setting of ours, so a developer's shell can't leak into a test."""
    prefixes = ("SLACK_", "HUAWEICLOUD_", "APPROVER_", "REQUIRED_", "ALLOW_", "ALLOWED_", "REQUESTER_", "DATABASE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class BotProcess:
    def __init__(self, name: str, settings: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = clean_env() | settings | {"SLACK_MODE": "http", "PORT": str(self.port)}
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def start(self, timeout: float = 30.0) -> None:
        forks = zygote(clean_env())
        self.pid = pid = await forks.start(["run"], env=self.env, cwd=self.workdir, log=self.log_path)
        deadline = asyncio.get_running_loop().time() + timeout
        async with local_http(timeout=1) as http:
            while True:
                if forks.returncode(pid) is not None:
                    raise AssertionError(f"{self.name} exited at start:\n{self.log()}")
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"{self.name} did not become healthy:\n{self.log()}")
                await asyncio.sleep(0.1)

    @property
    def returncode(self) -> int | None:
        return zygote(clean_env()).returncode(self.pid) if self.pid is not None else None

    def signal(self, sig: int) -> None:
        assert self.pid is not None
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it ended; its exit is on its way
                os.kill(self.pid, sig)

    async def kill(self) -> None:
        self.signal(signal.SIGKILL)
        await self.wait()

    async def wait(self, timeout: float = 60.0) -> int:
        assert self.pid is not None
        return await asyncio.wait_for(zygote(clean_env()).wait(self.pid), timeout)

    async def stop(self) -> None:
        if self.pid is not None and self.returncode is None:
            self.signal(signal.SIGTERM)
            try:
                await self.wait(30)
            except TimeoutError:
                await self.kill()

    async def wait_for_log(self, needle: str, timeout: float = 10.0) -> str:
        """The first line of the process's log that contains `needle`, once it is written."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
            found = next((line for line in text.splitlines() if needle in line), None)
            if found is not None:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{self.name} never logged {needle!r}:\n{self.log()}")
            await asyncio.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:] if self.log_path.exists() else ""
