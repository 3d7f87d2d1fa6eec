"""The simulator's HTTP server: Huawei Cloud IAM (token) + DDM (the restore family) on one aiohttp app.

API routes answer like the real services: paths, query parameters, status codes, JSON field names, and an
``X-Request-Id`` header on every answer. The parts: ``iam_api.py`` (tokens), ``ddm_api.py`` (the restore
family), ``control_api.py`` (``/_sim/*`` for people, tests and drills), ``apigw.py`` (the API gateway: auth,
faults, call log), ``state.py`` (what the server knows). Choices where the real behaviour is unverified are in those modules.
How to use it from a shell: ``docs/simulator.md``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from bot.simulator import control_api, ddm_api, iam_api
from bot.simulator.apigw import middleware
from bot.simulator.auth import SimulatorCredentials
from bot.simulator.state import STATE_KEY, CallRecord, Clock, SimulatorState
from bot.simulator.world import World

__all__ = ["STATE_KEY", "CallRecord", "RunningSimulator", "SimulatorState", "build_app", "serve"]

log = logging.getLogger(__name__)


# ---- assembly -------------------------------------------------------------------------------------------------


def build_app(
    *,
    credentials: SimulatorCredentials,
    world: World | None = None,
    job_seconds: float = 20.0,
    token_ttl_seconds: int = 86400,
    clock: Clock | None = None,
    more: tuple[tuple[SimulatorCredentials, World | None], ...] = (),
    settle_seconds: float = 0.0,
) -> web.Application:
    """The simulator as an aiohttp app (IAM and DDM on one server). ``clock`` is for tests; ``more`` serves
    further projects (their identity and world) beside the first; ``settle_seconds``: how long a restored target
    shows RESTORE after its job completed."""
    app = web.Application(middlewares=[middleware])
    app[STATE_KEY] = SimulatorState(
        credentials=credentials,
        world=world,
        job_seconds=job_seconds,
        token_ttl_seconds=token_ttl_seconds,
        clock=clock,
        more=more,
        settle_seconds=settle_seconds,
    )
    iam_api.add_routes(app.router)
    ddm_api.add_routes(app.router)
    control_api.add_routes(app.router)
    return app


class RunningSimulator:
    """The simulator on a real socket, as an async context manager (port 0 = a free port)."""

    def __init__(
        self,
        *,
        credentials: SimulatorCredentials,
        world: World | None = None,
        job_seconds: float = 20.0,
        token_ttl_seconds: int = 86400,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        access_log: bool = False,
        more: tuple[tuple[SimulatorCredentials, World | None], ...] = (),
        settle_seconds: float = 0.0,
    ) -> None:
        self.app = build_app(
            credentials=credentials,
            world=world,
            job_seconds=job_seconds,
            token_ttl_seconds=token_ttl_seconds,
            clock=clock,
            more=more,
            settle_seconds=settle_seconds,
        )
        self.state: SimulatorState = self.app[STATE_KEY]
        self.host = host
        self.port = port
        self.base_url = ""
        self._access_log = access_log
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> RunningSimulator:
        kwargs: dict[str, Any] = {} if self._access_log else {"access_log": None}
        # A short shutdown timeout: parked or slow calls must not hold a test run hostage.
        runner = web.AppRunner(self.app, shutdown_timeout=1.0, **kwargs)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        address = runner.addresses[0]
        host, port = address[0], address[1]
        self.port = int(port)
        self.base_url = f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.state.faults.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def serve(
    *,
    host: str,
    port: int,
    credentials: SimulatorCredentials,
    world: World | None,
    job_seconds: float,
    token_ttl_seconds: int = 86400,
    more: tuple[tuple[SimulatorCredentials, World | None], ...] = (),
    settle_seconds: float = 0.0,
) -> None:
    """Run the simulator until cancelled. Logs where it listens and which auth modes are on (never secrets)."""
    async with RunningSimulator(
        credentials=credentials,
        world=world,
        job_seconds=job_seconds,
        token_ttl_seconds=token_ttl_seconds,
        host=host,
        port=port,
        access_log=True,
        more=more,
        settle_seconds=settle_seconds,
    ) as sim:
        for extra, _world in more:
            log.info("also serving project %s; auth: %s", extra.project_id, extra.describe())
        w = sim.state.world
        log.info(
            "Huawei Cloud simulator (IAM + DDM) listening on %s for project %s; auth: %s",
            sim.base_url,
            credentials.project_id,
            credentials.describe(),
        )
        log.info(
            "simulator world: %d DDM instances, %d RDS instances, %d jobs; restores take %.1f s, then %.1f s to settle",
            len(w.ddm_instances),
            len(w.rds_instances),
            len(w.jobs),
            job_seconds,
            settle_seconds,
        )
        await asyncio.Event().wait()
