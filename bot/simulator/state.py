"""What the running simulator knows (world, tokens, faults, call log) and the answer helpers every API shares."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.simulator.auth import SimulatorCredentials, TokenStore
from bot.simulator.demo import demo_world_json
from bot.simulator.faults import FaultBook
from bot.simulator.rules import ApiError
from bot.simulator.world import World, utc_now, world_from_json

Clock = Callable[[], datetime]


@dataclass
class CallRecord:
    """One API call as the simulator saw it. Never holds a secret: no headers, passwords masked."""

    route: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int | None
    at: str
    auth: str | None
    request_id: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Project:
    """One project: the identity it accepts, its world and the tokens issued for it."""

    def __init__(
        self, credentials: SimulatorCredentials, world: World | None, token_ttl_seconds: int, now: datetime
    ) -> None:
        self.credentials = credentials
        # The seed `POST /_sim/reset` goes back to. The demo world's relative times stay relative (a reset demo
        # looks as fresh as a new one); a given world is kept as it was at start.
        self.seed: dict[str, Any] = world.to_json() if world is not None else demo_world_json()
        self.world = world if world is not None else world_from_json(self.seed, now=now)
        self.tokens = TokenStore(credentials, token_ttl_seconds)


class SimulatorState:
    """Everything the server knows; tests running in-process may inspect and change it directly.

    It serves one project per identity: `credentials` and `world` are the first's; `more` adds others (one
    world each), so two environments can restore in two projects of one simulator.
    """

    def __init__(
        self,
        *,
        credentials: SimulatorCredentials,
        world: World | None = None,
        job_seconds: float = 20.0,
        token_ttl_seconds: int = 86400,
        clock: Clock | None = None,
        more: tuple[tuple[SimulatorCredentials, World | None], ...] = (),
        settle_seconds: float = 0.0,
    ) -> None:
        self.clock: Clock = clock or utc_now
        self.primary = Project(credentials, world, token_ttl_seconds, self.clock())
        self.projects: dict[str, Project] = {credentials.project_id: self.primary}
        for extra_credentials, extra_world in more:
            if extra_credentials.project_id in self.projects:
                raise ValueError(f"project {extra_credentials.project_id} is served twice")
            self.projects[extra_credentials.project_id] = Project(
                extra_credentials, extra_world, token_ttl_seconds, self.clock()
            )
        self.job_seconds = job_seconds
        self.settle_seconds = settle_seconds  # how long a restored target shows RESTORE after its job completed
        self.faults = FaultBook()
        self.calls: list[CallRecord] = []

    @property
    def credentials(self) -> SimulatorCredentials:
        return self.primary.credentials

    @property
    def tokens(self) -> TokenStore:
        return self.primary.tokens

    @property
    def world(self) -> World:
        return self.primary.world

    @world.setter
    def world(self, world: World) -> None:
        self.primary.world = world

    def project(self, project_id: str | None) -> Project | None:
        return self.projects.get(project_id or "")

    def world_of(self, project_id: str) -> World:
        project = self.projects.get(project_id)
        return project.world if project is not None else self.world

    def now(self) -> datetime:
        return self.clock()

    def advance(self) -> None:
        """Bring jobs up to date (they are evaluated lazily, at each look, from their start time)."""
        for project in self.projects.values():
            project.world.advance(self.now(), self.job_seconds, self.settle_seconds)

    def calls_for(self, route: str | None = None) -> list[CallRecord]:
        return [c for c in self.calls if route is None or c.route == route]

    def call_counts(self) -> dict[str, int]:
        return dict(Counter(c.route for c in self.calls))

    def reset(self) -> dict[str, Any]:
        """Back to the seed: world (jobs, busy targets, outcomes), faults, latency, parked calls, call log.

        Issued tokens stay valid, so a client keeps working across a reset. Returns what was undone.
        """
        self.advance()
        jobs_removed, freed = 0, []
        for project in self.projects.values():
            seed_job_ids = {j["id"] for j in project.seed.get("jobs", [])}
            jobs_removed += sum(1 for j in project.world.jobs if j.id not in seed_job_ids)
            touched = {j.instance_id for j in project.world.jobs if j.id not in seed_job_ids}
            freed += sorted(i.name for i in project.world.ddm_instances if i.id in touched)
        done = {
            "jobs_removed": jobs_removed,
            "targets_freed": freed,  # restored or being restored since the seed: empty targets again
            "faults_cleared": len(self.faults.faults),
            "latency_cleared": sorted(self.faults.latency),
            "calls_released": self.faults.release(),
            "calls_cleared": len(self.calls),
        }
        self.faults.clear()
        self.calls.clear()
        for project in self.projects.values():
            project.world = world_from_json(project.seed, now=self.now())
        return done


STATE_KEY = web.AppKey("simulator_state", SimulatorState)
REQUEST_ID_KEY = web.RequestKey("request_id", str)


def state_of(request: web.Request) -> SimulatorState:
    return request.app[STATE_KEY]


def request_id(request: web.Request) -> str:
    return request.get(REQUEST_ID_KEY) or uuid.uuid4().hex


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def json_answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Compact JSON, as the real services write it.
    return web.json_response(data, status=status, headers=headers, dumps=dumps)


def ddm_error(error: ApiError, *, v1: bool = False) -> web.Response:
    """DDM's error answer: V3 `{"error_code","error_msg"}`, V1 `{"errCode","externalMessage"}`."""
    if v1:
        return json_answer({"errCode": error.code, "externalMessage": error.message}, status=error.status)
    return json_answer({"error_code": error.code, "error_msg": error.message}, status=error.status)


def gateway_error(status: int, code: str, message: str, rid: str) -> web.Response:
    return json_answer({"error_code": code, "error_msg": message, "request_id": rid}, status=status)
