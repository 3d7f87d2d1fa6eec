"""ApprovalPolicy: who may request, approve, reject and cancel — decided from facts, never from I/O.

The workflow resolves the facts about a person (guest or not, which configured groups they belong to) and asks
the policy; its answer is None or a Refusal (bot.errors) carrying the sentence shown to that person, which the
workflow raises.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.errors import Refusal
from bot.restore.flow import Flow, describe_who, join_or
from bot.restore.flow import Stage as Stage  # where it was first defined
from bot.restore.notices import ParamValue
from bot.restore.reminders import ReminderRule
from bot.restore.request import RequestState, RestoreRequest
from bot.restore.review import Review
from bot.restore.rules import RequestFacts, Rule, first_match
from bot.restore.stages import StageRule

# The form's field a routing rule's refusal is shown on (step 2's "This request needs" line).
FLOW = "flow"


@dataclass(frozen=True)
class Actor:
    user_id: str
    is_guest: bool = False
    group_ids: frozenset[str] = frozenset()  # the configured groups this person belongs to


@dataclass(frozen=True)
class UrgentRule:
    """The break-glass path: only these approvers, then a follow-up review by the reviewers."""

    approver_user_ids: frozenset[str] = frozenset()
    approver_group_ids: frozenset[str] = frozenset()
    required: int = 1
    review_within: timedelta = timedelta(hours=24)
    reviewer_user_ids: frozenset[str] = frozenset()
    reviewer_group_ids: frozenset[str] = frozenset()

    def review(self) -> Review:
        """The follow-up review an urgent request gets when it is made."""
        return Review(self.review_within, self.reviewer_user_ids, self.reviewer_group_ids)


@dataclass(frozen=True)
class ApprovalPolicy:
    approver_user_ids: frozenset[str] = frozenset()
    approver_group_ids: frozenset[str] = frozenset()
    required_approvals: int = 1
    allow_self_approval: bool = False
    ttl: timedelta = timedelta(minutes=60)
    requester_user_ids: frozenset[str] = frozenset()
    requester_group_ids: frozenset[str] = frozenset()
    allowed_channel_ids: frozenset[str] = frozenset()
    # Named stages in order (a configuration file's); empty: one stage, the approvers above.
    stages: tuple[Stage, ...] = ()
    urgent: UrgentRule | None = None
    # Routing rules (bot.restore.rules): first match chooses the flow among the stages above, or refuses.
    rules: tuple[Rule, ...] = ()
    # Never waiting in silence (bot.restore.reminders): None, no reminders.
    reminders: ReminderRule | None = None

    @property
    def groups_to_resolve(self) -> frozenset[str]:
        groups = self.approver_group_ids | self.requester_group_ids
        for stage in self.stages:
            groups |= stage.approver_group_ids
        for rule in self.rules:
            groups |= rule.when.requester_group_ids
        if self.urgent is not None:
            groups |= self.urgent.approver_group_ids | self.urgent.reviewer_group_ids
        if self.reminders is not None:
            groups |= self.reminders.escalate_group_ids
        return groups

    def describe_approvers(self) -> str:
        if self.stages:
            users = frozenset().union(*(stage.approver_user_ids for stage in self.stages))
            groups = frozenset().union(*(stage.approver_group_ids for stage in self.stages))
            return describe_who(users, groups)
        return describe_who(self.approver_user_ids, self.approver_group_ids)

    def is_approver(self, actor: Actor) -> bool:
        """An approver of any stage."""
        return bool(self._stages_of(actor))

    def can_request(self, actor: Actor, channel_id: str) -> Refusal | None:
        if self.allowed_channel_ids and channel_id not in self.allowed_channel_ids:
            channels = ", ".join(f"<#{cid}>" for cid in sorted(self.allowed_channel_ids))
            return Refusal("channel_not_allowed", f"Restore requests can only be made in {channels}.")
        if actor.is_guest:
            return Refusal("guest", "Guests can't request restores.")
        if self.requester_user_ids or self.requester_group_ids:
            allowed = actor.user_id in self.requester_user_ids or bool(actor.group_ids & self.requester_group_ids)
            if not allowed:
                who = [f"<@{u}>" for u in sorted(self.requester_user_ids)]
                who += [f"members of <!subteam^{g}>" for g in sorted(self.requester_group_ids)]
                return Refusal("not_requester", f"Only {join_or(who)} can request restores.")
        return None

    def for_request(self, request: RestoreRequest) -> ApprovalPolicy:
        """The rules a request is decided by: its frozen flow's approvers (bot.restore.flow), whatever the
        configuration says now. A request from before frozen flows: an urgent one (where allowed) needs only the
        urgent approvers, any other the environment's stages."""
        if request.flow is not None:
            return self.with_flow(request.flow)
        if request.plan.urgent_incident and self.urgent is not None:
            return self.urgent_policy()
        return self

    def with_flow(self, flow: Flow) -> ApprovalPolicy:
        """This environment's rules, with `flow`'s stages and approvers."""
        first = flow.stages[0]
        return replace(
            self,
            approver_user_ids=first.approver_user_ids,
            approver_group_ids=first.approver_group_ids,
            required_approvals=first.required,
            stages=flow.stages if flow.named else (),
            rules=(),
        )

    # ---- which flow a new request gets ----------------------------------------------------------------------

    @property
    def flow(self) -> Flow:
        """The environment's own flow: every stage, in order (no rule chose it)."""
        return Flow(self.stage_list)

    def urgent_flow(self) -> Flow:
        return self.urgent_policy().flow

    def route(self, facts: RequestFacts) -> Flow | Refusal:
        """The flow a new (not urgent) request gets: the first routing rule that holds chooses it, or refuses the
        request (field "flow"); none holds: the environment's stages."""
        rule = first_match(self.rules, facts)
        if rule is None:
            return self.flow
        if rule.refuse:
            return Refusal("rule_refused", rule.refuse, field=FLOW, quotes_ddm=True)
        by_name = {stage.name: stage for stage in self.stages}
        return Flow(tuple(by_name[name] for name in rule.flow), rule=rule.name)

    def urgent_policy(self) -> ApprovalPolicy:
        assert self.urgent is not None
        return replace(
            self,
            approver_user_ids=self.urgent.approver_user_ids,
            approver_group_ids=self.urgent.approver_group_ids,
            required_approvals=self.urgent.required,
            stages=(),
        )

    # ---- stages ---------------------------------------------------------------------------------------------

    @property
    def stage_list(self) -> tuple[Stage, ...]:
        """The stages in order; without named stages, one made of the approvers above."""
        if self.stages:
            return self.stages
        return (Stage("", self.approver_user_ids, self.approver_group_ids, self.required_approvals),)

    @property
    def total_required(self) -> int:
        return sum(stage.required for stage in self.stage_list)

    @property
    def stage_rule(self) -> StageRule:
        return StageRule(tuple(stage.required for stage in self.stage_list))

    def current_stage(self, request: RestoreRequest) -> int | None:
        """The 1-based number of the first stage still short of approvals; None when all are complete."""
        return self.stage_rule.current(request.approvals)

    def stage_notice(self, stage: int) -> dict[str, ParamValue]:
        """What the thread's approval notice says of named stages: this one, and who comes next."""
        if not self.stages:
            return {}
        following = self.stages[stage] if stage < len(self.stages) else None
        return {
            "stage_name": self.stages[stage - 1].name,
            "next_stage_name": following.name if following else None,
            "next_approvers": (
                describe_who(following.approver_user_ids, following.approver_group_ids) if following else None
            ),
        }

    def stage_header(self, request: RestoreRequest) -> str:
        """ "stage 2 of 2" while pending with named stages; "" otherwise."""
        current = self.current_stage(request)
        if not self.stages or current is None:
            return ""
        return f"stage {current} of {len(self.stages)}"

    def stage_lines(self, request: RestoreRequest) -> str:
        """ "✅ DBA lead — <@bob>   ⏳ Service owner — waiting for <@owner> (0/1)", then "— rule *old restore point*"
        when a routing rule chose them; "" without named stages. The names are the configuration file's."""
        if not self.stages:
            return ""
        parts = []
        for number, stage in enumerate(self.stages, start=1):
            done = request.approvals_in(number)
            who = ", ".join(f"<@{a.user_id}>" for a in done)
            if len(done) >= stage.required:
                parts.append(f"✅ {stage.name} — {who}")
            else:
                waiting = describe_who(stage.approver_user_ids, stage.approver_group_ids)
                parts.append(f"⏳ {stage.name} — waiting for {waiting} ({len(done)}/{stage.required})")
        rule = request.flow.rule if request.flow is not None else ""
        return "   ".join(parts) + (f"   — rule *{rule}*" if rule else "")

    def approvable_stages(self, actor: Actor) -> tuple[Stage, ...]:
        """The stages this person may approve in (in order; a guest in none): the environment's stages, of which a
        routing rule chooses some for each request."""
        if actor.is_guest:
            return ()
        return tuple(self.stage_list[number - 1] for number in self._stages_of(actor))

    def is_urgent_approver(self, actor: Actor) -> bool:
        """May this person approve on the urgent (break-glass) path?"""
        u = self.urgent
        return (
            u is not None
            and not actor.is_guest
            and (actor.user_id in u.approver_user_ids or bool(actor.group_ids & u.approver_group_ids))
        )

    def _stages_of(self, actor: Actor) -> list[int]:
        return [
            number
            for number, stage in enumerate(self.stage_list, start=1)
            if actor.user_id in stage.approver_user_ids or actor.group_ids & stage.approver_group_ids
        ]

    def can_approve(self, actor: Actor, request: RestoreRequest, now: datetime) -> Refusal | None:
        if (refusal := _still_pending(request, now)) is not None:
            return refusal
        if actor.is_guest:
            return Refusal("guest", "Guests can't approve restores.")
        if actor.user_id == request.requester_id and not self.allow_self_approval:
            return Refusal("self_approval", "You can't approve your own request.")
        mine = self._stages_of(actor)
        current = self.current_stage(request)
        if current is not None and _escalated_to(actor, request):
            mine.append(current)  # the stage was escalated to them (stored with the request: every replica agrees)
        if not mine:
            return Refusal("not_approver", f"Only {self.describe_approvers()} can approve.")
        if actor.user_id in request.approver_ids:  # a person counts in one stage only
            return Refusal(
                "already_approved",
                f"You already approved {request.id} ({len(request.approvals)}/{request.required_approvals}).",
            )
        if current is None or current in mine:
            return None
        stage = self.stage_list[current - 1]
        if all(number > current for number in mine):
            return Refusal(
                "not_your_turn",
                f"Stage {current} ({stage.name}) comes first; you'll be mentioned when it's your turn.",
            )
        return Refusal(
            "stage_complete", f"Your stage is already complete; it is stage {current}'s turn ({stage.name})."
        )

    def can_reject(self, actor: Actor, request: RestoreRequest, now: datetime) -> Refusal | None:
        if (refusal := _still_pending(request, now)) is not None:
            return refusal
        if actor.user_id == request.requester_id:
            return Refusal("own_request", "This is your own request: use Cancel instead of Reject.")
        if actor.is_guest or not self.is_approver(actor):
            return Refusal("not_approver", f"Only {self.describe_approvers()} can reject.")
        return None

    def can_nudge(self, actor: Actor, request: RestoreRequest, now: datetime) -> Refusal | None:
        """The requester's [Nudge]: where reminders are set up, while pending, once per cooldown."""
        if self.reminders is None:
            return Refusal("no_reminders", "Nudges are not set up where this request was made.")
        if (refusal := _still_pending(request, now)) is not None:
            return refusal
        if actor.user_id != request.requester_id:
            return Refusal("not_requester", f"Only <@{request.requester_id}>, who made {request.id}, can nudge it.")
        cooldown = self.reminders.nudge_cooldown
        if request.nudged_at is not None and now < request.nudged_at + cooldown:
            wait = max(1, int((request.nudged_at + cooldown - now).total_seconds() // 60) + 1)
            return Refusal(
                "nudge_cooldown", f"You nudged the approvers of {request.id} moments ago; try again in {wait} min."
            )
        return None

    def can_cancel(self, actor: Actor, request: RestoreRequest, now: datetime) -> Refusal | None:
        if (refusal := _still_pending(request, now)) is not None:
            return refusal
        if actor.user_id != request.requester_id:
            return Refusal("not_requester", f"Only <@{request.requester_id}>, who made {request.id}, can cancel it.")
        return None


def _escalated_to(actor: Actor, request: RestoreRequest) -> bool:
    escalated = request.escalated_to
    if escalated is None or actor.is_guest:
        return False
    users, groups = escalated
    return actor.user_id in users or bool(actor.group_ids & groups)


def can_review(actor: Actor, request: RestoreRequest) -> Refusal | None:
    """May this person mark the follow-up review of an urgent request done?"""
    review = request.review
    if review is None:
        return Refusal("no_review", f"{request.id} was no urgent request; it needs no follow-up review.")
    if review.due_at is None:
        return Refusal("not_due", f"{request.id} has not ended yet; its review comes after.")
    if review.reviewed_at is not None:
        return Refusal("already_reviewed", f"{request.id} was already reviewed by <@{review.reviewed_by}>.")
    if actor.is_guest or not (actor.user_id in review.user_ids or actor.group_ids & review.group_ids):
        return Refusal("not_reviewer", f"Only {describe_who(review.user_ids, review.group_ids)} can review it.")
    return None


def _still_pending(request: RestoreRequest, now: datetime) -> Refusal | None:
    if request.state is RequestState.PENDING and now >= request.expires_at:
        return Refusal("expired", f"{request.id} already expired.")
    if request.state is not RequestState.PENDING:
        return Refusal("not_pending", f"{request.id} is already {request.state.value.lower()}; nothing to decide.")
    return None
