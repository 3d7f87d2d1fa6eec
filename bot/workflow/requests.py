"""People's side of a request: create, approve, reject, cancel; and expiry. Every change is a lifecycle move in
the store, which writes what people must hear into the outbox in the same transaction."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.errors import StoreUnavailable, TargetBusy
from bot.ports import DdmGateway, RequestRepository, UserDirectory
from bot.restore.checks import TARGET, PlanProblem, named_by_ddm
from bot.restore.ids import normalise_request_id
from bot.restore.lifecycle import Event
from bot.restore.notices import ParamValue
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.policy import ApprovalPolicy, Refusal, can_review, describe_who
from bot.restore.request import RestoreRequest
from bot.workflow.live import check_live
from bot.workflow.places import Place, Places

log = logging.getLogger(__name__)
SYSTEM = "system"


class WorkflowRefused(Exception):
    """A request was refused; the message is for the person who asked, the field for the form."""

    def __init__(self, message: str, *, field: str | None = None, quotes_ddm: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # The message quotes names or reasons from DDM (a plan problem): shown as text, mentions and all.
        self.quotes_ddm = quotes_ddm


def _busy(plan: RestorePlan, holder: RestoreRequest) -> WorkflowRefused:
    return WorkflowRefused(
        f"{plan.target.label} is busy with {holder.id} ({holder.state.value.lower()}).", field=TARGET, quotes_ddm=True
    )


class Requests:
    def __init__(
        self,
        *,
        store: RequestRepository,
        ddm: DdmGateway,
        directory: UserDirectory,
        policy: ApprovalPolicy,
        clock: Callable[[], datetime],
        submit: Callable[[RestoreRequest], Awaitable[object]],
        places: Places | None = None,
    ) -> None:
        self.store = store
        self.directory = directory
        # Without environments (no configuration file): `ddm` and `policy` are the one for every channel.
        self.places = places or Places.one(ddm, policy)
        self.clock = clock
        self._submit = submit

    def place_for(self, channel_id: str) -> Place:
        """The environment of a channel; WorkflowRefused naming the channels that are set up when none."""
        place = self.places.for_channel(channel_id)
        if place is None:
            raise WorkflowRefused(self.places.environments.not_set_up(channel_id))
        return place

    def _place_of(self, request: RestoreRequest) -> Place | None:
        return self.places.for_plan(request.plan) or self.places.for_channel(request.channel_id)

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
        bind to. Raises WorkflowRefused in a channel that is in no environment."""
        env = self.place_for(channel_id).environment
        return RestorePlan(
            project_id=env.project_id,
            region=env.region,
            environment=env.name,
            source=source,
            target=target,
            restore_time_ms=restore_time_ms,
            mappings=mappings,
            reason=reason,
            urgent_incident=urgent_incident,
        )

    async def check_plan_live(self, plan: RestorePlan) -> list[PlanProblem]:
        """The one plan check against DDM now (what the form shows before it closes). Empty when possible."""
        problems, _facts = await check_live(self._ddm_for(plan), plan)
        return problems

    async def precheck_create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> None:
        """Raise WorkflowRefused (with the field to blame) if `create` would refuse for who or where; changes
        nothing. The live plan check is `check_plan_live`."""
        policy = self.place_for(channel_id).policy
        actor = await self.directory.actor(requester_id)
        if (refusal := policy.can_request(actor, channel_id)) is not None:
            raise WorkflowRefused(refusal.message)
        holder = await self.store.active_for_target(plan.target.id)
        if holder is not None:
            raise _busy(plan, holder)

    async def create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> RestoreRequest:
        """Check the plan once more against DDM and store it as a PENDING request, named as DDM names things;
        the announcer posts its card. Raises WorkflowRefused (with a field) when it can't be."""
        place = self.place_for(channel_id)
        if self.places.for_plan(plan) is not place:
            raise WorkflowRefused(f"This plan was made for another environment than {place.environment.label}.")
        actor = await self.directory.actor(requester_id)
        if (refusal := place.policy.can_request(actor, channel_id)) is not None:
            raise WorkflowRefused(refusal.message)
        if plan.urgent_incident and place.policy.urgent is None:
            raise WorkflowRefused(f"{place.environment.label} has no urgent (break-glass) path.")
        policy = place.policy.urgent_policy() if plan.urgent_incident else place.policy
        # The form's check moments ago asked the same: its answers are remembered (bot.workflow.cached).
        problems, facts = await check_live(place.ddm, plan)
        if problems or facts is None:
            first = problems[0] if problems else PlanProblem(TARGET, "DDM could not confirm the plan.")
            raise WorkflowRefused(first.message, field=first.field, quotes_ddm=True)
        now = self.clock()
        try:
            return await self.store.create(
                plan=named_by_ddm(plan, facts),
                requester_id=requester_id,
                channel_id=channel_id,
                required_approvals=policy.total_required,
                now=now,
                expires_at=now + policy.ttl,
                review=policy.urgent.review() if plan.urgent_incident and policy.urgent else None,
            )
        except TargetBusy as busy:
            raise _busy(plan, busy.holder) from None

    def policy_of(self, request: RestoreRequest) -> ApprovalPolicy:
        """The rules of the request's environment (nobody approves one whose environment is gone)."""
        place = self._place_of(request)
        return place.policy.for_request(request) if place is not None else ApprovalPolicy()

    def _ddm_for(self, plan: RestorePlan) -> DdmGateway:
        place = self.places.for_plan(plan)
        if place is None:
            raise WorkflowRefused(f"No environment restores in project {plan.project_id} ({plan.region}).")
        return place.ddm

    async def approve(self, request_id: str, user_id: str) -> Refusal | None:
        """One approval click. Returns a refusal for the clicker, or None when it counted (and, when it was the
        last one needed, after the submission)."""
        request = await self.store.get(request_id)
        if request is None:
            return Refusal("unknown_request", f"I know no request {request_id}.")
        policy = self.policy_of(request)
        actor = await self.directory.actor(user_id)
        now = self.clock()
        if (refusal := policy.can_approve(actor, request, now)) is not None:
            return refusal
        stage = policy.current_stage(request) or 1
        stages_required: tuple[int, ...] | None = None
        params: dict[str, ParamValue] | None = None
        if policy.stages:
            stages = policy.stages
            stages_required = tuple(each.required for each in stages)
            following = stages[stage] if stage < len(stages) else None
            params = {
                "stage_name": stages[stage - 1].name,
                "next_stage_name": following.name if following else None,
                "next_approvers": (
                    describe_who(following.approver_user_ids, following.approver_group_ids) if following else None
                ),
            }
        outcome = await self.store.approve(
            request_id,
            user_id=user_id,
            fingerprint=request.fingerprint,
            now=now,
            stage=stage,
            stages_required=stages_required,
            params=params,
        )
        if not outcome.added:
            # Lost a race: the request moved on (or this person's first click already counted).
            return policy.can_approve(actor, outcome.request, now) or Refusal(
                "not_counted", f"{request_id} is no longer awaiting approval."
            )
        if outcome.approved:
            try:
                await self._submit(outcome.request)
            except StoreUnavailable:
                # The approval counted and is recorded: the clicker must not hear "nothing was recorded". The
                # request waits as APPROVED (or SUBMITTING) for the sweeper, and its thread tells what happens.
                log.warning("submitting %s after its approval: the database is unavailable", request_id)
        return None

    async def check_reject(self, request_id: str, user_id: str) -> Refusal | None:
        """May this person reject? (Asked before opening the reason dialog.)"""
        request = await self.store.get(request_id)
        if request is None:
            return Refusal("unknown_request", f"I know no request {request_id}.")
        return self.policy_of(request).can_reject(await self.directory.actor(user_id), request, self.clock())

    async def reject(self, request_id: str, user_id: str, reason: str) -> Refusal | None:
        return await self._decide(request_id, user_id, Event.REJECT, reason)

    async def cancel(self, request_id: str, user_id: str) -> Refusal | None:
        return await self._decide(request_id, user_id, Event.CANCEL, None)

    async def _decide(self, request_id: str, user_id: str, event: Event, note: str | None) -> Refusal | None:
        request = await self.store.get(request_id)
        if request is None:
            return Refusal("unknown_request", f"I know no request {request_id}.")
        actor = await self.directory.actor(user_id)
        policy = self.policy_of(request)
        check = policy.can_reject if event is Event.REJECT else policy.can_cancel
        if (refusal := check(actor, request, self.clock())) is not None:
            return refusal
        done = await self.store.transition(
            request_id,
            event,
            actor=user_id,
            now=self.clock(),
            values={"decided_by": user_id, "decision_note": note},
            details={"reason": note} if note else {},
        )
        if done is None:
            latest = await self.store.get(request_id)
            state = latest.state.value.lower() if latest else "gone"
            return Refusal("not_pending", f"{request_id} is already {state}; nothing to decide.")
        return None

    async def review(self, request_id: str, user_id: str) -> Refusal | None:
        """The [Reviewed] click on an urgent request's follow-up review (audited)."""
        request = await self.store.get(request_id)
        if request is None:
            return Refusal("unknown_request", f"I know no request {request_id}.")
        if (refusal := can_review(await self.directory.actor(user_id), request)) is not None:
            return refusal
        if await self.store.reviews.mark_reviewed(request_id, user_id=user_id, now=self.clock()) is None:
            latest = await self.store.get(request_id)
            return can_review(await self.directory.actor(user_id), latest or request) or Refusal(
                "not_counted", f"{request_id}'s review was already recorded."
            )
        return None

    async def remind_overdue_reviews(self) -> list[str]:
        """One reminder (thread and DMs to the reviewers) for each review past its time; returns their ids."""
        reminded: list[str] = []
        for request_id in await self.store.reviews.overdue(self.clock()):
            if await self.store.reviews.remind(request_id, now=self.clock()) is not None:
                reminded.append(request_id)
        return reminded

    async def expire_due(self) -> list[str]:
        """Expire every pending request whose time is up; returns their ids."""
        expired: list[str] = []
        for request_id in await self.store.due_for_expiry(self.clock()):
            if await self.store.transition(request_id, Event.EXPIRE, actor=SYSTEM, now=self.clock()) is not None:
                expired.append(request_id)
        return expired

    async def find(self, reference: str) -> RestoreRequest | None:
        request_id = normalise_request_id(reference)
        if request_id:
            found = await self.store.get(request_id)
            if found:
                return found
        return await self.store.find_by_job_id(reference.strip())

    async def recent(self, limit: int = 10, *, channel_id: str | None = None) -> list[RestoreRequest]:
        return await self.store.recent(limit, channel_id=channel_id)
