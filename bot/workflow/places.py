"""Places: each environment with its own DdmGateway (its project, region, credentials, token cache and call
budget). People's requests find theirs by channel; submission and following find theirs by the plan."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.ports import DdmGateway, TargetProbe
from bot.restore.environment import Environment, Environments
from bot.restore.plan import RestorePlan
from bot.restore.policy import ApprovalPolicy
from bot.restore.request import RestoreRequest


@dataclass(frozen=True)
class Place:
    environment: Environment
    ddm: DdmGateway
    probe: TargetProbe | None = None  # runs the environment's SQL checks (None: it has none)

    @property
    def policy(self) -> ApprovalPolicy:
        return self.environment.policy


class Places:
    def __init__(self, places: Iterable[Place]) -> None:
        self.all = tuple(places)
        self.environments = Environments(tuple(place.environment for place in self.all))

    @classmethod
    def one(cls, ddm: DdmGateway, policy: ApprovalPolicy | None = None) -> Places:
        """The settings' one environment for every channel (no configuration file)."""
        environment = Environment("", ddm.region, ddm.project_id, policy or ApprovalPolicy())
        return cls([Place(environment, ddm)])

    @property
    def single(self) -> bool:
        return self.environments.single

    def for_channel(self, channel_id: str) -> Place | None:
        environment = self.environments.for_channel(channel_id)
        return next((p for p in self.all if p.environment is environment), None)

    def for_plan(self, plan: RestorePlan) -> Place | None:
        """The environment a plan was made in: by its name and project; a plan from before environments (no
        name) by its project and region."""
        where = (plan.project_id, plan.region)
        for place in self.all:
            env = place.environment
            if env.name == plan.environment and (env.project_id, env.region) == where:
                return place
        if not plan.environment:
            return next((p for p in self.all if (p.environment.project_id, p.environment.region) == where), None)
        return None

    def policy_of(self, request: RestoreRequest) -> ApprovalPolicy:
        """The rules a request is decided by, its environment's (nobody approves one whose environment is gone)."""
        place = self.for_plan(request.plan) or self.for_channel(request.channel_id)
        return place.policy.for_request(request) if place is not None else ApprovalPolicy()

    def by_project(self) -> dict[str, Place]:
        """One place per project (environments sharing a project share its jobs list)."""
        found: dict[str, Place] = {}
        for place in self.all:
            found.setdefault(place.environment.project_id, place)
        return found
