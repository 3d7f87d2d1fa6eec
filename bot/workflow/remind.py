"""Never waiting in silence: the reminders and escalations of pending requests, and the requester's nudge.

The sweeper asks `send_due` on every pass; the schedule (bot.restore.reminders) says what is due from the frozen
flow, the stage's start and what was sent, and the store writes each due notice with its record of having been
sent, once across replicas. Nothing is sent for a request that is not pending, and a stage that moved on stops
its reminders at once (the store checks the stage under the request's lock).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.ports import RequestRepository
from bot.restore.notices import ParamValue
from bot.restore.policy import ApprovalPolicy
from bot.restore.reminders import Due, Kind, ReminderRule, due, stage_started
from bot.restore.request import RequestState, RestoreRequest
from bot.workflow.places import Places


class Reminders:
    def __init__(self, *, store: RequestRepository, places: Places, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.places = places
        self.clock = clock

    async def send_due(self) -> list[str]:
        """Record every reminder and escalation due now ("reminder 2 of stage 1 of R-…"); returns their keys."""
        sent: list[str] = []
        for request in await self.store.in_states([RequestState.PENDING]):
            policy = self.places.policy_of(request)
            if policy.reminders is None:
                continue
            started = stage_started(policy.stage_rule, request.approvals, request.created_at)
            if started is None:
                continue
            stage, since = started
            now = self.clock()
            # An escalation and a reminder may both be due: each is recorded on its own.
            for _ in range(2):
                next_due = due(policy.reminders, stage, since, request.reminders, now)
                if next_due is None or request.expires_at <= now:
                    break
                params = _params(policy, policy.reminders, next_due, since, now)
                changed = await self.store.reminders.remind(
                    request.id, next_due, rule=policy.reminders, params=params, now=now
                )
                if changed is None:
                    break  # another replica sent it, or the stage moved on meanwhile
                sent.append(f"{next_due.key} of {request.id}")
                request = changed
        return sent

    async def next_due(self) -> datetime | None:
        """When the next reminder or escalation of a pending request falls due (the sweeper wakes then)."""
        now = self.clock()
        soonest: datetime | None = None
        for request in await self.store.in_states([RequestState.PENDING]):
            policy = self.places.policy_of(request)
            started = stage_started(policy.stage_rule, request.approvals, request.created_at)
            if policy.reminders is None or started is None:
                continue
            at = now + policy.reminders.next_after(now - started[1])
            soonest = at if soonest is None else min(soonest, at)
        return soonest


def nudge_params(policy: ApprovalPolicy, request: RestoreRequest, now: datetime) -> dict[str, ParamValue] | None:
    """What a nudge of the request's current stage says and whom it mentions; None when no stage waits."""
    started = stage_started(policy.stage_rule, request.approvals, request.created_at)
    if started is None:
        return None
    stage, since = started
    return {"stage": stage, **_params(policy, None, Due(stage, Kind.REMINDER), since, now)}


def _params(
    policy: ApprovalPolicy, rule: ReminderRule | None, next_due: Due, since: datetime, now: datetime
) -> dict[str, ParamValue]:
    """Whom the notice mentions and DMs (the stage's approvers; the escalation's people), and what it says."""
    stage = policy.stage_list[next_due.stage - 1]
    if next_due.kind is Kind.ESCALATION and rule is not None:
        users, groups = rule.escalate_user_ids, rule.escalate_group_ids
    else:
        users, groups = stage.approver_user_ids, stage.approver_group_ids
    return {
        "stage_name": stage.name or None,
        "waited_min": int((now - since).total_seconds() // 60),
        "users": ",".join(sorted(users)),
        "groups": ",".join(sorted(groups)),
    }


def waiting_on(request: RestoreRequest, policy: ApprovalPolicy, now: datetime) -> str:
    """ "waiting 47 min on DBA lead", then "· escalated to <!subteam^S0ONCALL>" once it was, while pending (the
    card's mrkdwn: the stage name comes from the configuration file and is escaped); "" otherwise."""
    if request.state is not RequestState.PENDING:
        return ""
    started = stage_started(policy.stage_rule, request.approvals, request.created_at)
    if started is None:
        return ""
    stage, since = started
    minutes = max(0, int((now - since).total_seconds() // 60))
    name = policy.stage_list[stage - 1].name
    text = f"waiting {minutes} min on {_escaped(name)}" if name else f"waiting {minutes} min"
    if (escalated := request.escalated_to) is not None:
        users, groups = escalated
        who = [f"<@{u}>" for u in sorted(users)] + [f"<!subteam^{g}>" for g in sorted(groups)]
        text += f" · escalated to {', '.join(who)}"
    return text


def _escaped(text: str) -> str:
    """Slack's three control characters (the card's escaping, without reaching into the Slack layer)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
