"""Step 2 submitted (data node mapping, reason): every check that can refuse the request runs before the modal
closes (Slack's 3 s); the request itself is created in the background."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.errors import Refusal
from bot.restore.checks import PlanProblem
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.policy import FLOW
from bot.slack import payloads
from bot.slack.answers import spawn_answering
from bot.slack.blocks import (
    DN_MAP_PREFIX,
    DN_TARGET_ACTION,
    REASON_BLOCK,
    FormOutOfDate,
    Step2Meta,
    out_of_date_view,
)
from bot.slack.blocks.escaping import escape, guard
from bot.slack.blocks.ids import INCIDENT_BLOCK, URGENT_BLOCK, URGENT_VALUE
from bot.slack.blocks.modal import REASON_LIMIT
from bot.slack.deps import Deps
from bot.slack.listeners.views.step1 import SLOW
from bot.workflow.forms import check_request


async def request_submitted(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    view = payloads.view(body)
    user_id = payloads.user_id(body)
    try:
        meta = Step2Meta.load(str(view.get("private_metadata") or ""))
    except FormOutOfDate:
        await ack(response_action="update", view=out_of_date_view())
        return
    plan, errors = _plan_from_step2(deps, meta, payloads.state_values(view))
    first_block = next(iter(f"{DN_MAP_PREFIX}{sid}" for sid in meta.source_nodes), REASON_BLOCK)
    if errors or plan is None:
        await ack(response_action="errors", errors=errors or {first_block: "Choose the data node mapping."})
        return
    try:
        problems = await asyncio.wait_for(
            check_request(deps.desk, plan, requester_id=user_id, channel_id=meta.channel_id),
            deps.check_budget_seconds,
        )
    except TimeoutError:
        await ack(response_action="errors", errors={first_block: SLOW})
        return
    if problems:
        await ack(response_action="errors", errors=_errors_on_blocks(problems, meta, first_block))
        return
    await ack(response_action="clear")

    async def tell(text: str) -> None:
        await deps.notifier.tell(user_id, meta.channel_id, text)

    spawn_answering(deps.tasks, _create(deps, plan, user_id, meta.channel_id), name="create request", tell=tell)


def _plan_from_step2(deps: Deps, meta: Step2Meta, values: dict[str, Any]) -> tuple[RestorePlan | None, dict[str, str]]:
    errors: dict[str, str] = {}
    mappings: list[DataNodeMapping] = []
    used: dict[str, str] = {}
    for source_id, source_name in meta.source_nodes.items():
        block = f"{DN_MAP_PREFIX}{source_id}"
        chosen = payloads.selected(values, block, DN_TARGET_ACTION)
        if not chosen:
            errors[block] = f"Choose a target data node for {source_name}."
            continue
        target_id, target_name = chosen[0], chosen[1].rsplit(" (", 1)[0]
        if target_id in used:
            errors[block] = f"{target_name} is already the target of {used[target_id]}; use each target once."
            continue
        used[target_id] = source_name
        mappings.append(
            DataNodeMapping(
                source=NamedRef(id=source_id, name=source_name), target=NamedRef(id=target_id, name=target_name)
            )
        )
    if errors:
        return None, errors
    reason = payloads.text_value(values, REASON_BLOCK)
    if len(reason) > REASON_LIMIT:
        return None, {REASON_BLOCK: f"Keep the reason to {REASON_LIMIT} characters (this one has {len(reason)})."}
    urgent_incident = ""
    if URGENT_BLOCK in values and _checked(values, URGENT_BLOCK):
        urgent_incident = payloads.text_value(values, INCIDENT_BLOCK)[:100] if INCIDENT_BLOCK in values else ""
        if not urgent_incident:
            return None, {INCIDENT_BLOCK: "An urgent request needs the incident reference (e.g. INC-9001)."}
    try:
        plan = deps.desk.new_plan(
            source=NamedRef(id=meta.source[0], name=meta.source[1]),
            target=NamedRef(id=meta.target[0], name=meta.target[1]),
            restore_time_ms=meta.restore_time_ms,
            mappings=tuple(mappings),
            reason=reason,
            channel_id=meta.channel_id,
            urgent_incident=urgent_incident,
        )
    except Refusal as refused:  # the channel is in no environment (any more)
        return None, {REASON_BLOCK: refused.message}
    return plan, {}


def _checked(values: dict[str, Any], block: str) -> bool:
    chosen = payloads.element(values, block).get("selected_options") or []
    if not isinstance(chosen, list):
        raise payloads.BadPayload(f"the options of {block} are not a list")
    return any(isinstance(each, dict) and each.get("value") == URGENT_VALUE for each in chosen)


def _errors_on_blocks(problems: list[PlanProblem], meta: Step2Meta, fallback: str) -> dict[str, str]:
    present = {f"{DN_MAP_PREFIX}{sid}" for sid in meta.source_nodes} | {REASON_BLOCK}
    errors: dict[str, str] = {}
    for problem in problems:
        if problem.field == FLOW:  # a routing rule refuses the request: nothing to go back for
            errors[REASON_BLOCK] = problem.message
            continue
        block = problem.field if problem.field in present else fallback
        prefix = "" if problem.field in present else "Go back: "
        errors[block] = (errors[block] + " " if block in errors else "") + prefix + problem.message
    return errors


async def _create(deps: Deps, plan: RestorePlan, user_id: str, channel_id: str) -> None:
    try:
        await deps.desk.create(plan, requester_id=user_id, channel_id=channel_id)
    except Refusal as refused:
        said = escape(refused.message) if refused.quotes_ddm else guard(refused.message)
        await deps.notifier.tell(user_id, channel_id, f"Your restore request was not created: {said}")
