"""What the workflow offers people (bot.workflow.desk.RestoreDesk; the Slack listeners call it)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from bot.ports.store import RequestPage
from bot.restore.checks import PlanProblem
from bot.restore.environment import Standing
from bot.restore.figures import EnvironmentStats
from bot.restore.flow import Flow
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import RestoreRequest


class RequestDesk(Protocol):
    """People's side of a request. A use case that says no raises a Refusal (bot.errors) for the person who
    asked, with the form's field when it has one; nothing is changed then."""

    def new_plan(
        self,
        *,
        source: NamedRef,
        target: NamedRef,
        restore_time_ms: int,
        mappings: tuple[DataNodeMapping, ...],
        reason: str = "",
        channel_id: str = "",
        urgent_incident: str = "",
    ) -> RestorePlan:
        """A plan for the environment of the channel: its name, project and region are part of what approvals
        bind to. Refused in a channel that is in no environment."""
        ...

    async def check_plan_live(self, plan: RestorePlan) -> list[PlanProblem]:
        """The one plan check against DDM now (what the form shows before it closes). Empty when possible."""
        ...

    async def precheck_create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> None:
        """Refuse (with the field to blame) if `create` would refuse for who or where; changes nothing. The live
        plan check is `check_plan_live`."""
        ...

    async def flow_for(
        self,
        *,
        source: NamedRef,
        target: NamedRef,
        restore_time_ms: int,
        data_nodes: int,
        requester_id: str,
        channel_id: str,
    ) -> Flow:
        """The approval flow such a request would get if it were made now (what step 2 shows before submit); a
        Refusal (field "flow") with the rule's message when a routing rule refuses it."""
        ...

    async def create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> RestoreRequest:
        """Check the plan once more against DDM, choose its approval flow (the routing rules, now) and store it as
        a PENDING request with that flow frozen into it, named as DDM names things; the announcer posts its card."""
        ...

    async def approve(self, request_id: str, user_id: str) -> None:
        """One approval click; when it was the last one needed, returns after the submission."""
        ...

    async def check_reject(self, request_id: str, user_id: str) -> None:
        """May this person reject? (Asked before opening the reason dialog.)"""
        ...

    async def reject(self, request_id: str, user_id: str, reason: str) -> None: ...
    async def cancel(self, request_id: str, user_id: str) -> None: ...
    async def review(self, request_id: str, user_id: str) -> None:
        """The [Reviewed] click on an urgent request's follow-up review (audited)."""
        ...

    async def standing(self, user_id: str, channel_id: str) -> Standing:
        """What this person may do in this channel (`/ddm-restore whoami`): its environment, whether they may
        request there (the policy's refusal if not), the approval stages they may approve in. Changes nothing."""
        ...

    async def nudge(self, request_id: str, user_id: str) -> None:
        """The requester's [Nudge]: the current stage's approvers are mentioned and DMed (within its cooldown)."""
        ...

    async def find(self, reference: str) -> RestoreRequest | None:
        """A request by its id (in any spelling people type) or its DDM job id."""
        ...

    async def recent(self, limit: int = 10, *, channel_id: str | None = None) -> list[RestoreRequest]:
        """Newest first."""
        ...

    async def history(self, days: int, *, channel_ids: Collection[str] | None, page: int = 1) -> RequestPage:
        """Page `page` (from 1) of the requests made in the last `days` days (1 to STATS_DAYS_MAX) in `channel_ids`
        (None: any channel), newest first."""
        ...

    async def stats(self, days: int) -> list[EnvironmentStats]:
        """The figures of the restores that finished in the last `days` days (1 to STATS_DAYS_MAX), by
        environment (bot.restore.figures)."""
        ...
