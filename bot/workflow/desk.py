"""RestoreDesk: people's side of a request (bot.ports.RequestDesk): make a plan, choose its approval flow (the
environment's routing rules), create, approve, reject, cancel, review; what a person may do in a channel; the history and the figures of the restores
made; and expiry. Every change is a lifecycle move in the store, which writes what people must hear into the
outbox in the same transaction. Every no is raised as a Refusal (bot.errors), the one way a use case refuses."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import replace
from datetime import datetime, timedelta

from bot.errors import Refusal, StoreUnavailable
from bot.ports import RequestPage, RequestRepository, TargetBusy, UserDirectory
from bot.restore.checks import TARGET, PlanProblem, named_by_ddm
from bot.restore.environment import Standing
from bot.restore.figures import STATS_DAYS_MAX, EnvironmentStats, stats_by_environment
from bot.restore.flow import Flow
from bot.restore.ids import normalise_request_id
from bot.restore.lifecycle import Event
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.policy import Actor, can_review
from bot.restore.request import SYSTEM, RequestState, RestoreRequest
from bot.restore.rules import RequestFacts
from bot.restore.timeparse import datetime_of
from bot.workflow.live import check_live
from bot.workflow.places import Place, Places
from bot.workflow.remind import nudge_params

log = logging.getLogger(__name__)
# `/ddm-restore history [days] [page]`: requests per page.
HISTORY_PAGE_SIZE = 10


def _busy(plan: RestorePlan, holder: RestoreRequest) -> Refusal:
    return Refusal(
        "target_busy",
        f"{plan.target.label} is busy with {holder.id} ({holder.state.value.lower()}).",
        field=TARGET,
        quotes_ddm=True,
    )


def _unknown(request_id: str) -> Refusal:
    return Refusal("unknown_request", f"I know no request {request_id}.")


def _plan_refusal(problem: PlanProblem) -> Refusal:
    return Refusal(f"plan:{problem.field}", problem.message, field=problem.field, quotes_ddm=True)


class RestoreDesk:
    def __init__(
        self,
        *,
        store: RequestRepository,
        places: Places,
        directory: UserDirectory,
        clock: Callable[[], datetime],
        submit: Callable[[RestoreRequest], Awaitable[object]],
    ) -> None:
        self.store = store
        self.places = places
        self.directory = directory
        self.clock = clock
        self._submit = submit

    def place_for(self, channel_id: str) -> Place:
        """The environment of a channel; a Refusal naming the channels that are set up when none."""
        place = self.places.for_channel(channel_id)
        if place is None:
            raise Refusal("not_set_up", self.places.environments.not_set_up(channel_id))
        return place

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
        place = self.places.for_plan(plan)
        if place is None:
            raise Refusal("no_environment", f"No environment restores in project {plan.project_id} ({plan.region}).")
        problems, _facts = await check_live(place.ddm, plan)
        return problems

    async def precheck_create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> None:
        place = self.place_for(channel_id)
        actor = await self.directory.actor(requester_id)
        if (refusal := place.policy.can_request(actor, channel_id)) is not None:
            raise refusal
        self._flow(place, plan, actor, len(plan.mappings), self.clock())
        holder = await self.store.active_for_target(plan.target.id)
        if holder is not None:
            raise _busy(plan, holder)

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
        """The approval flow a request of these would get if it were made now (its environment's routing rules,
        bot.restore.rules); a Refusal (field "flow") when a rule refuses it."""
        place = self.place_for(channel_id)
        actor = await self.directory.actor(requester_id)
        facts = _facts(source, target, restore_time_ms, data_nodes, actor, self.clock())
        routed = place.policy.route(facts)
        if isinstance(routed, Refusal):
            raise routed
        return routed

    def _flow(self, place: Place, plan: RestorePlan, actor: Actor, data_nodes: int, now: datetime) -> Flow:
        """The flow `plan` gets now: the urgent approvers on the urgent path, else what the rules choose."""
        if plan.urgent_incident and place.policy.urgent is not None:
            return place.policy.urgent_flow()
        routed = place.policy.route(_facts(plan.source, plan.target, plan.restore_time_ms, data_nodes, actor, now))
        if isinstance(routed, Refusal):
            raise routed
        return routed

    async def create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> RestoreRequest:
        place = self.place_for(channel_id)
        if self.places.for_plan(plan) is not place:
            raise Refusal(
                "other_environment", f"This plan was made for another environment than {place.environment.label}."
            )
        actor = await self.directory.actor(requester_id)
        if (refusal := place.policy.can_request(actor, channel_id)) is not None:
            raise refusal
        if plan.urgent_incident and place.policy.urgent is None:
            raise Refusal("no_urgent_path", f"{place.environment.label} has no urgent (break-glass) path.")
        policy = place.policy
        # Chosen (the routing rules are evaluated) when the request is made, and frozen into it.
        flow = self._flow(place, plan, actor, len(plan.mappings), self.clock())
        # The form's check moments ago asked the same: its answers are remembered (bot.workflow.cached).
        problems, facts = await check_live(place.ddm, plan)
        if problems or facts is None:
            raise _plan_refusal(problems[0] if problems else PlanProblem(TARGET, "DDM could not confirm the plan."))
        now = self.clock()
        try:
            return await self.store.create(
                plan=named_by_ddm(plan, facts),
                requester_id=requester_id,
                channel_id=channel_id,
                required_approvals=flow.total_required,
                now=now,
                expires_at=now + policy.ttl,
                review=policy.urgent.review() if plan.urgent_incident and policy.urgent else None,
                flow=flow,
            )
        except TargetBusy as busy:
            raise _busy(plan, busy.holder) from None

    async def approve(self, request_id: str, user_id: str) -> None:
        request = await self._get(request_id)
        policy = self.places.policy_of(request)
        actor = await self.directory.actor(user_id)
        now = self.clock()
        if (refusal := policy.can_approve(actor, request, now)) is not None:
            raise refusal
        stage = policy.current_stage(request) or 1
        outcome = await self.store.approve(
            request_id,
            user_id=user_id,
            fingerprint=request.fingerprint,
            now=now,
            stage=stage,
            params=policy.stage_notice(stage) or None,
        )
        if not outcome.added:
            # Lost a race: the request moved on (or this person's first click already counted).
            raise policy.can_approve(actor, outcome.request, now) or Refusal(
                "not_counted", f"{request_id} is no longer awaiting approval."
            )
        if outcome.approved:
            try:
                await self._submit(outcome.request)
            except StoreUnavailable:
                # The approval counted and is recorded: the clicker must not hear "nothing was recorded". The
                # request waits as APPROVED (or SUBMITTING) for the sweeper, and its thread tells what happens.
                log.warning("submitting %s after its approval: the database is unavailable", request_id)

    async def check_reject(self, request_id: str, user_id: str) -> None:
        request = await self._get(request_id)
        actor = await self.directory.actor(user_id)
        if (refusal := self.places.policy_of(request).can_reject(actor, request, self.clock())) is not None:
            raise refusal

    async def reject(self, request_id: str, user_id: str, reason: str) -> None:
        await self._decide(request_id, user_id, Event.REJECT, reason)

    async def cancel(self, request_id: str, user_id: str) -> None:
        await self._decide(request_id, user_id, Event.CANCEL, None)

    async def _decide(self, request_id: str, user_id: str, event: Event, note: str | None) -> None:
        request = await self._get(request_id)
        actor = await self.directory.actor(user_id)
        policy = self.places.policy_of(request)
        check = policy.can_reject if event is Event.REJECT else policy.can_cancel
        if (refusal := check(actor, request, self.clock())) is not None:
            raise refusal
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
            raise Refusal("not_pending", f"{request_id} is already {state}; nothing to decide.")

    async def review(self, request_id: str, user_id: str) -> None:
        request = await self._get(request_id)
        if (refusal := can_review(await self.directory.actor(user_id), request)) is not None:
            raise refusal
        if await self.store.reviews.mark_reviewed(request_id, user_id=user_id, now=self.clock()) is None:
            latest = await self.store.get(request_id)
            raise can_review(await self.directory.actor(user_id), latest or request) or Refusal(
                "not_counted", f"{request_id}'s review was already recorded."
            )

    async def nudge(self, request_id: str, user_id: str) -> None:
        request = await self._get(request_id)
        policy = self.places.policy_of(request)
        actor, now = await self.directory.actor(user_id), self.clock()
        if (refusal := policy.can_nudge(actor, request, now)) is not None:
            raise refusal
        params = nudge_params(policy, request, now)
        assert policy.reminders is not None and params is not None  # can_nudge: reminders, and a pending stage
        if (
            await self.store.reminders.nudge(
                request_id, user_id=user_id, cooldown=policy.reminders.nudge_cooldown, params=params, now=now
            )
            is None
        ):
            latest = await self.store.get(request_id)
            raise policy.can_nudge(actor, latest or request, self.clock()) or Refusal(
                "not_counted", f"{request_id} was nudged moments ago."
            )

    async def _get(self, request_id: str) -> RestoreRequest:
        request = await self.store.get(request_id)
        if request is None:
            raise _unknown(request_id)
        return request

    async def remind_overdue_reviews(self) -> list[str]:
        """One reminder (thread and DMs to the reviewers) for each review past its time; returns their ids."""
        reminded: list[str] = []
        for request_id in await self.store.reviews.overdue(self.clock()):
            if await self.store.reviews.remind(request_id, now=self.clock()) is not None:
                reminded.append(request_id)
        return reminded

    async def freeze_flows(self) -> list[str]:
        """Freeze its environment's stages, as they are now, into each pending request made before flows were
        frozen (revision 0010); returns their ids. Run when the bot starts: from then on a configuration change
        reaches none of them."""
        frozen: list[str] = []
        for request in await self.store.in_states([RequestState.PENDING]):
            place = self.places.for_plan(request.plan) or self.places.for_channel(request.channel_id)
            if request.flow is not None or place is None:
                continue
            flow = replace(place.policy.for_request(request).flow, backfilled=True)
            if await self.store.freeze_flow(request.id, flow, now=self.clock()) is not None:
                log.info(
                    "froze the approval flow of %s, made before flows were frozen: %s", request.id, flow.describe()
                )
                frozen.append(request.id)
        return frozen

    async def expire_due(self) -> list[str]:
        """Expire every pending request whose time is up; returns their ids."""
        expired: list[str] = []
        for request_id in await self.store.due_for_expiry(self.clock()):
            if await self.store.transition(request_id, Event.EXPIRE, actor=SYSTEM, now=self.clock()) is not None:
                expired.append(request_id)
        return expired

    async def standing(self, user_id: str, channel_id: str) -> Standing:
        return self.places.environments.standing(await self.directory.actor(user_id), channel_id)

    async def find(self, reference: str) -> RestoreRequest | None:
        request_id = normalise_request_id(reference)
        if request_id:
            found = await self.store.get(request_id)
            if found:
                return found
        return await self.store.find_by_job_id(reference.strip())

    async def recent(self, limit: int = 10, *, channel_id: str | None = None) -> list[RestoreRequest]:
        return await self.store.recent(limit, channel_id=channel_id)

    async def history(self, days: int, *, channel_ids: Collection[str] | None, page: int = 1) -> RequestPage:
        if not 1 <= days <= STATS_DAYS_MAX:
            raise Refusal("history_days", f"Give a number of days from 1 to {STATS_DAYS_MAX}, not {days}.")
        if page < 1:
            raise Refusal("history_page", f"Pages are numbered from 1, not {page}.")
        return await self.store.made_since(
            self.clock() - timedelta(days=days),
            channel_ids=channel_ids,
            limit=HISTORY_PAGE_SIZE,
            offset=(page - 1) * HISTORY_PAGE_SIZE,
        )

    async def stats(self, days: int) -> list[EnvironmentStats]:
        if not 1 <= days <= STATS_DAYS_MAX:
            raise Refusal("stats_days", f"Give a number of days from 1 to {STATS_DAYS_MAX}, not {days}.")
        return stats_by_environment(await self.store.finished_since(self.clock() - timedelta(days=days)))


def _facts(
    source: NamedRef, target: NamedRef, restore_time_ms: int, data_nodes: int, actor: Actor, now: datetime
) -> RequestFacts:
    return RequestFacts(
        source_id=source.id,
        source_name=source.name,
        target_id=target.id,
        target_name=target.name,
        restore_time=datetime_of(restore_time_ms),
        data_nodes=data_nodes,
        requester_id=actor.user_id,
        requester_group_ids=actor.group_ids,
        now=now,
    )
